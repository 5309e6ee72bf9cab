// Draws the dashboard's charts with plotly.js (served from our own static files).
// Each chart's figure is JSON in a <script type="application/json"> (Django's
// json_script) named by the drawing area's data-chart attribute. Every chart has a data
// table: it starts open so the page reads well without JavaScript, and is folded away
// once the chart is drawn.
(function () {
  "use strict";

  const CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
  };

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Plotly === "undefined") {
      return;
    }
    let figure;
    try {
      figure = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    canvas.hidden = false;
    const layout = Object.assign({}, figure.layout || {}, { autosize: true });
    window.Plotly.newPlot(canvas, figure.data || [], layout, CONFIG);
    const container = canvas.closest("figure");
    const table = container && container.querySelector("details[data-chart-table]");
    if (table) {
      table.open = false;
    }
  }

  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
