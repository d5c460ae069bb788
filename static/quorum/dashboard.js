import { follow } from "./follow.js";

// The project dashboard: draws the snapshot the page was rendered with, then follows the
// project's events without a reload. The counts an event states exactly (a vote cast, an item
// moving from one state to another, a review case opening or closing) are applied at once; and a
// new snapshot is fetched after any event, at most one every two seconds (one more after a
// burst), which brings every chart up to date and corrects any count the events could not.
// Every chart is plain SVG built here; user text (label and annotator names) only ever goes in
// through textContent.
const root = document.getElementById("dashboard");
const SVG = "http://www.w3.org/2000/svg";
const STATE_COLORS = {
  queued: "#9aa8ba", complete: "#6b8fd6", review: "#e0a526", ground_truth: "#2e9c5f", excluded: "#c9574f",
};
const REFRESH_ON = new Set([
  "vote.cast", "vote.undone", "item.decided", "review.changed", "review.claimed", "review.released",
  "consensus.updated", "import.progress", "annotator.suspended", "annotator.reinstated", "rulebook.published",
  "curation.updated", "curation.decided",
]);
const MIN_GAP_MS = 2000;

// Styles go through the CSSOM: the Content-Security-Policy refuses style="" attributes.
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function titled(node, text) {
  node.append(s("title", {}, text));
  return node;
}

const fmt = new Intl.NumberFormat();
const pct = (n, total) => (total ? `${((100 * n) / total).toFixed(1)}%` : "—");

function ago(iso) {
  if (!iso) return "—";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function fill(id, ...children) {
  const box = document.getElementById(id);
  box.replaceChildren(...children);
}

function drawStates(snap) {
  const items = snap.items;
  const boxes = [h("div", { class: "stat" }, h("span", { class: "n", "data-testid": "state-total" }, fmt.format(items.total)), h("span", {}, "items"))];
  for (const st of snap.states) {
    boxes.push(h("div", { class: `stat state-${st.key}` },
      h("span", { class: "n", "data-testid": `state-${st.key}` }, fmt.format(items[st.key] ?? 0)),
      h("span", {}, st.name)));
  }
  boxes.push(h("div", { class: "stat" }, h("span", { class: "n", "data-testid": "votes-total" }, fmt.format(snap.votes.total)), h("span", {}, "votes")));
  boxes.push(h("div", { class: "stat" }, h("span", { class: "n", "data-testid": "review-open" }, fmt.format(snap.review.open)), h("span", {}, "waiting for review")));
  fill("dash-states", ...boxes);
}

function drawProgress(snap) {
  const total = snap.items.total;
  if (!total) {
    fill("dash-progress", h("p", { class: "empty" }, "No items yet."));
    return;
  }
  const svg = s("svg", { viewBox: "0 0 1000 34", width: "100%", height: "34", role: "img", "aria-label": "Items by state", preserveAspectRatio: "none" });
  let x = 0;
  const legend = h("ul", { class: "dash-legend" });
  for (const st of snap.states) {
    const n = snap.items[st.key] ?? 0;
    const w = (1000 * n) / total;
    if (w > 0) svg.append(titled(s("rect", { x, y: 0, width: w, height: 34, fill: STATE_COLORS[st.key] }), `${st.name}: ${fmt.format(n)} (${pct(n, total)})`));
    x += w;
    legend.append(h("li", {}, h("span", { class: "swatch", style: `background:${STATE_COLORS[st.key]}` }), `${st.name} ${fmt.format(n)} · ${pct(n, total)}`));
  }
  fill("dash-progress", svg, legend);
}

function barChart(values, { labels, height = 140, color = "#2f5bd3", title }) {
  const width = 600, pad = 22, top = 8;
  const max = Math.max(1, ...values);
  const bw = (width - pad) / values.length;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title });
  svg.append(s("line", { x1: pad, x2: width, y1: height - 18, y2: height - 18, class: "dash-axis" }));
  svg.append(s("text", { x: 0, y: top + 8, class: "dash-tick" }, fmt.format(max)));
  values.forEach((v, i) => {
    const bh = ((height - 18 - top) * v) / max;
    svg.append(titled(s("rect", { x: pad + i * bw + 1, y: height - 18 - bh, width: Math.max(1, bw - 2), height: bh, fill: color }), `${labels[i]}: ${fmt.format(v)}`));
    if (i % 6 === 0) svg.append(s("text", { x: pad + i * bw, y: height - 4, class: "dash-tick" }, labels[i]));
  });
  return svg;
}

