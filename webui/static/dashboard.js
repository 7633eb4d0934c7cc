/* Charts of the dashboard and the provisions page: each <canvas data-chart="{...}"> is drawn with Chart.js
   (static/vendor/chartjs) from the JSON in its attribute. The same numbers stand in the table next to the
   chart, so nothing here is the only place a figure is shown. Amounts arrive as decimal strings; they
   become numbers only for drawing. */
(function () {
  "use strict";

  // From "current" green through amber to "long overdue" red; more series cycle.
  const COLORS = ["#2f8f46", "#9bc53d", "#f2c94c", "#f2994a", "#eb5757", "#a8071a", "#1d6fd6", "#5b6576"];

  function toNumber(value) {
    return value === null || value === undefined ? null : Number(value);
  }

  function isolatedPoint(context) {
    const data = context.dataset.data;
    const i = context.dataIndex;
    const alone = data[i] !== null && (i === 0 || data[i - 1] === null) && (i === data.length - 1 || data[i + 1] === null);
    return alone ? 2 : 0;
  }

  function datasets(spec, line) {
    return spec.series.map(function (series, i) {
      const color = series.color || COLORS[i % COLORS.length];
      return {
        label: series.label,
        data: series.data.map(toNumber),
        backgroundColor: color,
        borderColor: color,
        borderWidth: line ? 2 : 0,
        // A sparkline draws no points, but a value with no value on either side has no line to it: it is
        // drawn as a point, or a KPI with one value in its 12 periods would leave a blank canvas.
        pointRadius: spec.type === "sparkline" ? isolatedPoint : 3,
        spanGaps: false,
      };
    });
  }

  // A dated axis reads as the page writes dates ("31 Jan 2026", "2026年1月31日": the dated_chart filter's
  // shown_labels); the chart's data keeps the ISO days.
  function datedAxis(spec, axis) {
    const shown = {};
    (spec.shown_labels || []).forEach(function (text, i) { shown[spec.labels[i]] = text; });
    const say = function (label) { return Object.prototype.hasOwnProperty.call(shown, label) ? shown[label] : label; };
    axis.ticks = { callback: function (value) { return say(this.getLabelForValue(value)); } };
    return { title: function (items) { return items.length ? say(items[0].label) : ""; } };
  }

  function config(spec) {
    // Chart.js formats axis and tooltip numbers with Intl in this locale: the page's language, so a zh page
    // groups and writes its numbers the Chinese way (<html lang="zh-Hans">).
    const base = {
      animation: false, responsive: true, maintainAspectRatio: false, locale: document.documentElement.lang || "en",
    };
    if (spec.type === "stacked-bar") {
      const x = { stacked: true };
      return {
        type: "bar",
        data: { labels: spec.labels, datasets: datasets(spec, false) },
        options: Object.assign(base, {
          scales: { x: x, y: { stacked: true, beginAtZero: true } },
          plugins: { legend: { position: "bottom" }, tooltip: { callbacks: datedAxis(spec, x) } },
        }),
      };
    }
    if (spec.type === "sparkline") {
      return {
        type: "line",
        data: { labels: spec.labels, datasets: datasets(spec, true) },
        options: Object.assign(base, {
          scales: { x: { display: false }, y: { display: false } },
          plugins: { legend: { display: false } },
        }),
      };
    }
    const x = {};
    return {
      type: "line",
      data: { labels: spec.labels, datasets: datasets(spec, true) },
      options: Object.assign(base, {
        scales: { x: x, y: { beginAtZero: true } },
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: datedAxis(spec, x) } },
      }),
    };
  }

  function drawAll() {
    const canvases = document.querySelectorAll("canvas[data-chart]");
    if (canvases.length === 0) return;
    if (typeof window.Chart !== "function") {
      canvases.forEach(function (canvas) { canvas.dataset.drawn = "error"; });
      console.error("Chart.js is not loaded: run `make setup` to vendor it into static/vendor/chartjs/");
      return;
    }
    canvases.forEach(function (canvas) {
      try {  // one bad chart must not keep the others from being drawn
        new window.Chart(canvas, config(JSON.parse(canvas.dataset.chart)));
        canvas.dataset.drawn = "true";
      } catch (error) {
        canvas.dataset.drawn = "error";
        console.error("chart not drawn (its numbers are in the table):", error);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
