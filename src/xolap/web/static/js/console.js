// Admin SQL console: a CodeMirror SQL editor whose Run posts to the operations API's query route (admin scope, the
// same guard, executor and limits as `xolap query --admin`); sample queries load into the editor with one click and
// run. Errors replace the previous result (no stale rows stay on screen).
(function () {
  "use strict";

  const root = document.getElementById("sql-console");
  if (!root) return;
  const api = root.dataset.queryApi;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const csrfHeader = (document.querySelector('meta[name="csrf-header"]') || {}).content || "X-CSRF-Token";
  const area = root.querySelector("textarea[name=sql]");
  const make = window.XolapEditor && window.XolapEditor.fromTextarea;
  const editor = make ? make(area, { language: "sql", onRun: () => run() })
    : { getValue: () => area.value, setValue: (text) => { area.value = text; } };
  const status = root.querySelector(".status");
  const error = root.querySelector(".query-error");
  const output = root.querySelector(".result-data");
  const progress = root.querySelector("progress");
  const runButton = root.querySelector("[data-action=run]");
  const maxRows = root.querySelector("input[name=max_rows]");
  let running = false;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value; else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function table(columns, rows) {
    const head = el("thead", {}, [el("tr", {}, columns.map((c) => el("th", { text: c })))]);
    const body = el("tbody", {}, rows.map((row) => el("tr", {}, row.map((value) => el("td", {
      text: value === null || value === undefined ? "∅" : typeof value === "object" ? JSON.stringify(value) : String(value),
    })))));
    return el("div", { class: "table-wrap" }, [el("table", { class: "data-table" }, [head, body])]);
  }

  function clear() {
    error.hidden = true;
    error.replaceChildren();
    output.replaceChildren();
  }

  async function run() {
    if (running) return;
    running = true;
    clear();
    runButton.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value"); // indeterminate: the console gets no progress from the engine
    status.className = "status";
    status.textContent = "Running…";
    try {
      const body = { sql: editor.getValue(), scope: "admin" };
      const limit = parseInt(maxRows.value, 10);
      if (limit > 0) body.max_rows = limit;
      const response = await fetch(api, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", [csrfHeader]: csrf },
        body: JSON.stringify(body),
      });
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      if (!response.ok) {
        const failure = (data && (data.error || data.detail)) || { message: response.statusText };
        const message = typeof failure === "string" ? failure : failure.message;
        status.textContent = "Failed.";
        error.hidden = false;
        error.textContent = message || "the query failed";
        return;
      }
      const columns = data.columns.map((c) => (typeof c === "string" ? c : c.name));
      output.replaceChildren(table(columns, data.rows));
      status.textContent = `${data.row_count} rows in ${Math.round(data.elapsed_ms)} ms` +
        (data.truncated ? ` — stopped at the row limit (${data.max_result_rows}); more rows exist` : "");
      status.className = data.truncated ? "status warning truncated" : "status";
    } catch (failure) {
      status.textContent = "Failed.";
      error.hidden = false;
      error.textContent = "the server could not be reached: " + failure.message;
    } finally {
      running = false;
      runButton.disabled = false;
      progress.hidden = true;
    }
  }

  runButton.addEventListener("click", run);
  for (const button of root.querySelectorAll("[data-sample]")) {
    button.addEventListener("click", () => {
      const source = root.querySelector(`textarea[data-sample-sql="${button.dataset.sample}"]`);
      editor.setValue(source.value);
      run();
    });
  }
  if (new URLSearchParams(location.search).has("sample")) run();
  window.xolapConsole = { run };
})();
