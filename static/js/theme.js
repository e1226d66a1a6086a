// The colour theme, applied in <head> before the first paint (no inline script: the CSP forbids those).
// The choice (light, dark, or "system": follow prefers-color-scheme) is kept in localStorage under
// "officeai-theme"; <html data-theme> always holds the resolved theme, which app.css and chat.css read.
// The top bar's menu (#theme-select) changes it; a change of the system's preference applies at once.
(() => {
  "use strict";
  const KEY = "officeai-theme";
  const root = document.documentElement;
  root.classList.add("js");
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      const value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (err) {
      return "system"; // storage blocked: follow the system
    }
  }

  function apply(choice) {
    const dark = choice === "dark" || (choice === "system" && media !== null && media.matches);
    root.dataset.theme = dark ? "dark" : "light";
    root.dataset.themeChoice = choice;
  }

  apply(stored());
  if (media !== null) {
    const follow = () => apply(stored());
    if (media.addEventListener) media.addEventListener("change", follow);
    else if (media.addListener) media.addListener(follow); // Safari < 14
  }
  // Another tab changed it.
  window.addEventListener("storage", (event) => {
    if (event.key === KEY) apply(stored());
  });

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || select.id !== "theme-select") return;
    const choice = select.value === "light" || select.value === "dark" ? select.value : "system";
    try {
      if (choice === "system") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch (err) {
      /* not remembered, still applied */
    }
    apply(choice);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("theme-select");
    if (select instanceof HTMLSelectElement) select.value = stored();
  });
})();
