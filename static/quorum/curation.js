// The curation page: "select all on this page" for the bulk bar.
const all = document.getElementById("select-all");
if (all) {
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll('input[name="items"][form="bulk"]')) box.checked = all.checked;
  });
}
