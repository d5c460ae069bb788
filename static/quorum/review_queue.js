import { follow } from "./follow.js";

// The review queue follows the project's events: when a case opens, closes, is claimed or
// released, or an item changes state, the queue (with the page's filters and page number) is
// fetched again and its list swapped in, so new items appear and finished ones go, with who
// holds each, without a reload. At most one fetch a second; one more after a burst.
const list = document.getElementById("review-list");
const TYPES = new Set(["review.changed", "review.claimed", "review.released", "item.decided", "consensus.updated"]);
async function refresh() {
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("review-list");
  if (fresh) list.replaceChildren(...fresh.childNodes);
  const start = document.getElementById("start-review"), freshStart = doc.getElementById("start-review");
  if (start && freshStart) start.disabled = freshStart.disabled;
}

if (list) follow(TYPES, refresh);