function drawPace(snap) {
  const hours = snap.votes.per_hour;
  const labels = hours.map((p) => new Date(p.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  const sum = hours.reduce((a, p) => a + p.n, 0);
  fill("dash-pace",
    h("p", { class: "muted small" }, h("strong", { "data-testid": "votes-last-hour" }, fmt.format(snap.votes.last_hour)), " this hour · ", `${fmt.format(sum)} in 24 hours`),
    barChart(hours.map((p) => p.n), { labels, title: "Votes per hour over the last 24 hours" }));
}

function drawAlpha(snap) {
  const series = snap.agreement.series.filter((p) => p.alpha !== null);
  if (series.length === 0) {
    fill("dash-alpha", h("p", { class: "empty" }, "No estimate yet: agreement is measured at each re-estimation, every few hundred votes and on demand."));
    return;
  }
  const width = 600, height = 150, pad = 30, top = 10, bottom = 20;
  const low = Math.min(0, ...series.map((p) => p.alpha));
  const y = (a) => top + ((1 - a) / (1 - low)) * (height - top - bottom);
  const x = (i) => pad + (series.length === 1 ? (width - pad) / 2 : (i * (width - pad - 10)) / (series.length - 1));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": "Alpha at each estimate" });
  for (const tick of [low, low / 2 + 0.5, 1].filter((v, i, a) => a.indexOf(v) === i)) {
    svg.append(s("line", { x1: pad, x2: width, y1: y(tick), y2: y(tick), class: "dash-grid" }));
    svg.append(s("text", { x: 0, y: y(tick) + 4, class: "dash-tick" }, tick.toFixed(2)));
  }
  svg.append(s("polyline", { points: series.map((p, i) => `${x(i)},${y(p.alpha)}`).join(" "), class: "dash-line" }));
  series.forEach((p, i) => svg.append(titled(s("circle", { cx: x(i), cy: y(p.alpha), r: 3.5, class: "dash-point" }),
    `α ${p.alpha.toFixed(3)} at ${fmt.format(p.votes)} votes, ${new Date(p.at).toLocaleString()}`)));
  const latest = snap.agreement.latest;
  fill("dash-alpha", h("p", { class: "muted small" }, "Latest α ", h("strong", { "data-testid": "alpha-latest" }, latest === null ? "—" : latest.toFixed(3)), ` over ${series.length} estimate${series.length === 1 ? "" : "s"}`), svg);
}

function drawLabels(snap) {
  const labels = snap.labels;
  if (!labels.length) {
    fill("dash-labels", h("p", { class: "empty" }, "No published rulebook yet."));
    return;
  }
  const max = Math.max(1, ...labels.map((l) => Math.max(l.ground_truth, l.votes_today)));
  const table = h("table", { class: "dash-bars" });
  table.append(h("thead", {}, h("tr", {}, h("th", {}, "Label"), h("th", {}, "Ground truth"), h("th", {}, "Votes, 24 h"))));
  const body = h("tbody");
  for (const l of labels) {
    const gt = h("div", { class: "bar gt", style: `width:${(100 * l.ground_truth) / max}%` });
    const vt = h("div", { class: "bar votes", style: `width:${(100 * l.votes_today) / max}%` });
    const row = h("tr", { "data-label": l.key }, h("td", {}, l.name),
      h("td", {}, h("div", { class: "bar-cell" }, gt, h("span", { class: "n" }, fmt.format(l.ground_truth)))),
      h("td", {}, h("div", { class: "bar-cell" }, vt, h("span", { class: "n" }, fmt.format(l.votes_today)))));
    body.append(row);
  }
  table.append(body);
  fill("dash-labels", table);
}

function drawReview(snap) {
  const r = snap.review;
  const max = Math.max(1, ...r.by_reason.map((b) => b.n));
  const list = h("ul", { class: "dash-reasons" });
  for (const b of r.by_reason) {
    list.append(h("li", {}, h("span", { class: "name" }, b.name), h("span", { class: "bar-cell" }, h("span", { class: "bar review", style: `width:${(100 * b.n) / max}%` }), h("span", { class: "n" }, fmt.format(b.n)))));
  }
  const link = h("a", { href: root.dataset.review }, "Open the review queue");
  fill("dash-review",
    h("p", {}, h("strong", { class: "big", "data-testid": "review-open-2" }, fmt.format(r.open)), " open · ", `${fmt.format(r.held)} being reviewed now · ${fmt.format(r.resolved_today)} resolved in 24 hours`),
    list, link);
}

function drawActive(snap) {
  if (!snap.active.length) {
    fill("dash-active", h("p", { class: "empty" }, "Nobody is labeling right now."));
    return;
  }
  const table = h("table", { class: "table" });
  table.append(h("thead", {}, h("tr", {}, h("th", {}, "Annotator"), h("th", {}, "Last vote"), h("th", {}, "Votes this hour"), h("th", {}, "Holding"))));
  const body = h("tbody");
  for (const p of snap.active) {
    body.append(h("tr", { "data-annotator": p.name }, h("td", {}, p.name), h("td", {}, ago(p.last_vote)), h("td", {}, fmt.format(p.last_hour)), h("td", {}, fmt.format(p.holding))));
  }
  table.append(body);
  fill("dash-active", h("p", { class: "muted small", "data-testid": "active-count" }, `${snap.active.length} active`), table);
}

function drawCuration(snap) {
  const c = snap.curation;
  const dl = h("dl", { class: "dash-facts" },
    h("dt", {}, "Excluded items"), h("dd", {}, fmt.format(snap.items.excluded ?? 0)),
    h("dt", {}, "Rows refused on import"), h("dd", {}, fmt.format(c.refused_rows)),
    h("dt", {}, "Duplicate rows skipped"), h("dd", {}, fmt.format(c.duplicate_rows)),
    h("dt", {}, "Imports"), h("dd", {}, `${fmt.format(c.imports)}${c.imports_running ? ` (${c.imports_running} running)` : ""}`),
    h("dt", {}, "Near-duplicate clusters"), h("dd", {}, fmt.format(c.clusters ?? 0)),
    ...Object.entries(c.undecided ?? {}).flatMap(([flag, n]) => [
      h("dt", {}, `Undecided: ${flag.replace("_", "-")}`), h("dd", {}, fmt.format(n))]));
  fill("dash-curation", dl);
}

function draw(snap) {
  drawStates(snap);
  drawProgress(snap);
  drawPace(snap);
  drawAlpha(snap);
  drawLabels(snap);
  drawReview(snap);
  drawActive(snap);
  drawCuration(snap);
  const updated = document.getElementById("dash-updated");
  updated.dateTime = snap.generated_at;
  updated.textContent = new Date(snap.generated_at).toLocaleTimeString();
}

let current = null;

function apply(message) {
  // The exact part of an event, on the snapshot shown; false when there is nothing to apply.
  if (!current) return false;
  if (message.type === "vote.cast" || message.type === "vote.undone") {
    const step = message.type === "vote.cast" ? 1 : -1;
    current.votes.total += step;
    current.votes.last_hour = Math.max(0, current.votes.last_hour + step);
    const hours = current.votes.per_hour;
    if (hours.length) hours[hours.length - 1].n = Math.max(0, hours[hours.length - 1].n + step);
    return true;
  }
  if (message.type === "item.decided" && message.from && message.from !== message.state) {
    current.items[message.from] = Math.max(0, (current.items[message.from] ?? 0) - 1);
    current.items[message.state] = (current.items[message.state] ?? 0) + 1;
    return true;
  }
  if (message.type === "review.changed") {
    if (message.opened) current.review.open += message.opened;
    else if (message.resolution) current.review.open = Math.max(0, current.review.open - 1);
    return true;
  }
  return false;
}

async function refresh() {
  const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  current = await response.json();
  draw(current);
}

if (root) {
  current = JSON.parse(document.getElementById("dashboard-snapshot").textContent);
  draw(current);
  const schedule = follow(REFRESH_ON, refresh, {
    gapMs: MIN_GAP_MS,
    onEvent(message) {
      if (!apply(message)) return;
      current.generated_at = new Date(message.at * 1000).toISOString();
      draw(current);
    },
  });
  // live.js may have connected before this module ran: start from what it says now.
  const indicator = document.getElementById("dash-live");
  if (document.documentElement.dataset.live === "connected") indicator.textContent = "live";
  document.addEventListener("quorum:live", (event) => {
    indicator.textContent = event.detail.connected ? "live" : "reconnecting…";
  });
  setInterval(schedule, 60_000); // "active now" and the hour's bar move with the clock too
}
