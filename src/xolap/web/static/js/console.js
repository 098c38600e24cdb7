// Admin SQL console: a CodeMirror SQL editor whose Run posts to the operations API's query route (admin scope, the
// same guard, executor and limits as `xolap query --admin`); sample queries load into the editor with one click and
// run. A run is tagged: its progress is followed as in the dashboards' custom tab (query-progress.js) and Cancel stops
// it on the server. Errors, in plain words, replace the previous result (no stale rows stay on screen).
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
  const cancelButton = root.querySelector("[data-action=cancel]");
  const maxRows = root.querySelector("input[name=max_rows]");
  const headers = { Accept: "application/json", "Content-Type": "application/json", [csrfHeader]: csrf };
  let running = null; // the tag of the query running now

  // what went wrong, first in plain words (the server's message keeps its detail)
  const ERROR_WORDS = {
    guard: "This query is not allowed", invalid: "Check the query", cancelled: "Cancelled",
    timeout: "The query took too long", too_many_rows: "The result is too large",
    too_many_rows_read: "The query reads too many rows", too_many_bytes_read: "The query reads too much data",
    memory: "The query needs too much memory", unavailable: "The analytics engine is not available",
    signed_out: "Signed out",
  };

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

  function showError(kind, message) {
    const words = ERROR_WORDS[kind] || "The query failed";
    const text = String(message || "").replace(/^(error \([a-z_]+\)|refused): /, "");
    error.hidden = false;
    error.replaceChildren(el("p", { class: "error-message" }, [el("strong", { text: words + ": " }), document.createTextNode(text)]));
  }

  async function cancel() {
    const tag = running;
    if (!tag) return;
    status.textContent = "Cancelling…";
    try {
      await fetch(`${api}/${tag}/cancel`, { method: "POST", credentials: "same-origin", headers });
    } catch (_) { /* the query's own answer says how it ended */ }
  }

  async function run() {
    if (running) return;
    const tag = window.XolapQueryProgress.newTag();
    running = tag;
    clear();
    runButton.disabled = true;
    cancelButton.disabled = false;
    status.className = "status";
    const stopProgress = window.XolapQueryProgress.follow(progress, status, async () => {
      const answer = await fetch(`${api}/${tag}/progress`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      return answer.ok ? answer.json() : null;
    }, () => running === tag);
    try {
      const body = { sql: editor.getValue(), scope: "admin", tag };
      const limit = parseInt(maxRows.value, 10);
      if (limit > 0) body.max_rows = limit;
      const response = await fetch(api, {
        method: "POST", credentials: "same-origin",
        headers, body: JSON.stringify(body),
      });
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      if (response.status === 401) { // the session ended: said as such, with a way back
        status.textContent = "Failed.";
        showError("signed_out", "you are signed out (the session ended, or you logged out in another tab)");
        const here = location.pathname + location.search;
        error.append(el("p", {}, [el("a", { href: "/login?next=" + encodeURIComponent(here), class: "login-again", text: "Log in again" })]));
        return;
      }
      if (!response.ok) {
        const failure = (data && (data.error || data.detail)) || { message: response.statusText };
        const kind = typeof failure === "object" ? failure.kind : null;
        const message = typeof failure === "string" ? failure : failure.message;
        status.textContent = kind === "cancelled" ? "Cancelled." : "Failed.";
        showError(kind, message || "the query failed");
        return;
      }
      const columns = data.columns.map((c) => (typeof c === "string" ? c : c.name));
      output.replaceChildren(table(columns, data.rows));
      status.textContent = `${window.xolapCounted(data.row_count, "row")} in ${Math.round(data.elapsed_ms)} ms` +
        (data.truncated ? ` — stopped at the row limit (${data.max_result_rows}); more rows exist` : "");
      status.className = data.truncated ? "status warning truncated" : "status";
    } catch (failure) {
      status.textContent = "Failed.";
      showError("unreachable", "the server could not be reached (" + failure.message + "). Check your connection and try again.");
    } finally {
      stopProgress();
      running = null;
      runButton.disabled = false;
      cancelButton.disabled = true;
    }
  }

  runButton.addEventListener("click", run);
  // the row limit is not in a form: Enter in it runs, as Run does
  maxRows.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !runButton.disabled) { event.preventDefault(); run(); }
  });
  cancelButton.addEventListener("click", cancel);
  window.XolapQueryProgress.cancelOnLeave(() => running, (tag) => `${api}/${tag}/cancel`, headers);
  for (const button of root.querySelectorAll("[data-sample]")) {
    button.addEventListener("click", () => {
      const source = root.querySelector(`textarea[data-sample-sql="${button.dataset.sample}"]`);
      editor.setValue(source.value);
      run();
    });
  }
  if (new URLSearchParams(location.search).has("sample")) run();
  window.xolapConsole = { run, cancel };
})();
