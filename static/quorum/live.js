// One WebSocket per open project page: tell the person when the rulebook changes under them.
const el = document.getElementById("live");

function banner(text) {
  const div = document.createElement("div");
  div.className = "live-banner";
  div.setAttribute("role", "status");
  div.textContent = text + " ";
  const button = document.createElement("button");
  button.textContent = "Reload";
  button.addEventListener("click", () => window.location.reload());
  div.append(button);
  document.body.append(div);
}

function connect(delay) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/projects/${el.dataset.slug}/`);
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "rulebook.published") {
      // A page with its own way of telling (the labeling page) handles the event itself.
      const handled = !document.dispatchEvent(
        new CustomEvent("quorum:rulebook-published", { detail: message, cancelable: true }),
      );
      if (!handled) banner(`Rulebook version ${message.version} was published.`);
    }
  });
  socket.addEventListener("close", (event) => {
    // 4404: not a member. Otherwise the server went away: try again, more slowly each time,
    // and never give up (a page left open must still hear that the rulebook changed).
    if (event.code !== 4404) setTimeout(() => connect(Math.min(delay * 2, 60000)), delay);
  });
}

if (el && "WebSocket" in window) connect(2000);
