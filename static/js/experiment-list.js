// Experiment lists: reload the tables whenever the websocket says an experiment of one of the
// user's teams changed (debounced), and once after every reconnect in case something was missed. The
// page's query (filters, sort, page) goes with each reload, so the tables stay as the user set them.
(function () {
  "use strict";
  const box = document.getElementById("experiment-tables");
  let timer = null;
  let retry = 0;

  function reload() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      fetch(box.dataset.url + location.search, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
        .then((html) => { box.innerHTML = html; box.dataset.version = String(Number(box.dataset.version || 0) + 1); })
        .catch(() => {});
    }, 250);
  }

  function connect(first) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/experiments/`);
    socket.onopen = () => { retry = 0; if (!first) reload(); };
    socket.onmessage = reload;
    socket.onclose = (event) => {
      if (event.code === 4403) return;
      retry = Math.min(retry + 1, 5);
      setTimeout(() => connect(false), 1000 * retry);
    };
  }
  connect(true);
})();
