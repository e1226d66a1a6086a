// Audit pages: poll each unfinished export's status every 2 s and update its row in place; follow a running
// "Verify chain" job, then reload to show its result.
(function () {
  "use strict";
  var FINISHED = { done: true, failed: true };

  function update(row, data) {
    row.dataset.status = data.status;
    row.querySelector('[data-role="status"]').textContent = data.status_label;
    var progress = row.querySelector('[data-role="progress"]');
    progress.max = Math.max(data.total_rows, 1);
    progress.value = data.done_rows;
    row.querySelector('[data-role="rows"]').textContent = data.done_rows + " / " + data.total_rows;
    var cell = row.querySelector('[data-role="download"]');
    if (data.download_url && !cell.querySelector("a")) {
      var template = document.getElementById("audit-download-template");
      var link = template.content.firstElementChild.cloneNode(true);
      link.href = data.download_url;
      cell.appendChild(link);
    }
  }

  function poll(row) {
    if (FINISHED[row.dataset.status]) return;
    fetch(row.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        update(row, data);
        if (!FINISHED[data.status]) window.setTimeout(poll, 2000, row);
      })
      .catch(function () {
        window.setTimeout(poll, 10000, row); // back off, keep trying
      });
  }

  // "Verify chain": the job's progress, then the page again (which shows the recorded result).
  function pollVerification(box) {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        box.querySelector('[data-role="status"]').textContent = data.status_label;
        var progress = box.querySelector('[data-role="progress"]');
        progress.max = Math.max(data.total, 1);
        progress.value = data.checked;
        box.querySelector('[data-role="rows"]').textContent = data.checked + " / " + data.total;
        if (FINISHED[data.status]) window.location.reload();
        else window.setTimeout(pollVerification, 1000, box);
      })
      .catch(function () {
        window.setTimeout(pollVerification, 5000, box);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-audit-export]").forEach(function (row) {
      window.setTimeout(poll, 2000, row);
    });
    document.querySelectorAll("[data-audit-verification]").forEach(function (box) {
      window.setTimeout(pollVerification, 500, box);
    });
  });
})();
