/* Wide tables scroll sideways inside their .table-wrap on a small screen (WCAG 1.4.10 allows it
 * for data tables). A region that scrolls must be reachable with the keyboard (WCAG 2.1.1), so
 * a wrap that actually overflows becomes a focusable, named region; one that fits does not, and
 * adds no needless tab stop. Checked again when the window changes size (zoom, rotation). */
(function () {
  "use strict";

  function update() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        var caption = wrap.querySelector("caption");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (caption) {
          if (!caption.id) { caption.id = "tbl-" + Math.random().toString(36).slice(2, 9); }
          wrap.setAttribute("aria-labelledby", caption.id);
        }
      } else if (!scrolls && wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-labelledby");
      }
    });
  }

  var pending = null;
  function soon() {
    if (pending) { return; }
    pending = window.setTimeout(function () { pending = null; update(); }, 100);
  }

  update();
  window.addEventListener("resize", soon);
  // Live pages swap their content in place (a phase change, new results): check again.
  new MutationObserver(soon).observe(document.body, { childList: true, subtree: true });
})();
