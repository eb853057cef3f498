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
