// The labeling page: one item at a time, answered by keyboard, the next one already fetched.
// Every answer is one request: the vote's response carries the item after the prefetched one.

const config = JSON.parse(document.getElementById("label-config").textContent);
const root = document.getElementById("labeler");
const $ = (id) => document.getElementById(id);
const api = `/api/projects/${config.slug}`;

const state = {
  current: null, // {item, expires_at, rulebook_version}
  prefetched: null,
  filling: null, // the prefetch request in flight
  selected: new Set(),
  shownAt: 0,
  lastVote: null, // {clientId, itemId} of the last vote, for undo
  busy: false,
  blocked: false, // rulebook changed: nothing more until reload
  progress: { today: 0, left: 0 },
};

// --- requests ------------------------------------------------------------------------------

function newId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `The server answered ${status}.`);
    this.status = status;
    this.code = body?.code;
    this.body = body;
  }
}

async function call(method, path, body, { retries = 2 } = {}) {
  // Network failures are retried with the same body (votes carry their client_id, so a
  // retried vote is stored once); answers from the server are not.
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(api + path, {
        method,
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      if (attempt < retries) {
        await new Promise((r) => setTimeout(r, 400 * (attempt + 1)));
        continue;
      }
      throw new ApiError(0, { detail: "The server cannot be reached. Check your connection; your answer is kept on this page." });
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
}

// --- showing an item --------------------------------------------------------------------------

const image = $("item-image");
const text = $("item-text");
const stage = $("stage");
const view = { scale: 1, x: 0, y: 0 };

function notice(message, { action, onAction, kind = "info" } = {}) {
  const box = $("notice");
  box.replaceChildren();
  if (!message) {
    box.hidden = true;
    return;
  }
  box.className = `notice ${kind}`;
  const span = document.createElement("span");
  span.textContent = message;
  box.append(span);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action;
    button.addEventListener("click", onAction);
    box.append(" ", button);
  }
  box.hidden = false;
}

function applyView() {
  image.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
}

function fit() {
  const w = image.naturalWidth || 1;
  const h = image.naturalHeight || 1;
  const box = stage.getBoundingClientRect();
  view.scale = Math.min(box.width / w, box.height / h) * 0.98;
  view.x = (box.width - w * view.scale) / 2;
  view.y = (box.height - h * view.scale) / 2;
  applyView();
}

function zoom(factor, cx, cy) {
  const box = stage.getBoundingClientRect();
  const px = cx ?? box.width / 2;
  const py = cy ?? box.height / 2;
  const next = Math.min(40, Math.max(0.05, view.scale * factor));
  view.x = px - ((px - view.x) * next) / view.scale;
  view.y = py - ((py - view.y) * next) / view.scale;
  view.scale = next;
  applyView();
}

stage.addEventListener("wheel", (event) => {
  if (image.hidden) return;
  event.preventDefault();
  const box = stage.getBoundingClientRect();
  zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
}, { passive: false });

let drag = null;
stage.addEventListener("pointerdown", (event) => {
  if (image.hidden) return;
  drag = { x: event.clientX - view.x, y: event.clientY - view.y };
  stage.setPointerCapture(event.pointerId);
});
stage.addEventListener("pointermove", (event) => {
  if (!drag) return;
  view.x = event.clientX - drag.x;
  view.y = event.clientY - drag.y;
  applyView();
});
stage.addEventListener("pointerup", () => { drag = null; });
$("zoombar").addEventListener("click", (event) => {
  const what = event.target.closest("button")?.dataset.zoom;
  if (what === "in") zoom(1.25);
  if (what === "out") zoom(0.8);
  if (what === "fit") fit();
});
window.addEventListener("resize", () => { if (!image.hidden) fit(); });

function preload(assignment) {
  if (assignment?.item.image_url) new Image().src = assignment.item.image_url;
}

function resetAnswer() {
  state.selected.clear();
  $("unsure").checked = false;
  $("note").value = "";
  $("claim-reason").value = "";
  setClaim(false);
  $("answer-error").textContent = "";
  renderSelection();
}

function show(assignment) {
  state.current = assignment;
  resetAnswer();
  $("placeholder").hidden = !!assignment;
  image.hidden = true;
  text.hidden = true;
  $("zoombar").hidden = true;
  $("item-name").textContent = "";
  for (const id of ["submit", "skip"]) $(id).disabled = !assignment;
  if (!assignment) {
    $("placeholder").textContent = "Nothing left to label right now. New items appear here when they are imported.";
    return;
  }
  if (assignment.rulebook_version !== config.rulebookVersion) {
    // Handed out under a rulebook this page does not show: never answer it from here.
    rulebookChanged(assignment.rulebook_version);
    return;
  }
  const item = assignment.item;
  $("item-name").textContent = `· #${item.id}`;
  $("guide-result")?.replaceChildren();
  if (item.kind === "image") {
    image.onload = () => fit();
    image.src = item.image_url;
    image.alt = `Item ${item.id}`;
    image.hidden = false;
    $("zoombar").hidden = false;
    if (image.complete && image.naturalWidth) fit();
  } else {
    text.textContent = item.text; // never innerHTML: item text is user data
    text.hidden = false;
    text.scrollTop = 0;
  }
  state.shownAt = performance.now();
}

function renderProgress() {
  for (const el of document.querySelectorAll("[data-progress]")) {
    el.textContent = String(Math.max(0, state.progress[el.dataset.progress] ?? 0));
  }
}

async function refreshProgress() {
  try {
    state.progress = await call("GET", "/progress/me/");
    renderProgress();
  } catch (err) { /* progress is a nicety; the next refresh will do */ }
}

// --- answering --------------------------------------------------------------------------------

const buttons = new Map(Array.from(document.querySelectorAll(".label-button"), (b) => [b.dataset.key, b]));
const hotkeys = new Map(config.labels.filter((l) => l.hotkey).map((l) => [l.hotkey, l.key]));

function renderSelection() {
  for (const [key, button] of buttons) {
    const on = state.selected.has(key);
    button.classList.toggle("selected", on);
    button.setAttribute("aria-pressed", String(on));
  }
}

function choose(key) {
  if (!state.current) return;
  if (config.multi) {
    if (state.selected.has(key)) state.selected.delete(key);
    else state.selected.add(key);
  } else {
    state.selected.clear();
    state.selected.add(key);
  }
  setClaim(false);
  $("answer-error").textContent = "";
  renderSelection();
}

for (const [key, button] of buttons) button.addEventListener("click", () => choose(key));

function setClaim(on) {
  $("claim-box").hidden = !on;
  $("claim-toggle").setAttribute("aria-expanded", String(on));
  if (on) {
    state.selected.clear();
    renderSelection();
    $("claim-reason").focus();
  }
}

$("claim-toggle").addEventListener("click", () => setClaim($("claim-box").hidden));

function answer() {
  const claiming = !$("claim-box").hidden;
  const chosen = [...state.selected];
  if (!claiming && chosen.length === 0) throw new Error(config.multi ? "Choose at least one label." : "Choose a label first.");
  return {
    value: claiming ? null : config.multi ? chosen : chosen[0],
    claim: claiming ? document.querySelector("input[name=claim]:checked").value : "",
    claim_reason: claiming ? $("claim-reason").value : "",
    unsure: $("unsure").checked,
    note: $("note").value,
  };
}

function rulebookChanged(version, message) {
  state.blocked = true;
  for (const id of ["submit", "skip", "undo"]) $(id).disabled = true;
  notice(message ?? `The rulebook changed to version ${version}. Reload to read it before you answer.`, {
    action: "Reload", onAction: () => window.location.reload(), kind: "warn",
  });
}

function afterRefusal(err) {
  if (err.code === "rulebook_changed") {
    rulebookChanged(null, err.message);
  } else if (["lease_expired", "not_assigned", "already_voted"].includes(err.code)) {
    notice(err.message + " Here is the next item.", { kind: "warn" });
    advance(null);
  } else {
    $("answer-error").textContent = err.message;
  }
}

async function submit() {
  if (state.busy || state.blocked || !state.current) return;
  let body;
  try {
    body = answer();
  } catch (err) {
    $("answer-error").textContent = err.message;
    return;
  }
  state.busy = true;
  await state.filling;
  const item = state.current.item;
  const clientId = newId();
  try {
    const result = await call("POST", "/votes/", {
      item: item.id,
      client_id: clientId,
      time_spent_ms: Math.round(performance.now() - state.shownAt),
      next: { exclude: state.prefetched ? [state.prefetched.item.id] : [] },
      ...body,
    });
    state.lastVote = { clientId, itemId: item.id };
    $("undo").disabled = false;
    state.progress.today += 1;
    state.progress.left -= 1;
    renderProgress();
    notice(null);
    advance(result.next); // not awaited: the prefetch must not hold up the next answer
  } catch (err) {
    afterRefusal(err);
  } finally {
    state.busy = false;
  }
}

function ensurePrefetch() {
  // One prefetch at a time; every request that sends `exclude` waits for it first, so the
  // server is always told which items the page already holds.
  if (!state.filling && state.current && !state.prefetched) {
    const holding = state.current.item.id;
    state.filling = call("POST", "/next/", { exclude: [holding] })
      .then((data) => {
        const next = data.assignment;
        if (next && state.current && next.item.id !== state.current.item.id) {
          state.prefetched = next;
          preload(next);
        }
      })
      .catch(() => { /* the next vote asks again */ })
      .finally(() => { state.filling = null; });
  }
  return state.filling ?? Promise.resolve();
}

async function advance(next) {
  // The prefetched item becomes current; the server's next item becomes the prefetched one.
  if (next && [state.current?.item.id, state.prefetched?.item.id].includes(next.item.id)) next = null;
  const following = state.prefetched;
  state.prefetched = null;
  if (following) {
    show(following);
    state.prefetched = next;
    preload(next);
  } else {
    show(next);
  }
  if (!state.current) {
    await loadFirst();
    return;
  }
  await ensurePrefetch();
}

async function skip() {
  if (state.busy || state.blocked || !state.current) return;
  state.busy = true;
  await state.filling;
  try {
    await call("POST", "/leases/release/", { item: state.current.item.id, skip: true });
    notice("Skipped. It will not be offered to you again.");
    advance(null);
  } catch (err) {
    afterRefusal(err);
  } finally {
    state.busy = false;
  }
}

async function undo() {
  if (state.busy || state.blocked || !state.lastVote) return;
  state.busy = true;
  await state.filling;
  try {
    const result = await call("POST", "/votes/undo/", { client_id: newId(), item: state.lastVote.itemId });
    // The undone item comes back to the front; the one on screen waits as the prefetched one.
    const held = state.prefetched;
    state.prefetched = state.current;
    if (held && held.item.id !== result.assignment.item.id) {
      call("POST", "/leases/release/", { item: held.item.id, skip: false }).catch(() => {});
    }
    show(result.assignment);
    state.lastVote = null;
    $("undo").disabled = true;
    state.progress.today -= 1;
    state.progress.left += 1;
    renderProgress();
    notice("Your last vote was undone: answer this item again.");
  } catch (err) {
    notice(err.message, { kind: "warn" });
    state.lastVote = null;
    $("undo").disabled = true;
  } finally {
    state.busy = false;
  }
}

$("submit").addEventListener("click", submit);
$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);

