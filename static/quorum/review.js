// The review page: keyboard shortcuts as on the labeling page, and a heartbeat that keeps the
// reviewer's claim on the item while the page is open.

const config = JSON.parse(document.getElementById("review-config").textContent);
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector("input[name=csrfmiddlewaretoken]")?.value;

function typing(target) {
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) && target.type !== "radio";
}

function chooseLabel(key) {
  const radio = document.querySelector(`#decide-form input[name=label][value="${CSS.escape(key)}"]`);
  if (radio) {
    radio.checked = true;
    radio.focus();
  }
}

document.addEventListener("keydown", (event) => {
  if (event.key === "c" && !typing(event.target) && !event.ctrlKey && !event.metaKey && !event.altKey) {
    // A note needs no claim: any reviewer may ask for a clarification.
    event.preventDefault();
    $("note-box").open = true;
    $("note-text").focus();
    return;
  }
  if (!config.mine) return;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    const form = event.target.closest("form") || $("decide-form");
    event.preventDefault();
    form.requestSubmit();
    return;
  }
  if (event.key === "Escape") {
    if (typing(event.target)) {
      event.target.blur();
    } else {
      $("release").click();
    }
    return;
  }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const label = config.labels.find((l) => l.hotkey && l.hotkey === event.key);
  if (label) {
    event.preventDefault();
    chooseLabel(label.key);
  } else if (event.key === "r") {
    event.preventDefault();
    $("decide-reason").focus();
  } else if (event.key === "b") {
    event.preventDefault();
    $("send-back-form").requestSubmit();
  } else if (event.key === "x") {
    event.preventDefault();
    $("exclude-box").open = true;
    $("exclude-reason").focus();
  }
});

async function heartbeat() {
  try {
    const response = await fetch(`/p/${config.slug}/review/${config.item}/heartbeat/`, {
      method: "POST",
      headers: { "X-CSRFToken": csrf },
      credentials: "same-origin",
    });
    if (response.status === 409) {
      const body = await response.json();
      const box = document.createElement("p");
      box.className = "notice warn";
      box.textContent = body.detail + " Reload to see where it stands.";
      document.querySelector("main").prepend(box);
      clearInterval(timer);
    }
  } catch (err) {
    /* the next beat tries again */
  }
}

const timer = config.mine ? setInterval(heartbeat, Math.max(5, config.leaseSeconds / 3) * 1000) : null;
