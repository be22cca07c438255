// Live experiment page: draw the stored history, then extend the charts from the websocket.
// A (re)connecting socket asks for every epoch after the last one shown, so the page ends with
// no gaps and no duplicate points. The experiment's state comes as Experiment.summary_dict() (in the
// page data, the metrics API and every status message); statuses and their sets come from the server.
(function () {
  "use strict";
  const info = JSON.parse(document.getElementById("experiment-data").textContent);
  const experiment = info.experiment;
  const id = experiment.id;
  const STATUS = info.states.status;
  const FINAL = new Set(info.states.final);
  const SETS = { active: info.states.active, resumable: info.states.resumable, extendable: info.states.extendable };
  const epochs = new Map(); // epoch number -> metrics
  let lastEpoch = 0;
  let totalEpochs = experiment.epochs || 1;
  let status = experiment.status;
  let startedAt = experiment.started_at ? new Date(experiment.started_at) : null;
  let finishedAt = experiment.finished_at ? new Date(experiment.finished_at) : null;
  let bestEpoch = experiment.best_epoch || null;
  let socket = null;
  let retry = 0;
  let drawn = false;

  const $ = (sel) => document.querySelector(sel);
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
  const num = (v, d = 4) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  const duration = (s) => {
    if (s === null || !isFinite(s)) return "–";
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  };

  const TABLE_ROWS = 500; // the newest epochs; the charts show them all
  const COLORS = { train: "#3656d8", val: "#e0702d", lr: "#1f9d55", time: "#7b4fd0" };
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  function layout(ytitle, opts = {}) {
    const shapes = bestEpoch && opts.marker ? [{ type: "line", x0: bestEpoch, x1: bestEpoch, yref: "paper", y0: 0, y1: 1,
      line: { color: "#c77d10", dash: "dot", width: 2 } }] : [];
    const label = status === STATUS.STOPPED_EARLY ? "best · stopped early" : "best epoch";
    const annotations = bestEpoch && opts.marker ? [{ x: bestEpoch, yref: "paper", y: 1, text: label,
      showarrow: false, yanchor: "bottom", font: { color: "#8a5509", size: 11 } }] : [];
    return {
      margin: { t: 16, r: 10, b: 40, l: 60 }, height: opts.height || 320,
      xaxis: epochAxis(),
      yaxis: { title: { text: ytitle }, range: opts.range, rangemode: "tozero", type: opts.log ? "log" : "linear",
               exponentformat: "e" },
      legend: { orientation: "h", y: 1.14 }, font: { family: "system-ui, sans-serif", size: 12 },
      shapes: shapes, annotations: annotations, showlegend: opts.legend !== false,
    };
  }
  // Whole epochs only, 1 to the planned last one (bars centred on theirs): no 0.5 ticks, no epoch 0.
  function epochAxis() {
    const last = Math.max(totalEpochs, lastEpoch, 1);
    return { title: { text: "epoch" }, range: [0.5, last + 0.5], tick0: 1, dtick: Math.max(1, Math.ceil(last / 10)),
             tickformat: "d" };
  }
  // A long history comes downsampled by the server (at most ~1,500 points a line, each bucket's lowest
  // and highest point, and a min/max band): the lines are that, then the epochs that came after it.
  let chart = null;
  function series(r, key) {
    const lines = chart && chart.lines[key];
    const after = lines ? r.filter((m) => m.epoch > chart.until) : r;
    return { x: (lines ? lines.x : []).concat(after.map((m) => m.epoch)), y: (lines ? lines.y : []).concat(after.map((m) => m[key])) };
  }
  function band(key, color) {
    const lines = chart && chart.lines[key];
    if (!lines) return [];
    const edge = { mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false };
    return [{ ...edge, x: lines.band_x, y: lines.low }, { ...edge, x: lines.band_x, y: lines.high, fill: "tonexty", fillcolor: color + "33" }];
  }
  const line = (r, key, name, color) => ({ ...series(r, key), name: name, mode: chart ? "lines" : "lines+markers", line: { color: color } });

  function rows() { return [...epochs.values()].sort((a, b) => a.epoch - b.epoch); }

  function redraw() {
    const r = rows();
    Plotly.react("chart-loss", [line(r, "train_loss", "train", COLORS.train), line(r, "val_loss", "validation", COLORS.val),
      ...band("train_loss", COLORS.train), ...band("val_loss", COLORS.val)], layout("loss", { marker: true }), PLOT_CONFIG);
    Plotly.react("chart-acc", [line(r, "train_acc", "train", COLORS.train), line(r, "val_acc", "validation", COLORS.val),
      ...band("train_acc", COLORS.train), ...band("val_acc", COLORS.val)], layout("accuracy", { range: [0, 1.02], marker: true }), PLOT_CONFIG);
    Plotly.react("chart-lr", [line(r, "lr", "learning rate", COLORS.lr)],
      layout("learning rate", { height: 240, legend: false }), PLOT_CONFIG);
    Plotly.react("chart-time", [{ ...series(r, "seconds"), name: "seconds", type: "bar", marker: { color: COLORS.time } }],
      layout("seconds", { height: 240, legend: false }), PLOT_CONFIG);
    drawn = true;
    renderTable();
  }

  function extend(fresh) {
    fresh = chart ? fresh.filter((m) => m.epoch > chart.until) : fresh; // the rest is in the downsampled lines
    const x = fresh.map((m) => m.epoch);
    const col = (k) => fresh.map((m) => m[k]);
    if (x.length) {
      Plotly.extendTraces("chart-loss", { x: [x, x], y: [col("train_loss"), col("val_loss")] }, [0, 1]);
      Plotly.extendTraces("chart-acc", { x: [x, x], y: [col("train_acc"), col("val_acc")] }, [0, 1]);
      Plotly.extendTraces("chart-lr", { x: [x], y: [col("lr")] }, [0]);
      Plotly.extendTraces("chart-time", { x: [x], y: [col("seconds")] }, [0]);
    }
    renderTable();
  }

  function renderTable() {
    const r = rows().reverse().slice(0, TABLE_ROWS);
    $("#epoch-table tbody").innerHTML = r.map((m) =>
      `<tr${m.epoch === bestEpoch ? ' class="best"' : ""}><td class="num">${m.epoch}</td><td class="num">${num(m.train_loss)}</td><td class="num">${pct(m.train_acc)}</td>` +
      `<td class="num">${num(m.val_loss)}</td><td class="num">${pct(m.val_acc)}</td><td class="num">${Number(m.lr).toExponential(2)}</td>` +
      `<td class="num">${num(m.seconds, 1)}</td></tr>`).join("");
  }

  function addEpochs(list) {
    const fresh = list.filter((m) => !epochs.has(m.epoch)).sort((a, b) => a.epoch - b.epoch);
    if (!fresh.length) return;
    const appendOnly = drawn && fresh[0].epoch === lastEpoch + 1 && fresh.every((m, i) => m.epoch === fresh[0].epoch + i);
    fresh.forEach((m) => epochs.set(m.epoch, m));
    lastEpoch = Math.max(lastEpoch, ...fresh.map((m) => m.epoch));
    if (appendOnly) extend(fresh); else redraw();
    const m = epochs.get(lastEpoch);
    $("#stat-epoch").textContent = lastEpoch;
    $("#stat-train-loss").textContent = num(m.train_loss);
    $("#stat-val-acc").textContent = pct(m.val_acc);
    if (!FINAL.has(status)) setProgress(lastEpoch / totalEpochs, `Epoch ${lastEpoch} of ${totalEpochs} done`);
    updateClock();
  }

  function setProgress(fraction, text) {
    const f = Math.max(0, Math.min(1, fraction));
    $("#progress-bar").style.width = (100 * f).toFixed(1) + "%";
    $("#progress-pct").textContent = (100 * f).toFixed(0) + "%";
    $("#progress-text").textContent = text;
  }

  function updateClock() {
    if (!startedAt) { $("#stat-elapsed").textContent = "–"; $("#stat-eta").textContent = "–"; return; }
    const end = FINAL.has(status) && finishedAt ? finishedAt : new Date();
    $("#stat-elapsed").textContent = duration((end - startedAt) / 1000);
    if (FINAL.has(status)) { $("#stat-eta").textContent = "done"; return; }
    const r = rows();
    const recent = r.slice(-3);
    if (status !== STATUS.RUNNING || !recent.length) { $("#stat-eta").textContent = "–"; return; }
    const perEpoch = recent.reduce((s, m) => s + m.seconds, 0) / recent.length;
    $("#stat-eta").textContent = duration(perEpoch * (totalEpochs - lastEpoch));
  }

  function showActions() {
    document.querySelectorAll("[data-show-when]").forEach((el) => {
      el.hidden = !SETS[el.dataset.showWhen].includes(status);
    });
  }

  function setStatus(msg) {
    if (msg.started) {
      // A (re)started run redoes the epochs after its checkpoint: forget them, they come again.
      const keep = msg.checkpoint_epoch || 0;
      if (lastEpoch > keep) {
        [...epochs.keys()].filter((e) => e > keep).forEach((e) => epochs.delete(e));
        lastEpoch = keep;
        redraw();
      }
    }
    const changedBest = (msg.best_epoch || null) !== bestEpoch;
    const changedEpochs = Boolean(msg.epochs) && msg.epochs !== totalEpochs; // the axis spans the planned epochs
    status = msg.status;
    if (msg.epochs) { totalEpochs = msg.epochs; $("#stat-epochs").textContent = totalEpochs; }
    if (msg.started_at !== undefined) startedAt = msg.started_at ? new Date(msg.started_at) : null;
    if (msg.finished_at !== undefined) finishedAt = msg.finished_at ? new Date(msg.finished_at) : null;
    bestEpoch = msg.best_epoch || null;
    const badge = $("#status");
    badge.className = "badge " + msg.status;
    badge.dataset.status = msg.status;
    badge.textContent = (msg.status_label || msg.status) + (msg.cancel_requested ? " (stopping…)" : "");
    $("#error-box").hidden = !msg.error;
    $("#error-text").textContent = msg.error || "";
    $("#stop-box").hidden = !msg.stop_reason;
    $("#stop-text").textContent = msg.stop_reason || "";
    if (msg.checkpoint_epoch !== undefined && msg.checkpoint_epoch !== null) {
      $("#checkpoint-text").hidden = false;
      $("#checkpoint-epoch").textContent = msg.checkpoint_epoch;
    }
    if (msg.test_metrics && msg.test_metrics.accuracy !== undefined) $("#stat-test-acc").textContent = pct(msg.test_metrics.accuracy);
    if (status === STATUS.QUEUED) setProgress(lastEpoch / totalEpochs, "Waiting for a worker…");
    else if (status === STATUS.RUNNING && lastEpoch === 0) setProgress(0, "Starting…");
    else if (status === STATUS.RUNNING) setProgress(lastEpoch / totalEpochs, `Epoch ${lastEpoch} of ${totalEpochs} done`);
    else if (FINAL.has(status)) setProgress(status === STATUS.SUCCEEDED ? 1 : lastEpoch / totalEpochs,
      `${msg.status_label || status} after ${lastEpoch} epoch${lastEpoch === 1 ? "" : "s"}`);
    if ((changedBest || changedEpochs) && drawn) redraw();
    showActions();
    updateClock();
    document.dispatchEvent(new CustomEvent("experiment-status", { detail: msg }));
  }

  function onProgress(p) {
    if (FINAL.has(status)) return;
    const done = (p.epoch - 1 + p.batch / p.batches) / totalEpochs;
    setProgress(done, `Epoch ${p.epoch} of ${totalEpochs} · batch ${p.batch}/${p.batches} · loss ${num(p.loss)}`);
  }

  const LOG_LINES = 400;
  function showLog(lines) {
    // The whole tail, from the history a (re)connecting page asks for: no line lost while the page loaded.
    const log = $("#log");
    log.textContent = lines.slice(-LOG_LINES).map((l) => l + "\n").join("");
    log.scrollTop = log.scrollHeight;
  }

  function addLog(line) {
    const log = $("#log");
    const lines = log.textContent.split("\n").filter(Boolean);
    if (lines.length && lines[lines.length - 1] === line) return; // already in the history
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    lines.push(line);
    log.textContent = lines.slice(-LOG_LINES).map((l) => l + "\n").join("");
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/experiments/${id}/`);
    socket.onopen = () => {
      retry = 0;
      document.body.dataset.socket = "open";
      socket.send(JSON.stringify({ type: "backfill", after_epoch: lastEpoch }));
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "history") { setStatus(msg); addEpochs(msg.history); if (msg.log) showLog(msg.log); }
      else if (msg.type === "epoch") {
        if (msg.metrics.epoch > lastEpoch + 1) socket.send(JSON.stringify({ type: "backfill", after_epoch: lastEpoch }));
        else addEpochs([msg.metrics]);
      }
      else if (msg.type === "status") setStatus(msg);
      else if (msg.type === "progress") onProgress(msg);
      else if (msg.type === "log") addLog(msg.line);
    };
    socket.onclose = (event) => {
      document.body.dataset.socket = "closed";
      if (event.code === 4403) { setProgress(0, "You no longer have access to this experiment."); return; }
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 1000 * retry);
    };
  }

  showActions();
  const log = $("#log");
  log.scrollTop = log.scrollHeight;
  setInterval(updateClock, 1000);
  fetch(info.metrics_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
    .then((data) => { chart = data.chart || null; redraw(); setStatus(data); addEpochs(data.history); })
    .catch(() => redraw())
    .finally(connect);
})();