// --- rulebook panel and decision path -----------------------------------------------------------

const panel = $("rulebook-panel");

function togglePanel(open = panel.hidden) {
  panel.hidden = !open;
  $("rulebook-toggle").setAttribute("aria-expanded", String(open));
  if (!image.hidden) requestAnimationFrame(fit);
}

$("rulebook-toggle")?.addEventListener("click", () => togglePanel());
$("rulebook-close")?.addEventListener("click", () => togglePanel(false));

const guide = { node: null };
const nodes = new Map(config.decisionPath.map((n) => [n.id, n]));
const labelNames = new Map(config.labels.map((l) => [l.key, l.name]));

function guideShow() {
  const question = $("guide-question");
  const done = !guide.node;
  $("guide-yes").disabled = done;
  $("guide-no").disabled = done;
  if (!done) {
    question.textContent = guide.node.question;
    $("guide-result").textContent = "";
  }
}

function guideStart() {
  if (!config.decisionPath.length) return;
  togglePanel(true);
  guide.node = config.decisionPath[0];
  guideShow();
  $("guide").scrollIntoView({ block: "nearest" });
}

function guideAnswer(yes) {
  if (!guide.node) return;
  const target = yes ? guide.node.yes : guide.node.no;
  if (nodes.has(target)) {
    guide.node = nodes.get(target);
    guideShow();
    return;
  }
  guide.node = null;
  guideShow();
  $("guide-question").textContent = "The decision path leads to:";
  $("guide-result").textContent = `${labelNames.get(target) ?? target} — chosen for you; press Enter to submit.`;
  if (config.multi) state.selected.clear();
  choose(target);
}

