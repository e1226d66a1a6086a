// The language menu submits itself when changed (no inline handler: the Content-Security-Policy forbids those).
(() => {
  const select = document.getElementById("lang-select");
  if (select) select.addEventListener("change", () => select.form.submit());
})();
