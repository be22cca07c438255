// A run's results on its page: the confusion matrix (a click on a cell opens that pair's test images),
// predictions on uploaded images, and the results panel fetched again when the run finishes
// (experiment.js announces every status message as an "experiment-status" event).
(function () {
  "use strict";
  const info = JSON.parse(document.getElementById("experiment-data").textContent);
  const FINAL = new Set(info.states.final);
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const $ = (sel) => document.querySelector(sel);
  const pct = (v) => (100 * v).toFixed(1) + "%";

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => { if (k === "text") node.textContent = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.appendChild(c));
    return node;
  }

  function showErrors(list, data, fallback) {
    list.replaceChildren();
    const messages = data && data.errors ? Object.values(data.errors).flat() : [data && data.error ? data.error : fallback];
    messages.forEach((m) => list.appendChild(el("li", { text: m })));
  }

  function predictionCard(file, prediction) {
    const rows = prediction.top.map((t) => el("tr", {}, [el("td", { text: t.class }), el("td", { class: "num", text: pct(t.probability) })]));
    return el("div", { class: "prediction" }, [
      el("img", { src: URL.createObjectURL(file), alt: prediction.file }),
      el("div", {}, [el("div", { class: "name", text: prediction.file }), el("table", {}, [el("tbody", {}, rows)])]),
    ]);
  }

  function bindPredict() {
    const form = document.getElementById("predict-form");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const errors = $("#predict-errors"), out = $("#predict-results");
      const files = [...form.querySelector("input[type=file]").files];
      errors.replaceChildren(); out.replaceChildren();
      form.querySelector("button").disabled = true;
      try {
        const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
          headers: { Accept: "application/json" } });
        const data = await response.json().catch(() => null);
        if (!response.ok) { showErrors(errors, data, `The prediction failed (${response.status}).`); return; }
        data.predictions.forEach((p, i) => out.appendChild(predictionCard(files[i], p)));
      } catch (err) {
        showErrors(errors, null, "The server could not be reached.");
      } finally {
        form.querySelector("button").disabled = false;
      }
    });
  }

  function drawConfusion() {
    const chart = document.getElementById("chart-confusion");
    if (!chart) return;
    const z = JSON.parse(document.getElementById("confusion-data").textContent);
    const names = JSON.parse(document.getElementById("class-names").textContent);
    const raw = z.map((_, i) => String(names[i] ?? i));
    const labels = raw.map(plotText);  // class names are shown as written, never as Plotly markup
    Plotly.newPlot(chart, [{ z: z, x: labels, y: labels, type: "heatmap", colorscale: "Blues", reversescale: true,
      hovertemplate: "true %{y}<br>predicted %{x}<br>%{z} images (click to see them)<extra></extra>" }],
      { margin: { t: 10, r: 10, b: 60, l: 70 }, height: 360, xaxis: { title: { text: "predicted" }, type: "category" },
        yaxis: { title: { text: "true" }, autorange: "reversed", type: "category" } }, PLOT_CONFIG);
    chart.on("plotly_click", (event) => {
      const point = event.points[0];
      openGallery(raw[labels.indexOf(point.y)], raw[labels.indexOf(point.x)]);
    });
  }

  async function openGallery(label, predicted) {
    const box = document.getElementById("confusion-gallery");
    if (!box) return;
    const url = `${box.dataset.url}?label=${encodeURIComponent(label)}&predicted=${encodeURIComponent(predicted)}`;
    box.hidden = false;
    const title = box.querySelector("h3"), grid = box.querySelector(".gallery");
    title.textContent = `True ${label}, predicted ${predicted}`;
    grid.replaceChildren();
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => null);
    if (!response.ok || !data) { grid.appendChild(el("p", { class: "error-text", text: (data && data.error) || "Could not load the images." })); return; }
    title.textContent = `True ${label}, predicted ${predicted}: ${data.count} image${data.count === 1 ? "" : "s"}` +
      (data.count > data.images.length ? ` (the ${data.images.length} most confident shown)` : "");
    data.images.forEach((image) => grid.appendChild(el("figure", { "data-confidence": image.confidence }, [
      el("img", { src: image.url, alt: image.name, loading: "lazy" }),
      el("figcaption", { text: `${pct(image.confidence)} · ${image.name}` }),
    ])));
  }

  function setUp() { drawConfusion(); bindPredict(); }

  // The panel as the server renders it, once per finish (a run extended later finishes again).
  const finish = (state) => (FINAL.has(state.status) ? `${state.status} ${state.finished_at}` : null);
  let shownFinish = finish(info.experiment);
  document.addEventListener("experiment-status", async (event) => {
    const key = finish(event.detail);
    if (!key || key === shownFinish) return;
    shownFinish = key;
    const response = await fetch(info.results_url, { credentials: "same-origin" });
    if (!response.ok) return;
    document.getElementById("results-slot").innerHTML = await response.text();
    setUp();
  });

  setUp();
})();
