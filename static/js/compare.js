// The compare page: overlaid training (solid) and validation (dashed) curves, the metrics table, the
// config table's toggle between the keys that differ and all of them, and the confusion matrices.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  const rows = data.rows;
  const PALETTE = ["#3656d8", "#e0702d", "#1f9d55", "#7b4fd0", "#c2185b", "#00838f", "#8d6e63", "#5c6bc0", "#9e9d24", "#546e7a"];
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const FORMATS = {
    percent: (v) => (100 * v).toFixed(1) + "%",
    number: (v) => Number(v).toFixed(4).replace(/\.?0+$/, ""),
    integer: (v) => String(v),
  };

  function curves(trainKey, valKey) {
    return rows.flatMap((r, i) => {
      const x = r.history.map((h) => h.epoch), color = PALETTE[i % PALETTE.length], name = `#${r.id} ${r.name}`;
      return [
        { x: x, y: r.history.map((h) => h[trainKey]), name: `${name} train`, legendgroup: String(r.id), mode: "lines", line: { color: color } },
        { x: x, y: r.history.map((h) => h[valKey]), name: `${name} val`, legendgroup: String(r.id), mode: "lines", line: { color: color, dash: "dash" } },
      ];
    });
  }

  function layout(ytitle, range) {
    return { margin: { t: 16, r: 10, b: 110, l: 60 }, height: 380, font: { family: "system-ui, sans-serif", size: 12 },
      xaxis: { title: { text: "epoch" }, tickformat: "d", dtick: 1 }, yaxis: { title: { text: ytitle }, range: range, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.3, yanchor: "top" } };
  }

  function metricsTable() {
    const body = document.querySelector("#compare-metrics tbody");
    data.metrics.forEach(([key, label, format]) => {
      const values = rows.map((r) => r.metrics[key]);
      if (values.every((v) => v === null || v === undefined)) return;
      const tr = document.createElement("tr");
      tr.dataset.metric = key;
      const th = document.createElement("td");
      th.textContent = label;
      tr.appendChild(th);
      values.forEach((v) => {
        const td = document.createElement("td");
        td.className = "num";
        td.textContent = v === null || v === undefined ? "–" : FORMATS[format](v);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function configToggle() {
    const box = document.getElementById("config-show-all");
    const trs = [...document.querySelectorAll("#compare-config tbody tr")];
    const apply = () => trs.forEach((tr) => { tr.hidden = !box.checked && tr.dataset.differs !== "true"; });
    document.getElementById("config-none-differ").hidden = trs.some((tr) => tr.dataset.differs === "true");
    box.addEventListener("change", apply);
    apply();
  }

  function confusions() {
    // Every box first, then the plots: each is drawn at its final width in the grid.
    const holder = document.getElementById("compare-confusions");
    const charts = rows.map((r) => {
      const box = document.createElement("div");
      const title = document.createElement("h3");
      title.textContent = `#${r.id} ${r.name}`;
      box.appendChild(title);
      const chart = document.createElement(r.confusion_matrix ? "div" : "p");
      chart.className = r.confusion_matrix ? "chart" : "muted";
      if (!r.confusion_matrix) chart.textContent = "No test results.";
      chart.dataset.experiment = r.id;
      box.appendChild(chart);
      holder.appendChild(box);
      return [r, chart];
    });
    charts.filter(([r]) => r.confusion_matrix).forEach(([r, chart]) => {
      const labels = r.classes.map(plotText);
      Plotly.newPlot(chart, [{ z: r.confusion_matrix, x: labels, y: labels, type: "heatmap", colorscale: "Blues", reversescale: true,
        hovertemplate: "true %{y}<br>predicted %{x}<br>%{z}<extra></extra>" }],
        { margin: { t: 10, r: 10, b: 60, l: 70 }, height: 320, xaxis: { title: { text: "predicted" }, type: "category" },
          yaxis: { title: { text: "true" }, autorange: "reversed", type: "category" } }, PLOT_CONFIG);
    });
  }

  Plotly.newPlot("compare-loss", curves("train_loss", "val_loss"), layout("loss"), PLOT_CONFIG);
  Plotly.newPlot("compare-acc", curves("train_acc", "val_acc"), layout("accuracy", [0, 1.02]), PLOT_CONFIG);
  metricsTable();
  configToggle();
  confusions();
})();
