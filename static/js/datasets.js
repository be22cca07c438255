// Dataset page: class-distribution and image-size charts, and the progress bar while processing
// (polls the status endpoint, which answers Dataset.status_dict(); reloads once the dataset is ready
// or failed, shows a rejection in place). Statuses come from the server (data.statuses).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dataset-data").textContent);
  const STATUS = data.statuses;
  const $ = (sel) => document.querySelector(sel);
  const FONT = { family: "system-ui, sans-serif", size: 12 };
  const CONFIG = { responsive: true, displaylogo: false };
  const SPLITS = [["train", "train", "#3656d8"], ["val", "validation", "#e0702d"], ["test", "test", "#1f9d55"]];

  function drawClasses() {
    const el = document.getElementById("chart-classes");
    if (!el || !data.classes.length) return;
    const traces = SPLITS.filter(([key]) => data.splits[key].some((n) => n > 0)).map(([key, label, color]) => ({
      type: "bar", name: label, x: data.classes.map(plotText), y: data.splits[key], marker: { color: color },
      hovertemplate: "%{x}: %{y} " + label + " images<extra></extra>",
    }));
    Plotly.newPlot(el, traces, {
      barmode: "stack", margin: { t: 10, r: 10, b: 80, l: 55 }, height: 320, font: FONT,
      yaxis: { title: { text: "images" }, rangemode: "tozero" }, xaxis: { automargin: true, type: "category" },
      legend: { orientation: "h", y: 1.12, traceorder: "normal" },
    }, CONFIG);
  }

  function drawSizes() {
    const el = document.getElementById("chart-sizes");
    if (!el || !data.sizes.length) return;
    const counts = data.sizes.map((s) => s[2]);
    const all = data.sizes.flatMap((s) => [s[0], s[1]]);
    const low = Math.min(...all), high = Math.max(...all);
    // Bins of whole pixels, about 40 across the range; a single size still shows as one narrow bar.
    const bin = Math.max(1, Math.ceil((high - low) / 40));
    const xbins = { start: low - bin / 2, end: high + bin / 2, size: bin };
    const trace = (i, name, color) => ({
      type: "histogram", histfunc: "sum", name: name, x: data.sizes.map((s) => s[i]), y: counts,
      xbins: xbins, autobinx: false, marker: { color: color },
      hovertemplate: name + " %{x} px: %{y} images<extra></extra>",
    });
    const pad = Math.max(4 * bin, Math.round((high - low) * 0.05));
    Plotly.newPlot(el, [trace(0, "width", "#3656d8"), trace(1, "height", "#e0702d")], {
      barmode: "group", bargap: 0.1, margin: { t: 10, r: 10, b: 45, l: 55 }, height: 320, font: FONT,
      xaxis: { title: { text: "pixels" }, range: [Math.max(0, low - pad), high + pad] },
      yaxis: { title: { text: "images" }, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.12 },
    }, CONFIG);
  }

  function showProgress(s) {
    $("#progress-text").textContent = s.stage;
    $("#progress-pct").textContent = s.progress + "%";
    $("#progress-bar").style.width = s.progress + "%";
    document.querySelector("#progress-card .progress").setAttribute("aria-valuenow", s.progress);
  }

  function showStatus(s) {
    const badge = $("#status");
    badge.className = "badge " + s.status;
    badge.dataset.status = s.status;
    badge.textContent = s.status_label;
  }

  function poll() {
    fetch(data.status_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((s) => {
        if (s.status === STATUS.PROCESSING) {
          showProgress(s);
          setTimeout(poll, 1000);
        } else if (s.status === STATUS.REJECTED) {
          showStatus(s);
          $("#progress-card").hidden = true;
          $("#error-title").textContent = "The upload was rejected, and nothing of it was kept.";
          $("#error-text").textContent = s.error;
          $("#error-box").hidden = false;
          const again = $("#upload-again");  // the rejected version does not exist: upload under its name
          if (again) { again.href = data.upload_again_url; again.textContent = "Upload a corrected archive"; }
        } else {
          window.location.reload();  // ready or failed: the page shows the full report
        }
      })
      .catch(() => setTimeout(poll, 3000));
  }

  drawClasses();
  drawSizes();
  // The page's first width (no inline style: the Content Security Policy allows none).
  $("#progress-bar").style.width = data.dataset.progress + "%";
  if (data.dataset.status === STATUS.PROCESSING) setTimeout(poll, 500);
})();
