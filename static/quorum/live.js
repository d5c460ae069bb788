// One WebSocket per open project page. Every event the server sends is re-dispatched on the
// document as a "quorum:event" CustomEvent (detail: the event), so each page script listens for
// what it shows; "quorum:live" says whether the socket is connected (detail: {connected}).
// The rulebook's publication is announced here with a banner unless a page handles it itself.
const el = document.getElementById("live");

function banner(text, { reload = true } = {}) {
  const div = document.createElement("div");
  div.className = "live-banner";
  div.setAttribute("role", "status");
  div.textContent = text + " ";
  if (reload) {
    const button = document.createElement("button");
    button.textContent = "Reload";
    button.addEventListener("click", () => window.location.reload());
    div.append(button);
  }
  document.body.append(div);
}

function announce(connected) {
  document.documentElement.dataset.live = connected ? "connected" : "disconnected";
  document.dispatchEvent(new CustomEvent("quorum:live", { detail: { connected } }));
}

function connect(delay) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/projects/${el.dataset.slug}/`);
  socket.addEventListener("open", () => {
    delay = 2000;
    announce(true);
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    document.dispatchEvent(new CustomEvent("quorum:event", { detail: message }));
    if (message.type === "rulebook.published") {
      // A page with its own way of telling (the labeling page) handles the event itself.
      const handled = !document.dispatchEvent(
        new CustomEvent("quorum:rulebook-published", { detail: message, cancelable: true }),
      );
      if (!handled) banner(`Rulebook version ${message.version} was published.`);
    }
  });
  socket.addEventListener("close", (event) => {
    announce(false);
    if (event.code === 4404) {
      // Not (or no longer) a member of this project.
      banner("You no longer have access to this project.");
      return;
    }
    // The server went away: try again, more slowly each time, and never give up (a page left
    // open must still hear that the rulebook changed).
    setTimeout(() => connect(Math.min(delay * 2, 60000)), delay);
  });
}

if (el && "WebSocket" in window) connect(2000);
