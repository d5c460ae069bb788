// Following the project's events from a page: ``follow(types, refresh, {gapMs})`` calls the async
// ``refresh`` after any event whose type is in ``types``, and after the socket reconnects (to
// catch up on what was missed) — at most once per ``gapMs``, never two at once, and once more
// after a burst. The page's own render counts as the first refresh. Returns ``schedule``, to ask
// for a refresh on other grounds too.
export function follow(types, refresh, { gapMs = 1000, onEvent = null } = {}) {
  let last = Date.now(), timer = null, busy = false;

  async function run() {
    busy = true;
    last = Date.now();
    try {
      await refresh();
    } catch { /* the next event tries again */ }
    busy = false;
  }

  function schedule() {
    if (timer) return;
    const wait = busy ? gapMs : Math.max(0, gapMs - (Date.now() - last));
    timer = setTimeout(() => {
      timer = null;
      run();
    }, wait);
  }

  document.addEventListener("quorum:event", (event) => {
    if (!types.has(event.detail.type)) return;
    if (onEvent) onEvent(event.detail);
    schedule();
  });
  let connectedBefore = document.documentElement.dataset.live === "connected";
  document.addEventListener("quorum:live", (event) => {
    if (event.detail.connected && connectedBefore) schedule();
    if (event.detail.connected) connectedBefore = true;
  });
  return schedule;
}