$("guide-start")?.addEventListener("click", guideStart);
$("guide-restart")?.addEventListener("click", guideStart);
$("guide-yes")?.addEventListener("click", () => guideAnswer(true));
$("guide-no")?.addEventListener("click", () => guideAnswer(false));

// --- keyboard ----------------------------------------------------------------------------------

// A clicked button gives its focus back: Enter submits the answer, it never repeats the click
// (a skip, an undo). Buttons reached with Tab keep their focus and their Enter.
root.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (button && event.detail > 0) button.blur();
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest?.("input[type=text], input:not([type]), textarea");
  if (event.key === "Enter") {
    // A focused action button (skip, undo, …) does its own thing; anything else submits.
    if (event.target.closest?.("button:not(.label-button)")) return;
    event.preventDefault();
    submit();
    return;
  }
  if (event.key === "Escape") {
    if (typing) event.target.blur();
    else if (!$("claim-box").hidden) setClaim(false);
    else togglePanel(false);
    return;
  }
  if (typing) return;
  if (guide.node && (event.key === "y" || event.key === "n")) {
    event.preventDefault();
    guideAnswer(event.key === "y");
    return;
  }
  const commands = {
    S: skip, Z: undo, R: () => togglePanel(), G: guideStart,
    U: () => { $("unsure").checked = !$("unsure").checked; },
    N: () => setClaim($("claim-box").hidden),
    "+": () => zoom(1.25), "-": () => zoom(0.8), "=": fit,
  };
  if (commands[event.key]) {
    event.preventDefault();
    commands[event.key]();
    return;
  }
  const key = hotkeys.get(event.key.toLowerCase());
  if (key && event.key === event.key.toLowerCase()) {
    event.preventDefault();
    choose(key);
  }
});

