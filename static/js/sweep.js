// Live sweep page: the trials table (sortable, best first), the best trial, and four Plotly charts,
// reloaded from the sweep's API whenever its websocket says something changed (at most every 1.5 seconds).
// Charts stay light with 1,000 trials: the table draws at most MAX_ROWS rows, the curves only the best
// trials the server marks, and every chart is redrawn with Plotly.react.
(function () {
  "use strict";
  const info = JSON.parse(document.getElementById("sweep-data").textContent);
  const sweepId = info.sweep.id;
  const TRIAL = info.trial_states; // the trial states' values, from the server (never spelled out here)
  const MAX_ROWS = 200;
  const MAX_POINTS = 3000;
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const FONT = { family: "system-ui, sans-serif", size: 12 };
  let report = null;
  let sortKey = "rank";
  let sortAsc = true;
  let timer = null;
  let retry = 0;

  const $ = (sel) => document.querySelector(sel);
  const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(4));
  const show = (v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v);
  const paramText = (p) => Object.entries(p).map(([k, v]) => `${k}=${show(v)}`).join(", ");

  function load() {
    fetch(info.data_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => { report = data; render(); })
      .catch(() => {});
  }

  function soon() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; load(); }, 1500);
  }

  function render() {
    const badge = $("#sweep-status");
    badge.className = "badge " + report.status;
    badge.textContent = report.status_label;
    const stop = $("#stop-button");
    if (stop) stop.closest("form").hidden = report.status !== stop.dataset.while; // an ended sweep has nothing to stop
    $("#trial-count").textContent = `${report.trials.length} of at most ${report.max_trials}`;
    $("#budget-used").textContent = report.budget_used.text;
    renderTable();
    renderBest();
    renderHistory();
    renderImportance();
    renderParallel();
    renderCurves();
  }

  // --- the table ----------------------------------------------------------------------------------
  function sortValue(t, key) {
    if (key === "status") return t.experiment.status;
    if (key === "params") return paramText(t.params);
    return t[key];
  }

  function sorted() {
    const out = report.trials.slice();
    out.sort((a, b) => {
      let x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sortAsc ? c : -c;
    });
    return out;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  // A checkbox to tick the trial's experiment for the compare page (compare-pick.js keeps the selection).
  const pickLabel = (t) => `#${t.experiment.id} ${t.experiment.name}`;

  function pickCell(t) {
    const td = document.createElement("td");
    td.className = "pick";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "compare-pick";
    box.value = t.experiment.id;
    box.dataset.label = pickLabel(t);
    box.setAttribute("aria-label", `Compare trial ${t.number} (${pickLabel(t)})`);
    if (window.comparePicker) box.checked = window.comparePicker.has(t.experiment.id);
    td.appendChild(box);
    return td;
  }

  // "Tick the best N": the N best-ranked trials that have an objective value replace the selection.
  const pickBest = $("#pick-best");
  if (pickBest && window.comparePicker) {
    pickBest.addEventListener("click", () => {
      if (!report) return;
      const n = Math.max(1, Math.min(Number($("#pick-best-n").value) || 0, window.comparePicker.max));
      const best = report.trials.filter((t) => t.value !== null).sort((a, b) => a.rank - b.rank).slice(0, n);
      window.comparePicker.choose(best.map((t) => [t.experiment.id, pickLabel(t)]));
    });
  }

  function renderTable() {
    const body = $("#trial-table tbody");
    const rows = sorted();
    const bestNumber = report.best ? report.best.number : null;
    const frag = document.createDocumentFragment();
    rows.slice(0, MAX_ROWS).forEach((t) => {
      const tr = document.createElement("tr");
      tr.dataset.trial = t.number;
      tr.dataset.status = t.experiment.status;
      if (t.number === bestNumber) tr.className = "best";
      tr.appendChild(pickCell(t));
      cell(tr, t.rank, "num");
      const link = cell(tr, "", "num");
      const a = document.createElement("a");
      a.href = t.experiment.url;
      a.textContent = "#" + t.number;
      link.appendChild(a);
      const st = cell(tr, "");
      const badge = document.createElement("span");
      badge.className = "badge " + t.experiment.status;
      badge.textContent = t.experiment.status_label;
      st.appendChild(badge);
      cell(tr, paramText(t.params), "mono small");
      cell(tr, fmt(t.value), "num");
      cell(tr, `${t.epochs_run} / ${t.experiment.epochs}`, "num");
      cell(tr, t.seconds ? t.seconds.toFixed(1) : "–", "num");
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    $("#table-note").textContent = rows.length > MAX_ROWS ? `Showing ${MAX_ROWS} of ${rows.length} trials (sort to see others).` : "";
  }

  document.querySelectorAll("#trial-table th[data-sort]").forEach((th) => {
    th.style.cursor = "pointer";
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      sortAsc = key === sortKey ? !sortAsc : true;
      sortKey = key;
      if (report) renderTable();
    });
  });

  // --- the best trial ------------------------------------------------------------------------------
  function renderBest() {
    const best = report.best;
    $("#best-card").hidden = !best;
    if (!best) return;
    const acc = best.test_metrics && best.test_metrics.accuracy;
    $("#best-text").textContent = `Trial #${best.number} (${paramText(best.params)}): ${report.objective} ${fmt(best.value)}` +
      (acc !== undefined && acc !== null ? `, test accuracy ${(100 * acc).toFixed(1)}%` : "");
    const clone = $("#clone-best");
    if (clone) clone.href = `/experiments/new/?clone=${best.experiment.id}`;
    const extend = $("#extend-best");
    if (extend) extend.action = `/experiments/${best.experiment.id}/extend/`;
  }

  // --- charts --------------------------------------------------------------------------------------
  function layout(x, y, extra) {
    return Object.assign({ margin: { t: 16, r: 10, b: 40, l: 60 }, height: 320, font: FONT,
      xaxis: { title: { text: x } }, yaxis: { title: { text: y } }, legend: { orientation: "h", y: 1.14 } }, extra || {});
  }

  function thin(list) {
    if (list.length <= MAX_POINTS) return list;
    const step = list.length / MAX_POINTS;
    return Array.from({ length: MAX_POINTS }, (_, i) => list[Math.floor(i * step)]);
  }

  function renderHistory() {
    const maximize = report.direction === "maximize";
    const done = report.trials.filter((t) => t.value !== null).sort((a, b) => a.number - b.number);
    let best = null;
    const bestX = [], bestY = [];
    done.forEach((t) => {
      if (t.state !== TRIAL.COMPLETED) return;
      if (best === null || (maximize ? t.value > best : t.value < best)) best = t.value;
      bestX.push(t.number); bestY.push(best);
    });
    const points = (state, name, opacity) => {
      const ts = thin(done.filter((t) => t.state === state));
      return { x: ts.map((t) => t.number), y: ts.map((t) => t.value), text: ts.map((t) => paramText(t.params)),
        mode: "markers", type: "scattergl", name: name, marker: { opacity: opacity, color: state === TRIAL.PRUNED ? "#8a5509" : "#3656d8" } };
    };
    Plotly.react("chart-history", [points(TRIAL.COMPLETED, "completed trials", 0.9), points(TRIAL.PRUNED, "pruned (last value)", 0.35),
      { x: bestX, y: bestY, mode: "lines", name: "best so far", line: { shape: "hv", color: "#1f9d55" } }],
      layout("trial", report.objective), PLOT_CONFIG);
  }

  function renderImportance() {
    const entries = Object.entries(report.importance || {}).reverse();
    const empty = entries.length === 0;
    Plotly.react("chart-importance", empty ? [] : [{ type: "bar", orientation: "h", x: entries.map((e) => e[1]),
      y: entries.map((e) => e[0]), marker: { color: "#7b4fd0" } }],
      layout("share of the objective's variance (fANOVA)", "", { margin: { t: 16, r: 10, b: 40, l: 120 },
        annotations: empty ? [{ text: "needs at least 4 completed trials", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] : [] }),
      PLOT_CONFIG);
  }

  function dimension(name, trials) {
    const values = trials.map((t) => t.params[name]);
    const numeric = values.every((v) => typeof v === "number");
    if (numeric) return { label: name, values: values };
    const labels = [...new Set(values.map((v) => (v === undefined ? "—" : String(v))))].sort();
    return { label: name, values: values.map((v) => labels.indexOf(v === undefined ? "—" : String(v))),
      tickvals: labels.map((_, i) => i), ticktext: labels };
  }

  function renderParallel() {
    const trials = thin(report.trials.filter((t) => t.value !== null));
    const names = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
    const dims = names.map((n) => dimension(n, trials));
    dims.push({ label: report.objective, values: trials.map((t) => t.value) });
    const data = trials.length ? [{ type: "parcoords", dimensions: dims,
      line: { color: trials.map((t) => t.value), colorscale: "Viridis", reversescale: report.direction === "minimize", showscale: true } }] : [];
    Plotly.react("chart-parallel", data, { margin: { t: 40, r: 40, b: 20, l: 60 }, height: 340, font: FONT }, PLOT_CONFIG);
  }

  function renderCurves() {
    const traces = report.trials.filter((t) => t.curve && Object.keys(t.values).length).map((t) => {
      const epochs = Object.keys(t.values).map(Number).sort((a, b) => a - b);
      const pruned = t.state === TRIAL.PRUNED;
      return { x: epochs, y: epochs.map((e) => t.values[String(e)]), mode: "lines", name: "#" + t.number,
        opacity: pruned ? 0.25 : 0.9, line: { width: report.best && t.number === report.best.number ? 3 : 1.2 } };
    });
    const shapes = (report.rungs || []).map((r) => ({ type: "line", x0: r, x1: r, yref: "paper", y0: 0, y1: 1,
      line: { color: "#c77d10", dash: "dot", width: 1 } }));
    Plotly.react("chart-curves", traces, layout("epoch", report.objective, { shapes: shapes, showlegend: false }), PLOT_CONFIG);
  }

  // --- live updates --------------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/sweeps/${sweepId}/`);
    socket.onopen = () => { retry = 0; load(); };
    socket.onmessage = () => soon();
    socket.onclose = (event) => {
      if (event.code === 4403) return;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry);
    };
  }

  load();
  connect();
})();
