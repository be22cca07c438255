// Upload page: send the archive in chunks through the API (webapp/datasets/api_chunked.py) with a progress
// bar, then follow to the dataset page, where processing shows its own progress. A dropped connection is
// retried by itself from the offset the server has; after a reload, choosing the same file again goes on
// from there too (the upload's address is kept in localStorage under the file's name, size and date).
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.localStorage || !window.Blob || !Blob.prototype.slice) return;
  const card = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const text = document.getElementById("upload-text");
  const alertBox = document.getElementById("upload-error");
  const button = form.querySelector("button[type=submit]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const FIELDS = ["team", "name", "description", "split_seed", "val_fraction", "test_fraction"];
  const RETRIES = 8;  // in a row, waiting 1, 2, 4 … 30 s between them

  class Stop extends Error {}  // an answer that ends the upload (its message is shown)

  function request(method, url, body, headers, onProgress) {
    // Resolves with {status, json} for every answer; rejects on a network error.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      Object.entries(headers || {}).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      if (onProgress) xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      xhr.addEventListener("load", () => {
        let json = {};
        try { json = JSON.parse(xhr.responseText || "{}"); } catch (e) { json = {}; }
        resolve({ status: xhr.status, json });
      });
      xhr.addEventListener("error", () => reject(new Error("network")));
      xhr.addEventListener("abort", () => reject(new Error("network")));
      xhr.send(body);
    });
  }

  function message(json) {
    const parts = [];
    if (json.error) parts.push(json.error);
    Object.entries(json.errors || {}).forEach(([field, errors]) => {
      const label = form.querySelector(`label[for=id_${field}]`);
      const name = field === "__all__" ? "" : (label ? label.textContent.trim() : field) + ": ";
      errors.forEach((e) => parts.push(name + e.message));
    });
    return parts.join(" ") || json.detail || "The upload failed.";
  }

  function show(done, size) {
    const pct = size ? Math.floor((100 * done) / size) : 100;
    bar.style.width = pct + "%";
    text.textContent = "Uploading… " + pct + "% of " + (size / 1048576).toFixed(1) + " MiB";
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function patient(work) {
    // Run `work` again after network errors and server errors, waiting longer each time.
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await work();
        if (answer.status < 500) return answer;
      } catch (e) { /* the connection dropped: try again */ }
      if (attempt >= RETRIES) throw new Stop("The upload was interrupted. Check the connection and choose the same file again to go on where it stopped.");
      text.textContent = "The connection dropped; trying again…";
      await sleep(Math.min(30000, 1000 * 2 ** attempt));
    }
  }

  function fields(file) {
    const data = { filename: file.name, size: file.size };
    FIELDS.forEach((name) => { const el = form.elements[name]; if (el) data[name] = el.value; });
    return data;
  }

  async function open(file, key) {
    // The upload this file was being sent to (same fields), or a new one: [url, offset, chunk size].
    const data = fields(file);
    const kept = JSON.parse(localStorage.getItem(key) || "null");
    if (kept && JSON.stringify(kept.data) === JSON.stringify(data)) {
      const known = await patient(() => request("GET", kept.url));
      if (known.status === 200) return [kept.url, known.json.offset, known.json.chunk_max];
    } else if (kept) {
      await request("DELETE", kept.url).catch(() => null);  // the form changed: start again
    }
    localStorage.removeItem(key);
    const made = await patient(() => request("POST", form.dataset.uploadsUrl, JSON.stringify(data), { "Content-Type": "application/json" }));
    if (made.status !== 201) throw new Stop(message(made.json));
    localStorage.setItem(key, JSON.stringify({ url: made.json.url, data }));
    return [made.json.url, 0, made.json.chunk_max];
  }

  async function send(file, url, offset, chunkMax) {
    const size = Math.min(Number(form.dataset.chunkBytes) || chunkMax, chunkMax);
    let stuck = 0;  // answers in a row that did not move the offset
    while (offset < file.size) {
      if (stuck > RETRIES) throw new Stop("The server keeps refusing the next chunk; choose the file again to retry.");
      const start = offset;
      const answer = await patient(async () => {
        const sent = await request("PATCH", url, file.slice(start, start + size),
          { "Content-Type": "application/octet-stream", "Upload-Offset": String(start) },
          (loaded) => show(start + loaded, file.size));
        if (sent.status === 400 && typeof sent.json.offset === "number") return { status: 409, json: sent.json };
        return sent;
      });
      if (answer.status !== 200 && answer.status !== 409) throw new Stop(message(answer.json));
      stuck = answer.json.offset > offset ? 0 : stuck + 1;
      offset = answer.json.offset;  // 409: the server has another offset; go on from there
      show(offset, file.size);
    }
  }

  async function upload(file) {
    const key = "trainyard-upload:" + [file.name, file.size, file.lastModified].join(":");
    for (;;) {
      const [url, offset, chunkMax] = await open(file, key);
      await send(file, url, offset, chunkMax);
      text.textContent = "Checking the archive…";
      const done = await patient(() => request("POST", url + "finish/"));
      if (done.status === 409) continue;  // bytes missing after all: send them
      localStorage.removeItem(key);  // finished or refused: the upload is gone either way
      if (done.status !== 201) throw new Stop(message(done.json));
      window.location.assign(done.json.url);
      return;
    }
  }

  form.addEventListener("submit", (event) => {
    const input = form.querySelector("input[type=file]");
    if (!input || !input.files.length) return;  // nothing to send: the server answers with the field error
    event.preventDefault();
    button.disabled = true;
    card.hidden = false;
    alertBox.hidden = true;
    show(0, input.files[0].size);
    upload(input.files[0]).catch((error) => {
      button.disabled = false;
      card.hidden = true;
      alertBox.textContent = error instanceof Stop ? error.message : "The upload failed: " + error;
      alertBox.hidden = false;
    });
  });
})();
