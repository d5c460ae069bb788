// The review queue follows the project's events: when a case opens, closes, is claimed or
// released, or an item changes state, the queue (with the page's filters and page number) is
// fetched again and its list swapped in, so new items appear and finished ones go, with who
// holds each, without a reload. At most one fetch a second; one more after a burst.
const list = document.getElementById("review-list");
const TYPES = new Set(["review.changed", "review.claimed", "review.released", "item.decided", "consensus.updated"]);
const MIN_GAP_MS = 1000;
let last = 0, timer = null, busy = false;

async function refresh() {
  busy = true;
  last = Date.now();
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (response.ok) {
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("review-list");
      if (fresh) list.replaceChildren(...fresh.childNodes);
      const start = document.getElementById("start-review"), freshStart = doc.getElementById("start-review");
      if (start && freshStart) start.disabled = freshStart.disabled;
    }
  } catch { /* the next event tries again */ }
  busy = false;
}

function schedule() {
  if (timer) return;
  const wait = busy ? MIN_GAP_MS : Math.max(0, MIN_GAP_MS - (Date.now() - last));
  timer = setTimeout(() => {
    timer = null;
    refresh();
  }, wait);
}

if (list) {
  document.addEventListener("quorum:event", (event) => {
    if (TYPES.has(event.detail.type)) schedule();
  });
  let connectedBefore = document.documentElement.dataset.live === "connected";
  document.addEventListener("quorum:live", (event) => {
    if (event.detail.connected && connectedBefore) schedule(); // catch up after a reconnect
    if (event.detail.connected) connectedBefore = true;
  });
  last = Date.now(); // the page itself is the first fetch
}
