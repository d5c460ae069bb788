// Rulebook editor: add label rows from the formset's empty form, and keep the numbering right.
const container = document.getElementById("label-forms");
const template = document.getElementById("empty-label-form");
const total = document.getElementById("id_labels-TOTAL_FORMS");

function renumber() {
  container.querySelectorAll("[data-label-form]").forEach((fieldset, i) => {
    const number = fieldset.querySelector("[data-label-number]");
    if (number) number.textContent = String(i + 1);
  });
}

document.getElementById("add-label").addEventListener("click", () => {
  const index = Number(total.value);
  const html = template.innerHTML.replaceAll("__prefix__", String(index));
  container.insertAdjacentHTML("beforeend", html);
  total.value = String(index + 1);
  renumber();
  const added = container.lastElementChild;
  const palette = document.getElementById("rulebook-form").dataset.palette.split(",");
  const color = added.querySelector("input[name$='-color']");
  if (color) color.value = palette[index % palette.length];
  added.querySelector("input[name$='-key']")?.focus();
});

renumber();
