// Sweep form: the space builder (one row per parameter: a list of values, a float range or an int
// range, optionally "only when <param> = <value>") writes the JSON the server validates into the
// `space` field; space presets fill the rows; the cost estimate is asked for as the user edits.
(function () {
  "use strict";
  const form = document.getElementById("experiment-form");
  const spaceField = form.elements.namedItem("space");
  const options = JSON.parse(document.getElementById("config-options").textContent);
  const presets = JSON.parse(document.getElementById("space-presets").textContent);
  const byName = Object.fromEntries(options.map((o) => [o.name, o]));
  const list = document.getElementById("space-params");
  let timer = null;
  let inflight = null;

  const el = (tag, attrs, children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "text") node.textContent = v; else node.setAttribute(k, v); });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  };
  const labelled = (text, input) => el("div", { class: "field" }, [el("label", { text: text }), input]);
  const select = (cls, choices, value) => {
    const s = el("select", { class: cls });
    choices.forEach(([v, t]) => { const o = el("option", { value: v, text: t }); if (String(v) === String(value)) o.selected = true; s.appendChild(o); });
    return s;
  };
  const parseValue = (text) => { try { return JSON.parse(text); } catch (e) { return text; } };
  const splitValues = (text) => text.split(",").map((t) => t.trim()).filter((t) => t !== "").map(parseValue);

  function addRow(param) {
    param = param || { name: "lr", kind: "float", low: 0.0001, high: 0.1, log: true };
    const row = el("div", { class: "space-param" });
    const name = select("param-name", options.map((o) => [o.name, o.name]), param.name);
    const kind = select("param-kind", [["values", "list of values"], ["float", "float range"], ["int", "int range"]], param.kind);
    const values = el("input", { class: "param-values", type: "text", placeholder: "e.g. 0.01, 0.1 or sgd, adamw" });
    values.value = (param.values || []).join(", ");
    const low = el("input", { class: "param-low", type: "number", step: "any" });
    const high = el("input", { class: "param-high", type: "number", step: "any" });
    low.value = param.low ?? ""; high.value = param.high ?? "";
    const log = el("input", { class: "param-log", type: "checkbox" });
    log.checked = Boolean(param.log);
    const step = el("input", { class: "param-step", type: "number", step: "any", min: "0" });
    step.value = param.step ?? "";
    const when = select("param-when", [["", "always"]].concat(options.map((o) => [o.name, "only when " + o.name + " ="])), param.whenName || "");
    const whenValue = el("input", { class: "param-when-value", type: "text", placeholder: "value(s), comma-separated" });
    whenValue.value = (param.whenValues || []).join(", ");
    const remove = el("button", { class: "btn small param-remove", type: "button", text: "Remove" });
    [labelled("Option", name), labelled("Kind", kind), labelled("Values", values), labelled("Low", low), labelled("High", high),
      labelled("Log scale", log), labelled("Step", step), labelled("Condition", when), labelled("Condition value", whenValue),
      el("div", { class: "field" }, [remove])].forEach((c) => row.appendChild(c));
    const sync = () => {
      const k = kind.value;
      values.parentNode.hidden = k !== "values";
      [low, high, log].forEach((i) => { i.parentNode.hidden = k === "values"; });
      step.parentNode.hidden = k !== "int";
      whenValue.parentNode.hidden = !when.value;
    };
    name.addEventListener("change", () => {
      const o = byName[name.value];
      kind.value = o.choices || o.type === "bool" ? "values" : o.type === "int" ? "int" : "float";
      if (o.choices) values.value = o.choices.join(", ");
      sync();
    });
    remove.addEventListener("click", () => { row.remove(); write(); });
    row.addEventListener("change", () => { sync(); write(); });
    row.addEventListener("input", write);
    sync();
    list.appendChild(row);
  }

  function rowSpec(row) {
    const q = (cls) => row.querySelector("." + cls);
    const kind = q("param-kind").value;
    let spec;
    if (kind === "values") spec = { values: splitValues(q("param-values").value) };
    else {
      spec = { type: kind, low: parseValue(q("param-low").value), high: parseValue(q("param-high").value) };
      if (q("param-log").checked) spec.log = true;
      if (kind === "int" && q("param-step").value) spec.step = parseValue(q("param-step").value);
    }
    if (q("param-when").value) spec.when = { [q("param-when").value]: splitValues(q("param-when-value").value) };
    return [q("param-name").value, spec];
  }

  function write() {
    const space = Object.fromEntries([...list.querySelectorAll(".space-param")].map(rowSpec));
    spaceField.value = JSON.stringify(space);
    estimateSoon();
  }

  function rowsFrom(space) {
    list.replaceChildren();
    Object.entries(space || {}).forEach(([name, spec]) => {
      if (Array.isArray(spec)) spec = { values: spec };
      const when = spec.when ? Object.entries(spec.when)[0] : null;
      const base = { name: name, whenName: when ? when[0] : "", whenValues: when ? [].concat(when[1]) : [] };
      if (spec.values) { addRow({ ...base, kind: "values", values: spec.values }); return; }
      const isInt = spec.type ? spec.type === "int" : (byName[name] || {}).type === "int";
      addRow({ ...base, kind: isInt ? "int" : "float", low: spec.low, high: spec.high, log: spec.log, step: spec.step });
    });
    write();
  }

  function estimateSoon() {
    clearTimeout(timer);
    timer = setTimeout(estimate, 300);
  }

  function estimate() {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const out = document.getElementById("estimate");
    fetch(form.getAttribute("data-estimate-url"), {
      method: "POST", body: new FormData(form), credentials: "same-origin", signal: inflight.signal,
      headers: { "X-CSRFToken": form.elements.namedItem("csrfmiddlewaretoken").value, Accept: "application/json" },
    }).then((r) => r.json().then((data) => ({ ok: r.ok, data: data })))
      .then(({ ok, data }) => {
        out.className = ok ? "small" : "small error-text";
        out.textContent = ok ? data.text : "Fix these first: " + Object.entries(data.errors || {})
          .map(([k, v]) => `${k === "__all__" ? "form" : k}: ${v.join(" ")}`).join("; ");
      }).catch(() => {});
  }

  document.getElementById("space-preset").addEventListener("change", (e) => {
    const preset = presets.find((p) => p.name === e.target.value);
    document.getElementById("space-preset-description").textContent = preset ? preset.description : "";
    if (preset) rowsFrom(preset.space);
  });
  document.getElementById("add-param").addEventListener("click", () => { addRow(); write(); });
  spaceField.addEventListener("change", () => { try { rowsFrom(JSON.parse(spaceField.value)); } catch (e) { /* shown by the server */ } });
  form.addEventListener("change", (e) => { if (!e.target.closest("#space-params")) estimateSoon(); });
  form.addEventListener("input", (e) => { if (!e.target.closest("#space-params")) estimateSoon(); });

  let initial = {};
  try { initial = JSON.parse(spaceField.value || "{}"); } catch (e) { initial = {}; }
  if (initial && Object.keys(initial).length) rowsFrom(initial); else { addRow(); write(); }
})();
