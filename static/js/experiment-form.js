// Experiment form: presets fill in the fields; the resolved config (or the errors) is shown live,
// from the same validation the server applies when the form is submitted.
(function () {
  "use strict";
  const form = document.getElementById("experiment-form");
  const catalog = JSON.parse(document.getElementById("presets-catalog").textContent);
  const byName = {};
  Object.values(catalog).flat().forEach((p) => { byName[p.name] = p; });
  const kinds = Object.keys(catalog);
  let timer = null;
  let inflight = null;

  function setField(name, value) {
    const el = form.elements.namedItem(name);
    if (!el) return;
    if (el.type === "checkbox") el.checked = Boolean(value);
    else el.value = value;
  }

  function applyPresets() {
    const descriptions = [];
    kinds.forEach((kind) => {
      const chosen = form.elements.namedItem("preset_" + kind).value;
      if (!chosen) return;
      const preset = byName[chosen];
      Object.entries(preset.values).forEach(([k, v]) => setField(k, v));
      descriptions.push(`<strong>${preset.name}</strong>: ${preset.description}`);
    });
    describe();
    refresh();
  }

  function describe() {
    const lines = [];
    kinds.forEach((kind) => {
      const chosen = form.elements.namedItem("preset_" + kind).value;
      if (chosen) lines.push(`${chosen}: ${byName[chosen].description}`);
    });
    const box = document.getElementById("preset-description");
    box.textContent = "";
    lines.forEach((l) => { const div = document.createElement("div"); div.textContent = l; box.appendChild(div); });
  }

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(resolve, 250);
  }

  function resolve() {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const status = document.getElementById("resolved-status");
    const out = document.getElementById("resolved-config");
    // (form.dataset would be the form's "dataset" field, not its data attributes)
    fetch(form.getAttribute("data-resolve-url"), {
      method: "POST", body: new FormData(form), credentials: "same-origin", signal: inflight.signal,
      headers: { "X-CSRFToken": form.elements.namedItem("csrfmiddlewaretoken").value, Accept: "application/json" },
    }).then((r) => r.json().then((data) => ({ ok: r.ok, data: data })))
      .then(({ ok, data }) => {
        showExtras(ok ? data : {});
        if (ok) {
          status.textContent = `Valid. Runs on the ${data.queue} queue; this is exactly what will be saved.`;
          status.className = "small ok-text";
          out.textContent = JSON.stringify(data.config, null, 2);
        } else {
          status.className = "small error-text";
          status.textContent = "Fix these first: " + Object.entries(data.errors || {})
            .map(([k, v]) => `${k === "__all__" ? "form" : k}: ${v.join(" ")}`).join("; ");
        }
      }).catch(() => {});
  }

  // The run's length in optimizer steps, what adapting the recipe to the dataset changed, and the
  // preflight's warnings (the run may go ahead, but probably not as meant).
  function showExtras(data) {
    const steps = document.getElementById("resolved-steps");
    steps.hidden = !data.steps;
    steps.textContent = data.steps ? data.steps.text : "";
    const adapted = document.getElementById("resolved-adapted");
    adapted.hidden = !data.adapted;
    adapted.textContent = data.adapted ? "Adapted to the dataset: " + data.adapted + "." : "";
    const list = document.getElementById("resolved-warnings");
    list.textContent = "";
    Object.entries(data.warnings || {}).forEach(([field, message]) => {
      const li = document.createElement("li");
      li.textContent = message;
      li.dataset.field = field;
      list.appendChild(li);
    });
    list.hidden = !list.children.length;
  }

  kinds.forEach((kind) => form.elements.namedItem("preset_" + kind).addEventListener("change", applyPresets));
  form.addEventListener("input", (e) => { if (!e.target.name.startsWith("preset_")) refresh(); });
  form.addEventListener("change", (e) => { if (!e.target.name.startsWith("preset_")) refresh(); });
  describe();
  resolve();
})();
