// The chat page's usage meter: refreshed from /api/usage/me/ whenever an answer finishes (static/js/chat/main.js dispatches
// "officeai:answer-done" on the document). The warning shows at 80 % of an allowance.
"use strict";
(function () {
  let pending = null;

  function refresh() {
    const meter = document.getElementById("usage-meter");
    if (!meter || !meter.dataset.url) return;
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      fetch(meter.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          document.getElementById("usage-meter-label").textContent = data.label;
          const bar = document.getElementById("usage-meter-bar");
          if (bar) bar.value = data.percent;
          meter.dataset.warn = data.warn ? "true" : "false";
          document.getElementById("usage-meter-warning").hidden = !data.warn;
        })
        .catch(function () { /* the meter is informative: a failed refresh keeps the last value */ });
    }, 300);
  }

  document.addEventListener("officeai:answer-done", refresh);
})();