// --- keeping the leases, and the rulebook changing -------------------------------------------

async function heartbeat() {
  const held = [state.current, state.prefetched].filter(Boolean).map((a) => a.item.id);
  if (!held.length || state.blocked || state.busy) return;
  try {
    const result = await call("POST", "/leases/heartbeat/", { items: held });
    if (state.busy) return; // a vote or skip moved on meanwhile; the next beat will tell
    if (state.prefetched && result.expired.includes(state.prefetched.item.id)) state.prefetched = null;
    if (state.current && result.expired.includes(state.current.item.id)) {
      notice("Your hold on this item expired and it went back to the queue. Here is the next item.", { kind: "warn" });
      advance(null);
    }
  } catch (err) { /* try again at the next beat */ }
}

// Often enough that a background tab, whose timers the browser slows to once a minute, keeps
// its items too.
setInterval(heartbeat, Math.min(60, Math.max(5, config.leaseSeconds / 4)) * 1000);

// An empty queue is asked again now and then: items come back when leases expire or are imported.
setInterval(() => {
  if (!state.current && !state.busy && !state.blocked && config.rulebookVersion) loadFirst();
}, 15_000);

// A hold taken back (a reviewer excluded the item, an admin paused this annotator): drop it and
// move on, saying why, instead of letting a vote fail later.
document.addEventListener("quorum:event", (event) => {
  const message = event.detail;
  if (message.type !== "lease.revoked") return;
  const items = new Set(message.items);
  if (state.prefetched && items.has(state.prefetched.item.id)) state.prefetched = null;
  if (state.current && items.has(state.current.item.id)) {
    notice(`This item was taken back: ${message.reason}`, { kind: "warn" });
    advance(null);
  }
});

document.addEventListener("quorum:rulebook-published", (event) => {
  event.preventDefault();
  if (event.detail.version !== config.rulebookVersion) rulebookChanged(event.detail.version);
});

// --- start -----------------------------------------------------------------------------------

async function loadFirst() {
  try {
    const first = await call("POST", "/next/", { exclude: [] });
    show(first.assignment);
    await ensurePrefetch();
  } catch (err) {
    show(null);
    notice(err.message, { kind: "warn" });
  }
}

if (config.rulebookVersion) {
  loadFirst();
  refreshProgress();
  setInterval(refreshProgress, 60_000);
} else {
  show(null);
}
