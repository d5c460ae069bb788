// Import progress: poll the job's API while it runs, then reload once to show every row.
const box = document.getElementById("import-job");
const STATUS = { pending: "Pending", running: "Running", done: "Done", failed: "Failed" };

function set(field, value) {
  const el = box.querySelector(`[data-field="${field}"]`);
  if (el) el.textContent = value;
}

async function poll() {
  const response = await fetch(box.dataset.api, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const job = await response.json();
  for (const name of ["total", "created", "skipped", "failed"]) set(name, job[name]);
  set("status", STATUS[job.status] ?? job.status);
  if (job.status === "done" || job.status === "failed") {
    window.location.reload();
    return;
  }
  setTimeout(poll, 1000);
}

if (box && box.dataset.finished !== "1") setTimeout(poll, 500);
