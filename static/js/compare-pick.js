// Ticking runs to compare: every `input.compare-pick` on the page (its value an experiment's id, its
// data-label what the bar shows) adds to or removes from one selection, kept in this tab's sessionStorage
// under the bar's data-scope, so it survives paging, filtering and the tables' live reloads. The bar's
// "Compare (n)" button is enabled for data-min..data-max ticked runs and opens the compare page with them.
// Other scripts (the sweep page's "tick the best N") set the selection through window.comparePicker.
(function () {
  "use strict";
  const bar = document.querySelector("[data-compare-bar]");
  if (!bar) return;
  const MIN = Number(bar.dataset.min);
  const MAX = Number(bar.dataset.max);
  const KEY = "trainyard.compare." + bar.dataset.scope;
  const button = bar.querySelector("#compare-go");
  const hint = bar.querySelector("#compare-hint");
  const list = bar.querySelector("#compare-chosen");
  const clear = bar.querySelector("#compare-clear");
  let chosen = load(); // id (text) -> label, in the order ticked

  function load() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(KEY) || "[]");
      return new Map(Array.isArray(stored) ? stored.filter((e) => Array.isArray(e) && /^\d+$/.test(e[0])) : []);
    } catch (e) {
      return new Map();
    }
  }

  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify([...chosen])); } catch (e) { /* storage off: this page only */ }
  }

  // The checkboxes follow the selection (properties only: no DOM change, so the observer below stays quiet).
  function tickBoxes() {
    document.querySelectorAll("input.compare-pick").forEach((box) => { box.checked = chosen.has(box.value); });
  }

  function chip(id, label) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = label;
    text.title = label;
    li.appendChild(text);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "chip-remove";
    remove.dataset.id = id;
    remove.textContent = "×";
    remove.setAttribute("aria-label", "Untick " + label);
    li.appendChild(remove);
    return li;
  }

  function renderBar() {
    const n = chosen.size;
    button.textContent = `Compare (${n})`;
    button.disabled = n < MIN || n > MAX;
    if (n > MAX) hint.textContent = `At most ${MAX} runs can be compared: untick ${n - MAX}.`;
    else if (n < MIN) hint.textContent = `Tick ${MIN} to ${MAX} runs to compare them${n ? ` (${n} ticked)` : ""}.`;
    else hint.textContent = "";
    list.replaceChildren(...[...chosen].map(([id, label]) => chip(id, label)));
    clear.hidden = n === 0;
    bar.classList.toggle("has-picks", n > 0);
  }

  function changed() {
    save();
    tickBoxes();
    renderBar();
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains("compare-pick")) return;
    if (box.checked) chosen.set(box.value, box.dataset.label || "#" + box.value);
    else chosen.delete(box.value);
    changed();
  });

  list.addEventListener("click", (event) => {
    const id = event.target.dataset && event.target.dataset.id;
    if (id === undefined) return;
    chosen.delete(id);
    changed();
    button.focus();
  });

  clear.addEventListener("click", () => {
    chosen.clear();
    changed();
    button.focus();
  });

  bar.addEventListener("submit", (event) => {
    event.preventDefault(); // the stored selection, not only this page's checkboxes
    if (chosen.size < MIN || chosen.size > MAX) return;
    location.assign(`${bar.action}?ids=${[...chosen.keys()].join(",")}`);
  });

  // Tables redrawn by other scripts (live reloads, sorting) get their ticks back.
  const observer = new MutationObserver(tickBoxes);
  document.querySelectorAll("[data-compare-rows]").forEach((el) => observer.observe(el, { childList: true, subtree: true }));

  window.comparePicker = {
    // entries: [[id, label], …] replace the selection
    choose(entries) {
      chosen = new Map(entries.map(([id, label]) => [String(id), label]));
      changed();
    },
    has: (id) => chosen.has(String(id)),
    max: MAX,
  };
  changed();
})();
