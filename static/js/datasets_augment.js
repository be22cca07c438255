// Augmentation preview: the same sample images, each augmented n times by the chosen preset.
(function () {
  "use strict";
  const info = JSON.parse(document.getElementById("preview-data").textContent);
  const form = document.getElementById("preview-form");
  const grid = document.getElementById("preview-grid");
  const errorBox = document.getElementById("preview-error");
  const preset = document.getElementById("preset");
  const seed = document.getElementById("seed");

  function describe() {
    const option = preset.selectedOptions[0];
    const spec = option.dataset.spec;
    document.getElementById("preset-help").textContent =
      option.dataset.description + (spec ? " — " + spec : "");
    document.getElementById("custom-field").hidden = preset.value !== "custom";
  }

  function cell(src, caption, size) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = src;
    img.alt = caption;
    img.width = img.height = Math.max(64, Math.min(160, size));
    figure.appendChild(img);
    const fc = document.createElement("figcaption");
    fc.textContent = caption;
    figure.appendChild(fc);
    return figure;
  }

  function render(result) {
    grid.replaceChildren();
    result.rows.forEach((row) => {
      const line = document.createElement("div");
      line.className = "preview-row";
      const label = document.createElement("div");
      label.className = "preview-class";
      label.textContent = row.class;
      line.appendChild(label);
      line.appendChild(cell(row.original, "original", result.image_size)).classList.add("original");
      row.augmented.forEach((src, i) => line.appendChild(cell(src, "#" + (i + 1), result.image_size)));
      grid.appendChild(line);
    });
    grid.dataset.preset = result.preset;
  }

  function load() {
    const params = new URLSearchParams(new FormData(form));
    errorBox.hidden = true;
    grid.setAttribute("aria-busy", "true");
    fetch(info.url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body: body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.error || "The preview failed.");
        render(body);
      })
      .catch((err) => {
        errorBox.textContent = err.message;
        errorBox.hidden = false;
      })
      .finally(() => grid.removeAttribute("aria-busy"));
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  preset.addEventListener("change", () => { describe(); if (preset.value !== "custom") load(); });
  document.getElementById("reroll-button").addEventListener("click", () => {
    seed.value = String(Number(seed.value || 0) + 1);
    load();
  });
  describe();
  if (info.ready) load();
})();
