// The usage page's charts, drawn with the vendored Chart.js from the report the server embedded as JSON
// (#usage-data). Numbers and dates in the page's language. No inline script or style: the CSP forbids them.
"use strict";
(function () {
  const PALETTE = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#ca8a04"];

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function datasets(seriesByName, scale, stacked) {
    return Object.keys(seriesByName).map(function (name, i) {
      return {
        label: name,
        data: seriesByName[name].map(function (value) { return value / scale; }),
        backgroundColor: PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
        stack: stacked ? "all" : undefined,
      };
    });
  }

  function draw(canvasId, type, labels, sets, numberFormat, stacked) {
    const canvas = document.getElementById(canvasId);
    if (!canvas || typeof window.Chart !== "function") return null;
    const chart = new window.Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: sets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, ticks: { callback: function (v) { return numberFormat.format(v); } } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + numberFormat.format(item.parsed.y); },
            },
          },
        },
      },
    });
    canvas.dataset.chartReady = "1";
    return chart;
  }

  function init() {
    const report = readJson("usage-data");
    const words = readJson("usage-labels") || {};
    if (!report) return;
    const lang = document.documentElement.lang || undefined;
    const integers = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    const money = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    const dayFormat = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", timeZone: "UTC" });
    const days = report.days.map(function (iso) { return dayFormat.format(new Date(iso + "T00:00:00Z")); });

    draw("chart-model-tokens", "bar", days, datasets(report.by_model.tokens, 1, true), integers, true);
    draw("chart-model-cost", "bar", days, datasets(report.by_model.cost_micros, 1e6, true), money, true);
    const channels = {};
    Object.keys(report.by_channel.tokens).forEach(function (name) {
      channels[words[name] || name] = report.by_channel.tokens[name];
    });
    draw("chart-channel-tokens", "bar", days, datasets(channels, 1, true), integers, true);
    const weekly = days.map(function () { return null; });
    report.active_weekly.forEach(function (week) {
      // Each week's count sits on its first day within the month.
      const at = Math.max(0, report.days.indexOf(week.week));
      weekly[at] = week.active;
    });
    draw("chart-active", "line", days, [
      { label: words.active_daily || "daily", data: report.active_daily, borderColor: PALETTE[0], backgroundColor: PALETTE[0] },
      { label: words.active_weekly || "weekly", data: weekly, borderColor: PALETTE[2], backgroundColor: PALETTE[2], spanGaps: true, showLine: false, pointRadius: 5 },
    ], integers, false);

    document.querySelectorAll("td[data-micros]").forEach(function (cell) {
      cell.textContent = money.format(Number(cell.dataset.micros) / 1e6) + " " + (report.currency || "");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
