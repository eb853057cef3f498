// Portico's small behaviours: "/" focuses the search box, Escape leaves it.
document.addEventListener("keydown", function (e) {
  const t = e.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if (e.key === "/" && !typing) {
    const box = document.querySelector("#q") || document.querySelector("[data-testid=global-search]");
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  } else if (e.key === "Escape" && typing && t.type === "search") {
    t.blur();
  }
});

// On a phone the facet list would push the results off screen: start it folded.
function foldOnPhone(root) {
  if (window.matchMedia("(max-width: 800px)").matches) {
    root.querySelectorAll("details[data-collapse-on-phone]").forEach(function (d) { d.removeAttribute("open"); });
  }
}
document.addEventListener("DOMContentLoaded", function () { foldOnPhone(document); });
document.addEventListener("htmx:afterSwap", function (e) { foldOnPhone(e.target); });

// Errors inside panels: the server answers a failed panel request with an error card
// (X-Portico-Panel-Error) and its real status; htmx would not swap a 4xx/5xx body, so let it.
document.addEventListener("htmx:beforeSwap", function (e) {
  const xhr = e.detail.xhr;
  if (xhr && xhr.status >= 400 && xhr.getResponseHeader("X-Portico-Panel-Error") === "1") {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});

// A panel whose request never got an answer (the portal unreachable, a timeout) says so in
// place of "Loading…", with a retry.
function panelUnreachable(e) {
  const el = e.detail.target || e.detail.elt;
  const cfg = e.detail.requestConfig;
  const url = (cfg && cfg.verb === "get" && cfg.path) || (el && el.getAttribute("hx-get"));
  if (!el || !url || el.tagName !== "SECTION" || !el.classList.contains("card")) return;
  const title = el.querySelector("h2");
  const card = document.createElement("section");
  card.className = "card panel-error";
  card.id = el.id;
  card.setAttribute("data-testid", "panel-error");
  card.setAttribute("role", "alert");
  const h = document.createElement("h2");
  h.textContent = title ? title.textContent : "This part of the page";
  const msg = document.createElement("p");
  msg.className = "notice error";
  msg.setAttribute("data-testid", "panel-error-message");
  msg.textContent = e.type === "htmx:timeout"
    ? "The portal took too long to answer for this panel."
    : "The portal could not be reached to load this panel: check your connection.";
  const note = document.createElement("p");
  note.className = "muted small";
  note.textContent = "What is already on this page stays as it was.";
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "button";
  retry.textContent = "Retry";
  retry.setAttribute("data-testid", "panel-retry");
  retry.setAttribute("hx-get", url);
  retry.setAttribute("hx-target", "closest section");
  retry.setAttribute("hx-swap", "outerHTML");
  const p = document.createElement("p");
  p.appendChild(retry);
  card.append(h, msg, note, p);
  el.replaceWith(card);
  if (window.htmx) window.htmx.process(card);
}
document.addEventListener("htmx:sendError", panelUnreachable);
document.addEventListener("htmx:timeout", panelUnreachable);

// Live updates. A panel that reloads itself (over SSE or on a timer) carries data-live, its
// state in one sentence; when the sentence changes, the page's polite live region (#live)
// says the new one, so screen readers announce the update without focus moving. A panel's
// first load is not an update and says nothing.
const liveSaid = {};
function announce(root) {
  if (!root || !root.querySelectorAll) return;
  const els = Array.from(root.querySelectorAll("[data-live]"));
  if (root.matches && root.matches("[data-live]")) els.unshift(root);
  els.forEach(function (el) {
    const key = el.id || el.getAttribute("data-testid") || "";
    const text = el.getAttribute("data-live");
    if (key in liveSaid && liveSaid[key] !== text) {
      const region = document.getElementById("live");
      if (region) region.textContent = text;
    }
    liveSaid[key] = text;
  });
}
document.addEventListener("DOMContentLoaded", function () { announce(document); });
// After an action the page shows its outcome (the flash, which takes focus) and the user waits
// on the rollout: say where it stands once the flash has been read, even if it is already
// done and nothing will change again. An update said before then wins.
document.addEventListener("DOMContentLoaded", function () {
  if (!document.querySelector("[data-testid=flash]")) return;
  setTimeout(function () {
    const el = document.querySelector("[data-live]");
    const region = document.getElementById("live");
    if (el && region && region.textContent === "") region.textContent = el.getAttribute("data-live");
  }, 1000);
});
document.addEventListener("htmx:load", function (e) { announce(e.detail.elt); });

// Focus survives a swap. When the focused element is inside what htmx replaces, the same
// control in the new content (by id, or by data-testid and position) gets focus back;
// failing that the new content itself does, so focus never falls back to the page's top.
let focusWas = null;
document.addEventListener("htmx:beforeSwap", function (e) {
  const a = document.activeElement;
  const target = e.detail.target;
  focusWas = null;
  if (!a || a === document.body || !target || !target.contains(a)) return;
  const testid = a.getAttribute("data-testid");
  let index = 0;
  if (testid) index = Array.from(target.querySelectorAll('[data-testid="' + testid + '"]')).indexOf(a);
  focusWas = { root: target.id, id: a.id, testid: testid, index: index, selection: a.selectionStart };
});
document.addEventListener("htmx:afterSettle", function () {
  const f = focusWas;
  focusWas = null;
  if (!f || (document.activeElement && document.activeElement !== document.body)) return;
  const root = (f.root && document.getElementById(f.root)) || document.getElementById("main");
  let el = f.id ? document.getElementById(f.id) : null;
  if (!el && f.testid && root) el = root.querySelectorAll('[data-testid="' + f.testid + '"]')[Math.max(f.index, 0)] || null;
  if (!el) {
    el = root;
    if (el && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
  }
  if (el) {
    el.focus({ preventScroll: true });
    if (f.selection != null && el.setSelectionRange) try { el.setSelectionRange(f.selection, f.selection); } catch (_) {}
  }
});

// After an action the page opens on its outcome: the flash message takes focus (unless a
// field asked for it), so a screen reader reads what happened first.
document.addEventListener("DOMContentLoaded", function () {
  const flash = document.querySelector("[data-testid=flash]");
  if (!flash || document.querySelector("[autofocus]")) return;
  flash.setAttribute("tabindex", "-1");
  flash.focus({ preventScroll: true });
});
