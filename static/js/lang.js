// The language menu submits itself when changed (no inline handler: the Content-Security-Policy forbids those).
// Listening on the document from <head> means the menu works from the moment it is on screen.
document.addEventListener("change", (event) => {
  if (event.target instanceof HTMLSelectElement && event.target.id === "lang-select") event.target.form.submit();
});
