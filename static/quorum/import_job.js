// Import progress, live: the job's events ("import.progress", after each batch commits) update
// the counts as they happen; the job's API is also asked every few seconds, in case the socket is
// down. When the job ends, the page reloads once to show every row.
const box = document.getElementById("import-job");
const STATUS = { pending: "Pending", running: "Running", done: "Done", failed: "Failed" };
let finished = false;

function set(field, value) {
  const el = box.querySelector(`[data-field="${field}"]`);
  if (el) el.textContent = value;
}

function show(job) {
  if (finished) return;
  for (const name of ["total", "created", "skipped", "failed"]) set(name, job[name]);
  set("status", STATUS[job.status] ?? job.status);
  if (job.status === "done" || job.status === "failed") {
    finished = true;
    window.location.reload();
  }
}

async function poll() {
  try {
    const response = await fetch(box.dataset.api, { headers: { Accept: "application/json" } });
    if (response.ok) show(await response.json());
  } catch { /* try again */ }
  if (!finished) setTimeout(poll, 3000);
}

if (box && box.dataset.finished !== "1") {
  document.addEventListener("quorum:event", (event) => {
    if (event.detail.type === "import.progress" && String(event.detail.job) === box.dataset.job) show(event.detail);
  });
  setTimeout(poll, 500);
}
