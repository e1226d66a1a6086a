// The top bar's menu button on narrow screens (app.css shows it below 900 px): opens and closes the links, closes
// on Escape, on a click elsewhere and when the screen gets wide again. Listens on the document from <head>, like
// lang.js, so it works from the moment the bar is on screen.
(() => {
  "use strict";

  function parts() {
    const button = document.getElementById("topnav-toggle");
    const nav = document.getElementById("topnav");
    return button && nav ? { button, nav } : null;
  }

  function setOpen(open, focusButton) {
    const found = parts();
    if (!found) return;
    found.button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) found.nav.setAttribute("data-open", "");
    else found.nav.removeAttribute("data-open");
    if (open) {
      const first = found.nav.querySelector("select, a, button");
      if (first) first.focus();
    } else if (focusButton) {
      found.button.focus();
    }
  }

  document.addEventListener("click", (event) => {
    const found = parts();
    if (!found) return;
    const open = found.button.getAttribute("aria-expanded") === "true";
    if (found.button.contains(event.target)) setOpen(!open, false);
    else if (open && !found.nav.contains(event.target)) setOpen(false, false);
  });
  document.addEventListener("keydown", (event) => {
    const found = parts();
    if (event.key !== "Escape" || !found || found.button.getAttribute("aria-expanded") !== "true") return;
    setOpen(false, found.nav.contains(document.activeElement));
  });
  if (window.matchMedia) {
    const wide = window.matchMedia("(min-width: 901px)");
    const close = () => {
      if (wide.matches) setOpen(false, false);
    };
    if (wide.addEventListener) wide.addEventListener("change", close);
  }
})();
