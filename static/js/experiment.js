// Live experiment page: draw the stored history, then extend the charts from the websocket.
// A (re)connecting socket asks for every epoch after the last one shown, so the page ends with
// no gaps and no duplicate points.
(function () {
  "use strict";
  const info = JSON.parse(document.getElementById("experiment-data").textContent);
  const id = info.id;
  const FINAL = new Set(["succeeded", "stopped_early", "failed", "cancelled"]);
  const epochs = new Map(); // epoch number -> metrics
  let lastEpoch = 0;
  let status = document.getElementById("status").dataset.status;
  const totalEpochs = info.epochs || 1;
  let socket = null;
  let retry = 0;
  let drawn = false;

  const $ = (sel) => document.querySelector(sel);
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
  const num = (v, d = 4) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));

  const layout = (ytitle, range) => ({
    margin: { t: 10, r: 10, b: 40, l: 55 }, height: 320,
    xaxis: { title: { text: "epoch" }, dtick: 1, rangemode: "tozero" },
    yaxis: { title: { text: ytitle }, range: range, rangemode: "tozero" },
    legend: { orientation: "h", y: 1.12 }, font: { family: "system-ui, sans-serif", size: 12 },
  });
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const COLORS = { train: "#3656d8", val: "#e0702d" };

  function series() {
    const rows = [...epochs.values()].sort((a, b) => a.epoch - b.epoch);
    const x = rows.map((r) => r.epoch);
    return {
      loss: [rows.map((r) => r.train_loss), rows.map((r) => r.val_loss)],
      acc: [rows.map((r) => r.train_acc), rows.map((r) => r.val_acc)],
      x,
    };
  }

  function traces(x, pair) {
    return [
      { x: x, y: pair[0], name: "train", mode: "lines+markers", line: { color: COLORS.train } },
      { x: x, y: pair[1], name: "validation", mode: "lines+markers", line: { color: COLORS.val } },
    ];
  }

  function redraw() {
    const s = series();
    Plotly.react("chart-loss", traces(s.x, s.loss), layout("loss"), PLOT_CONFIG);
    Plotly.react("chart-acc", traces(s.x, s.acc), layout("accuracy", [0, 1.02]), PLOT_CONFIG);
    drawn = true;
    renderTable();
  }

  function renderTable() {
    const rows = [...epochs.values()].sort((a, b) => b.epoch - a.epoch);
    $("#epoch-table tbody").innerHTML = rows.map((r) =>
      `<tr><td class="num">${r.epoch}</td><td class="num">${num(r.train_loss)}</td><td class="num">${pct(r.train_acc)}</td>` +
      `<td class="num">${num(r.val_loss)}</td><td class="num">${pct(r.val_acc)}</td><td class="num">${Number(r.lr).toExponential(2)}</td>` +
      `<td class="num">${num(r.seconds, 1)}</td></tr>`).join("");
  }

  function showStats(m) {
    $("#stat-epoch").textContent = lastEpoch;
    if (m) {
      $("#stat-train-loss").textContent = num(m.train_loss);
      $("#stat-val-acc").textContent = pct(m.val_acc);
    }
  }

  function addEpochs(list) {
    let fresh = list.filter((m) => !epochs.has(m.epoch)).sort((a, b) => a.epoch - b.epoch);
    if (!fresh.length) return;
    const appendOnly = drawn && fresh[0].epoch === lastEpoch + 1 &&
      fresh.every((m, i) => m.epoch === fresh[0].epoch + i);
    fresh.forEach((m) => epochs.set(m.epoch, m));
    lastEpoch = Math.max(lastEpoch, ...fresh.map((m) => m.epoch));
    if (appendOnly) {
      const x = [fresh.map((m) => m.epoch), fresh.map((m) => m.epoch)];
      Plotly.extendTraces("chart-loss", { x: x, y: [fresh.map((m) => m.train_loss), fresh.map((m) => m.val_loss)] }, [0, 1]);
      Plotly.extendTraces("chart-acc", { x: x, y: [fresh.map((m) => m.train_acc), fresh.map((m) => m.val_acc)] }, [0, 1]);
      renderTable();
    } else {
      redraw();
    }
    showStats(epochs.get(lastEpoch));
    if (!FINAL.has(status)) setProgress(lastEpoch / totalEpochs, `Epoch ${lastEpoch} of ${totalEpochs} done`);
  }

  function setProgress(fraction, text) {
    const f = Math.max(0, Math.min(1, fraction));
    $("#progress-bar").style.width = (100 * f).toFixed(1) + "%";
    $("#progress-pct").textContent = (100 * f).toFixed(0) + "%";
    $("#progress-text").textContent = text;
  }

  function setStatus(msg) {
    status = msg.status;
    const badge = $("#status");
    badge.className = "badge " + msg.status;
    badge.dataset.status = msg.status;
    badge.textContent = msg.status_label || msg.status;
    $("#error-box").hidden = !msg.error;
    $("#error-text").textContent = msg.error || "";
    if (msg.test_metrics && msg.test_metrics.accuracy !== undefined) $("#stat-test-acc").textContent = pct(msg.test_metrics.accuracy);
    if (status === "queued") setProgress(0, "Waiting for a worker…");
    else if (status === "running" && lastEpoch === 0) setProgress(0, "Starting…");
    else if (FINAL.has(status)) setProgress(status === "succeeded" ? 1 : lastEpoch / totalEpochs, (msg.status_label || status) + ` after ${lastEpoch} epoch${lastEpoch === 1 ? "" : "s"}`);
  }

  function onProgress(p) {
    if (FINAL.has(status)) return;
    const done = (p.epoch - 1 + p.batch / p.batches) / totalEpochs;
    setProgress(done, `Epoch ${p.epoch} of ${totalEpochs} · batch ${p.batch}/${p.batches} · loss ${num(p.loss)}`);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/experiments/${id}/`);
    socket.onopen = () => {
      retry = 0;
      socket.send(JSON.stringify({ type: "backfill", after_epoch: lastEpoch }));
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "history") { addEpochs(msg.epochs); setStatus(msg); }
      else if (msg.type === "epoch") {
        if (msg.metrics.epoch > lastEpoch + 1) socket.send(JSON.stringify({ type: "backfill", after_epoch: lastEpoch }));
        else addEpochs([msg.metrics]);
      }
      else if (msg.type === "status") setStatus(msg);
      else if (msg.type === "progress") onProgress(msg);
    };
    socket.onclose = (event) => {
      document.body.dataset.socket = "closed";
      if (event.code === 4403) { setProgress(0, "You no longer have access to this experiment."); return; }
      if (FINAL.has(status)) return;
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 1000 * retry);
    };
  }

  fetch(`/api/experiments/${id}/metrics/`, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
    .then((data) => { redraw(); addEpochs(data.epochs); setStatus(data); })
    .catch(() => redraw())
    .finally(connect);
})();
