// Analytics dashboards (section and project): category tabs drawn with vega-embed, date filter, details panels,
// and the custom tab (CodeMirror SQL + Vega-Lite editors, run with progress and cancel, save/load, exports).
// Talks only to the JSON API under data-api of #dashboard; every request carries the CSRF token of the page.
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;
  const api = root.dataset.api;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const csrfHeader = (document.querySelector('meta[name="csrf-header"]') || {}).content || "X-CSRF-Token";
  const loaded = new Map(); // tab key -> true once drawn for the current date range

  // ---------- helpers ----------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function dateQuery() {
    const form = document.getElementById("date-filter");
    const params = new URLSearchParams();
    if (form) {
      for (const name of ["start", "end"]) {
        const value = form.elements[name].value;
        if (value) params.set(name, value);
      }
    }
    return params;
  }

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers[csrfHeader] = csrf;
    const response = await fetch(api + path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response;
  }

  async function json(method, path, body) {
    const response = await request(method, path, body);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = (data && (data.error || data.detail)) || { message: response.statusText };
      const message = typeof error === "string" ? error : (error.message || JSON.stringify(error));
      const failure = new Error(message);
      failure.kind = (error && error.kind) || "http_" + response.status;
      failure.status = response.status;
      throw failure;
    }
    return data;
  }

  function records(result) {
    const names = result.columns.map((c) => c.name);
    return result.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
  }

  function resultTable(columns, rows, limit) {
    const shown = rows.slice(0, limit || 200);
    const table = el("table", { class: "data-table" });
    table.append(el("thead", {}, [el("tr", {}, columns.map((c) => el("th", { text: c })))]));
    const body = el("tbody");
    for (const row of shown) {
      body.append(el("tr", {}, columns.map((c, i) => {
        const value = Array.isArray(row) ? row[i] : row[c];
        return el("td", { text: value === null || value === undefined ? "∅" : typeof value === "object" ? JSON.stringify(value) : String(value) });
      })));
    }
    table.append(body);
    const wrap = el("div", { class: "table-wrap" }, [table]);
    if (rows.length > shown.length) wrap.append(el("p", { class: "muted", text: `Showing ${shown.length} of ${rows.length} rows.` }));
    return wrap;
  }

  // Charts never load anything: every load and every image/link URL is refused here (the server's sanitizer already
  // refuses specs that name one, and the CSP blocks other origins), and expressions run in Vega's interpreter
  // instead of eval, so the page's CSP needs no 'unsafe-eval'.
  function refuseLoad(uri) {
    return Promise.reject(new Error("charts may not load anything (" + String(uri).slice(0, 80) + ")"));
  }
  const INLINE_IMAGE = /^data:image\/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]*$/;
  const noLoader = {
    load: refuseLoad, http: refuseLoad, file: refuseLoad,
    // image marks may only show inline images (the same rule as the server's sanitizer)
    sanitize: (uri) => (INLINE_IMAGE.test(String(uri)) ? Promise.resolve({ href: String(uri) }) : refuseLoad(uri)),
  };
  const embedOptions = {
    actions: false, renderer: "svg", mode: "vega-lite", loader: noLoader,
    ast: true, expr: window.vegaInterpreter && window.vegaInterpreter.expressionInterpreter,
  };

  async function draw(target, spec) {
    target.replaceChildren();
    if (!embedOptions.expr) throw new Error("the chart scripts are missing (vega-interpreter.js): run make assets");
    const result = await vegaEmbed(target, spec, embedOptions);
    target.dataset.drawn = "true";
    return result;
  }

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function exportTo(path, body, filename, status) {
    status.textContent = "Exporting…";
    const response = body === undefined ? await request("GET", path) : await request("POST", path, body);
    if (!response.ok) {
      let message = response.statusText;
      try { const data = await response.json(); message = (data.error && data.error.message) || data.detail || message; } catch (_) { /* not JSON */ }
      status.textContent = "Export failed: " + message;
      status.className = "status error";
      return;
    }
    download(await response.blob(), filename);
    status.textContent = "Exported " + filename;
    status.className = "status";
  }

  // ---------- tabs ----------
  const tabs = Array.from(root.querySelectorAll("[role=tab]"));
  function activate(tab) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    const key = tab.dataset.tab;
    if (!loaded.get(key)) {
      loaded.set(key, true);
      if (tab.dataset.kind === "category") loadCategory(key);
      if (tab.dataset.kind === "custom") initCustom();
    }
    history.replaceState(null, "", "#" + key);
  }
  for (const tab of tabs) tab.addEventListener("click", () => activate(tab));

  // ---------- categories ----------
  function renderChartPanel(panel, data) {
    const chart = panel.querySelector(".chart");
    const details = panel.querySelector(".details");
    const meta = panel.querySelector(".meta");
    meta.textContent = `${data.rows.length} rows · ${Math.round(data.elapsed_ms)} ms` + (data.truncated ? " · truncated" : "");
    details.replaceChildren(
      el("h4", { text: "Data" }),
      data.rows.length ? resultTable(data.columns, data.rows, 200) : el("p", { class: "muted", text: "No rows." }),
      el("h4", { text: "SQL" }),
      el("pre", { class: "sql", text: data.sql }),
      el("h4", { text: "Parameters" }),
      el("pre", { class: "sql", text: JSON.stringify(data.parameters, null, 2) }),
    );
    if (!data.enough_data) {
      chart.replaceChildren(el("div", { class: "empty-state", text: "Not enough data yet for this chart." }));
      chart.dataset.drawn = "empty";
      return Promise.resolve();
    }
    return draw(chart, data.spec);
  }

  async function loadCategory(key) {
    const panel = document.getElementById("panel-" + key);
    const chart = panel.querySelector(".chart");
    chart.replaceChildren(el("div", { class: "loading", text: "Loading…" }));
    try {
      const query = dateQuery().toString();
      const data = await json("GET", `/categories/${encodeURIComponent(key)}${query ? "?" + query : ""}`);
      await renderChartPanel(panel, data);
    } catch (error) {
      chart.replaceChildren(el("div", { class: "error", text: error.message }));
      loaded.delete(key);
    }
  }

  for (const button of root.querySelectorAll("[data-export-category]")) {
    button.addEventListener("click", () => {
      const key = button.dataset.exportCategory;
      const format = button.dataset.format;
      const query = dateQuery();
      query.set("format", format);
      const path = `/categories/${encodeURIComponent(key)}/export?${query}`;
      exportTo(path, undefined, `${key}.${format}`, button.closest(".panel").querySelector(".status"));
    });
  }

  // ---------- date filter ----------
  const filter = document.getElementById("date-filter");
  if (filter) {
    filter.addEventListener("submit", (event) => {
      event.preventDefault();
      const url = new URL(location.href);
      for (const [name, value] of [["start", filter.elements.start.value], ["end", filter.elements.end.value]]) {
        if (value) url.searchParams.set(name, value); else url.searchParams.delete(name);
      }
      history.replaceState(null, "", url);
      for (const key of Array.from(loaded.keys())) if (key !== "custom") loaded.delete(key);
      document.body.dispatchEvent(new CustomEvent("filter-changed"));
      const current = tabs.find((t) => t.getAttribute("aria-selected") === "true");
      if (current) activate(current);
    });
  }

  // ---------- custom tab ----------
  let custom = null;
  function initCustom() {
    if (custom) return;
    const panel = document.getElementById("panel-custom");
    const sqlArea = panel.querySelector("textarea[name=sql]");
    const specArea = panel.querySelector("textarea[name=spec]");
    const make = window.XolapEditor && window.XolapEditor.fromTextarea;
    const run = () => runCustom();
    const sqlEditor = make ? make(sqlArea, { language: "sql", onRun: run }) : { getValue: () => sqlArea.value, setValue: (t) => { sqlArea.value = t; } };
    const specEditor = make ? make(specArea, { language: "json", onRun: run }) : { getValue: () => specArea.value, setValue: (t) => { specArea.value = t; } };
    custom = {
      panel, sqlEditor, specEditor,
      status: panel.querySelector(".status"),
      error: panel.querySelector(".query-error"),
      progress: panel.querySelector("progress"),
      runButton: panel.querySelector("[data-action=run]"),
      cancelButton: panel.querySelector("[data-action=cancel]"),
      chart: panel.querySelector(".chart"),
      data: panel.querySelector(".result-data"),
      savedSelect: panel.querySelector("select[name=saved]"),
      titleInput: panel.querySelector("input[name=title]"),
      tag: null, savedId: null, savedEditable: false,
      deleteButton: panel.querySelector("[data-action=delete]"),
    };
    custom.runButton.addEventListener("click", run);
    custom.cancelButton.addEventListener("click", cancelCustom);
    panel.querySelector("[data-action=save]").addEventListener("click", saveViz);
    panel.querySelector("[data-action=load]").addEventListener("click", loadViz);
    custom.deleteButton.addEventListener("click", deleteViz);
    custom.savedSelect.addEventListener("change", () => {
      const option = custom.savedSelect.selectedOptions[0];
      custom.deleteButton.disabled = Boolean(option && option.value && option.dataset.canEdit !== "true");
    });
    for (const button of panel.querySelectorAll("[data-export-custom]")) {
      button.addEventListener("click", () => exportCustom(button.dataset.exportCustom));
    }
    refreshSaved();
  }

  function newTag() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "q-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function parseSpec() {
    const text = custom.specEditor.getValue().trim();
    if (!text) return null;
    try { return JSON.parse(text); } catch (error) {
      throw Object.assign(new Error("Vega-Lite spec is not valid JSON: " + error.message), { kind: "spec" });
    }
  }

  function showError(error) {
    custom.error.hidden = false;
    custom.error.replaceChildren(el("strong", { text: (error.kind || "error") + ": " }), document.createTextNode(error.message));
  }

  async function runCustom() {
    if (custom.tag) return;
    custom.error.hidden = true;
    let spec;
    try { spec = parseSpec(); } catch (error) { showError(error); return; }
    const tag = newTag();
    custom.tag = tag;
    custom.runButton.disabled = true;
    custom.cancelButton.disabled = false;
    custom.progress.hidden = false;
    custom.progress.removeAttribute("value");
    custom.status.textContent = "Running…";
    custom.status.className = "status";
    const poll = setInterval(async () => {
      try {
        const p = await json("GET", `/query/${tag}/progress`);
        if (p.running) {
          if (p.fraction !== null && p.fraction !== undefined) custom.progress.value = p.fraction;
          custom.status.textContent = `Running… ${p.rows_read.toLocaleString()} rows read, ${p.elapsed_s.toFixed(1)} s`;
        }
      } catch (_) { /* progress is best effort */ }
    }, 400);
    try {
      const result = await json("POST", "/query", { sql: custom.sqlEditor.getValue(), tag });
      await showResult(result, spec);
    } catch (error) {
      custom.status.textContent = error.kind === "cancelled" ? "Cancelled." : "Failed.";
      showError(error);
    } finally {
      clearInterval(poll);
      custom.tag = null;
      custom.runButton.disabled = false;
      custom.cancelButton.disabled = true;
      custom.progress.hidden = true;
    }
  }

  async function showResult(result, spec) {
    const rows = records(result);
    const names = result.columns.map((c) => c.name);
    custom.status.textContent = `${result.row_count} rows in ${Math.round(result.elapsed_ms)} ms` +
      (result.truncated ? " — TRUNCATED: the result hit the row limit, more rows exist" : "");
    custom.status.className = result.truncated ? "status warning truncated" : "status";
    custom.data.replaceChildren(resultTable(names, result.rows, 200));
    if (!spec) { custom.chart.replaceChildren(el("p", { class: "muted", text: "No Vega-Lite spec: data only." })); return; }
    if (!rows.length) { custom.chart.replaceChildren(el("div", { class: "empty-state", text: "Not enough data: the query returned no rows." })); return; }
    try {
      await draw(custom.chart, Object.assign({}, spec, { data: { values: rows } }));
    } catch (error) {
      showError(Object.assign(new Error(error.message), { kind: "spec" }));
    }
  }

  async function cancelCustom() {
    if (!custom.tag) return;
    custom.status.textContent = "Cancelling…";
    try { await json("POST", `/query/${custom.tag}/cancel`); } catch (error) { showError(error); }
  }

  async function refreshSaved(selectId) {
    try {
      const list = await json("GET", "/visualizations");
      custom.savedSelect.replaceChildren(el("option", { value: "", text: list.length ? "— choose a saved visualization —" : "— none saved yet —" }));
      for (const viz of list) {
        custom.savedSelect.append(el("option", { value: String(viz.id), text: viz.title + (viz.can_edit ? "" : " (shared)"),
                                                 "data-can-edit": String(Boolean(viz.can_edit)) }));
      }
      if (selectId) custom.savedSelect.value = String(selectId);
    } catch (error) { showError(error); }
  }

  async function saveViz() {
    custom.error.hidden = true;
    const title = custom.titleInput.value.trim();
    if (!title) { showError(Object.assign(new Error("give the visualization a title first"), { kind: "title" })); return; }
    let spec;
    try { spec = parseSpec() || {}; } catch (error) { showError(error); return; }
    const body = { title, sql: custom.sqlEditor.getValue(), spec };
    try {
      // Someone else's visualization is never overwritten: saving it makes the caller's own copy.
      const existing = custom.savedId && custom.savedEditable && custom.savedSelect.value === String(custom.savedId);
      const viz = existing ? await json("PUT", `/visualizations/${custom.savedId}`, body) : await json("POST", "/visualizations", body);
      custom.savedEditable = true;
      custom.savedId = viz.id;
      custom.status.textContent = `Saved “${viz.title}”.`;
      await refreshSaved(viz.id);
    } catch (error) { showError(error); }
  }

  async function loadViz() {
    const id = custom.savedSelect.value;
    if (!id) return;
    try {
      const viz = await json("GET", `/visualizations/${id}`);
      custom.sqlEditor.setValue(viz.sql);
      custom.specEditor.setValue(JSON.stringify(viz.spec, null, 2));
      custom.titleInput.value = viz.title;
      custom.savedId = viz.id;
      custom.savedEditable = Boolean(viz.can_edit);
      if (viz.spec_refusal) {
        showError(Object.assign(new Error("this saved chart is not drawn: " + viz.spec_refusal), { kind: "spec" }));
        return;
      }
      await runCustom();
    } catch (error) { showError(error); }
  }

  async function deleteViz() {
    const id = custom.savedSelect.value;
    if (!id || !confirm("Delete this saved visualization?")) return;
    try {
      await json("DELETE", `/visualizations/${id}`);
      custom.savedId = null;
      custom.status.textContent = "Deleted.";
      await refreshSaved();
    } catch (error) { showError(error); }
  }

  async function exportCustom(format) {
    let spec;
    try { spec = parseSpec(); } catch (error) { showError(error); return; }
    await exportTo(`/export?format=${format}`, { sql: custom.sqlEditor.getValue(), spec }, `custom.${format}`, custom.status);
  }

  // ---------- start ----------
  const wanted = location.hash.slice(1);
  activate(tabs.find((t) => t.dataset.tab === wanted) || tabs[0]);
  window.xolapDashboard = { activate, loaded };
})();
