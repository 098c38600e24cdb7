// Analytics dashboards (section and project): category tabs drawn with vega-embed at their container's width, date
// filter with presets and browser-side validation, details panels, and the custom tab (schema browser, CodeMirror SQL
// + Vega-Lite editors, chart builder, run with honest progress and cancel, the page's dates on request, save/load,
// exports named by the server).
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

  function pageDates() {
    const form = document.getElementById("date-filter");
    return form ? { start: form.elements.start.value, end: form.elements.end.value } : { start: "", end: "" };
  }

  function dateQuery() {
    const params = new URLSearchParams();
    const dates = pageDates();
    for (const name of ["start", "end"]) if (dates[name]) params.set(name, dates[name]);
    return params;
  }

  // The reason a date range cannot be used, or "" (the server checks the same, this says it before asking).
  function dateProblem(dates) {
    const iso = /^\d{4}-\d{2}-\d{2}$/;
    for (const name of ["start", "end"]) {
      if (dates[name] && (!iso.test(dates[name]) || Number.isNaN(Date.parse(dates[name])))) {
        return `${name === "start" ? "From" : "To"}: ${dates[name]} is not a date (YYYY-MM-DD)`;
      }
    }
    if (dates.start && dates.end && dates.start > dates.end) {
      return `From (${dates.start}) is after To (${dates.end}): swap them or clear one`;
    }
    return "";
  }

  // No answer at all (server stopped, connection refused, request aborted) is an error in plain words, kind
  // "unreachable", never the browser's "Failed to fetch".
  const UNREACHABLE = "the server could not be reached; check your connection and try again";
  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers[csrfHeader] = csrf;
    try {
      return await fetch(api + path, {
        method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw Object.assign(new Error(UNREACHABLE), { kind: "unreachable", detail: String((error && error.message) || error) });
    }
  }

  // The session ended (logged out in another tab, expired, revoked): said as such, with a way back (loginLink).
  function signedOut() {
    return Object.assign(new Error("you are signed out (the session ended, or you logged out in another tab)"),
                         { kind: "signed_out", status: 401 });
  }

  function loginLink() {
    const here = location.pathname + location.search + location.hash;
    return el("p", {}, [el("a", { href: "/login?next=" + encodeURIComponent(here), class: "login-again", text: "Log in again" })]);
  }

  async function json(method, path, body) {
    const response = await request(method, path, body);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (response.status === 401) throw signedOut();
    if (!response.ok) {
      const error = (data && (data.error || data.detail)) || { message: response.statusText };
      const message = typeof error === "string" ? error : (error.message || JSON.stringify(error));
      const failure = new Error(message);
      failure.kind = (error && error.kind) || "http_" + response.status;
      failure.status = response.status;
      if (error && typeof error.detail === "string" && error.detail) failure.detail = error.detail;
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
    if (rows.length > shown.length) wrap.append(el("p", { class: "muted", text: `Showing ${shown.length.toLocaleString("en-US")} of ${counted(rows.length, "row")}.` }));
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
  // Vega's warnings reach the console, except one Vega-Lite gives for every container-wide chart whose height comes
  // from its bands ("Dropping fit-y"): only fit-x is asked for, the height is meant to follow the bands.
  const BENIGN = /^Dropping "fit-y" because spec has discrete height\.?$/;
  function chartLogger() {
    let level = 2;
    const pass = (method, threshold) => (...args) => {
      if (level >= threshold && !(threshold === 2 && args.length && BENIGN.test(String(args[args.length - 1])))) {
        console[method]("vega:", ...args);
      }
      return logger;
    };
    const logger = {
      level(value) { if (value === undefined) return level; level = value; return logger; },
      error: pass("error", 1), warn: pass("warn", 2), info: pass("info", 3), debug: pass("debug", 4),
    };
    return logger;
  }
  const embedOptions = {
    actions: false, renderer: "svg", mode: "vega-lite", loader: noLoader, logger: chartLogger(),
    ast: true, expr: window.vegaInterpreter && window.vegaInterpreter.expressionInterpreter,
  };

  // Specs are drawn with the Vega-Lite this page loads: their $schema names that major version (no version warning).
  const loadedSchema = window.vegaLite && window.vegaLite.version
    ? `https://vega.github.io/schema/vega-lite/v${window.vegaLite.version.split(".")[0]}.json` : null;
  const COMPOSED = ["facet", "repeat", "concat", "hconcat", "vconcat"];

  // A single or layered chart fills its container's width (and follows it on resize); `force` also replaces a fixed
  // width (curated charts), else only a missing width is filled (a width typed in the custom spec is kept).
  // Concatenated views cannot say "container": each view gets its share of the container's width in px instead
  // (minus room for its axis labels), and the chart is drawn again when that width changes. Labels wider than that
  // room are measured after drawing: the views are drawn once more, narrower by what spilled over (`overflow`).
  const VIEW_GUTTER = 110;
  // Axis labels (e.g. video and page titles) may take at most this share of a view's width; longer ones end in "…"
  // (Vega cuts them at labelLimit) and the whole title stays in the tooltip. The axis title is placed past them.
  const LABEL_SHARE = 0.35;
  function fitLabels(view, width) {
    if (!width || COMPOSED.some((key) => key in view)) return view;
    const limit = Math.max(60, Math.floor(width * LABEL_SHARE));
    const fitEncoding = (encoding) => {
      if (!encoding) return encoding;
      const out = Object.assign({}, encoding);
      for (const channel of ["x", "y"]) {
        const def = out[channel];
        if (!def || !["nominal", "ordinal"].includes(def.type) || def.axis === null) continue;
        const axis = Object.assign({}, def.axis || {});
        axis.labelLimit = Math.min(typeof axis.labelLimit === "number" ? axis.labelLimit : limit, limit);
        out[channel] = Object.assign({}, def, { axis });
      }
      return out;
    };
    const out = Object.assign({}, view);
    if (out.encoding) out.encoding = fitEncoding(out.encoding);
    if (Array.isArray(out.layer)) out.layer = out.layer.map((layer) => Object.assign({}, layer, { encoding: fitEncoding(layer.encoding) }));
    return out;
  }
  const STACK_BELOW = 640; // px: side-by-side views are stacked on narrower screens
  function fittedViews(out, available, overflow) {
    if (out.hconcat && available && available < STACK_BELOW) {
      out.vconcat = out.hconcat;
      delete out.hconcat;
    }
    const row = out.hconcat ? "hconcat" : null;
    const column = out.vconcat ? "vconcat" : null;
    const key = row || column;
    if (!key || !Array.isArray(out[key]) || !available) return out;
    const share = row ? Math.floor(available / out[key].length) : available;
    const width = Math.max(120, share - VIEW_GUTTER - Math.ceil((overflow || 0) / (row ? out[key].length : 1)));
    out[key] = out[key].map((view) => (COMPOSED.some((k) => k in view) ? view : fitLabels(Object.assign({}, view, { width }), share)));
    return out;
  }

  function fitted(spec, force, available, overflow) {
    let out = Object.assign({}, spec);
    if (loadedSchema) out.$schema = loadedSchema;
    if (COMPOSED.some((key) => key in out)) return force ? fittedViews(out, available, overflow) : out;
    if (force) out = fitLabels(out, available);
    if (force || out.width === undefined) {
      out.width = "container";
      out.autosize = Object.assign({ contains: "padding" }, typeof out.autosize === "object" ? out.autosize : {}, { type: "fit-x" });
    }
    return out;
  }

  async function draw(target, spec, force) {
    target.replaceChildren();
    if (!embedOptions.expr) throw new Error("the chart scripts are missing (vega-interpreter.js): run make assets");
    const available = target.clientWidth;
    let result = await vegaEmbed(target, fitted(spec, force !== false, available), embedOptions);
    if (force !== false && available && COMPOSED.some((key) => key in spec)) {
      const drawn = target.querySelector("svg, canvas");
      const overflow = drawn ? Math.ceil(drawn.getBoundingClientRect().width) - available : 0;
      if (overflow > 0) {
        result.finalize();
        target.replaceChildren();
        result = await vegaEmbed(target, fitted(spec, true, available, overflow), embedOptions);
      }
    }
    target.dataset.drawn = "true";
    if (force !== false && COMPOSED.some((key) => key in spec)) {
      target.xolapRedraw = { spec, width: available };
    } else {
      delete target.xolapRedraw;
    }
    return result;
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const target of root.querySelectorAll(".chart")) {
        const redraw = target.xolapRedraw;
        if (redraw && target.offsetParent !== null && Math.abs(target.clientWidth - redraw.width) > 24) {
          draw(target, redraw.spec).catch(() => { /* the previous drawing stays */ });
        }
      }
    }, 200);
  });

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // The server names the file (<scope>-<category>-<from>-<to>.<ext>); `fallback` only when it did not say.
  function attachmentName(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(header);
    return match ? match[1] : fallback;
  }

  async function exportTo(path, body, fallback, status) {
    status.textContent = "Exporting…";
    let response;
    try {
      response = body === undefined ? await request("GET", path) : await request("POST", path, body);
    } catch (error) {
      status.textContent = "Export failed: " + error.message;
      status.className = "status error";
      return;
    }
    if (response.status === 401) {
      status.textContent = "Export failed: " + signedOut().message;
      status.className = "status error";
      status.append(" ", loginLink().firstChild);
      return;
    }
    if (!response.ok) {
      let message = response.statusText;
      try { const data = await response.json(); message = (data.error && data.error.message) || data.detail || message; } catch (_) { /* not JSON */ }
      status.textContent = "Export failed: " + message;
      status.className = "status error";
      return;
    }
    const filename = attachmentName(response, fallback);
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
      other.tabIndex = selected ? 0 : -1; // the tab list is one stop of the Tab key: the selected tab
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    tab.scrollIntoView({ block: "nearest", inline: "nearest" });
    const key = tab.dataset.tab;
    if (!loaded.get(key)) {
      loaded.set(key, true);
      if (tab.dataset.kind === "category") loadCategory(key);
      if (tab.dataset.kind === "custom") initCustom();
    }
    history.replaceState(null, "", "#" + key);
  }
  for (const tab of tabs) tab.addEventListener("click", () => activate(tab));
  // The WAI-ARIA tabs pattern: the arrow keys move to the next or previous tab and open it (wrapping around), Home and
  // End to the first and the last.
  const TAB_KEYS = { ArrowRight: 1, ArrowLeft: -1, Home: "first", End: "last" };
  for (const tab of tabs) {
    tab.addEventListener("keydown", (event) => {
      const move = TAB_KEYS[event.key];
      if (move === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      const index = tabs.indexOf(tab);
      const next = move === "first" ? tabs[0] : move === "last" ? tabs[tabs.length - 1]
        : tabs[(index + move + tabs.length) % tabs.length];
      activate(next);
      next.focus();
    });
  }

  // ---------- categories ----------
  // A category's own table (JSON `table`: columns with a type each, rows, a default sort), e.g. the learners at risk:
  // sortable by any column (click its header), numbers and dates formatted by type.
  function formatCell(value, type) {
    if (value === null || value === undefined || value === "") return "—";
    if (Array.isArray(value)) return value.join(", ");
    if (type === "count") return Number(value).toLocaleString();
    if (type === "percent") return Number(value).toFixed(1) + " %";
    return String(value);
  }

  const counted = window.xolapCounted; // "1 row", "2 rows": a count with its noun (counted.js)

  // A category table with no rows says so in its own words (JSON table.empty), else "No rows."
  function emptyTableWords(table) {
    return typeof table.empty === "string" && table.empty ? table.empty : "No rows.";
  }

  function sortableTable(table) {
    let sort = Object.assign({ field: table.columns[0].field, order: "ascending" }, table.sort || {});
    const wrap = el("div", { class: "table-wrap category-table" });
    function compare(a, b) {
      const x = a[sort.field];
      const y = b[sort.field];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return sort.order === "descending" ? -order : order;
    }
    function render() {
      const rows = table.rows.slice().sort(compare);
      const head = el("tr", {}, table.columns.map((column) => {
        const active = column.field === sort.field;
        const button = el("button", { type: "button", class: "sort", text: column.title + (active ? (sort.order === "descending" ? " ▼" : " ▲") : "") });
        button.addEventListener("click", () => {
          sort = { field: column.field, order: active && sort.order === "ascending" ? "descending" : "ascending" };
          render();
          // the table is drawn again: the focus stays on this column's button (else it falls to the page's start)
          const again = [...wrap.querySelectorAll("th")].find((th) => th.dataset.field === column.field);
          if (again) again.querySelector("button").focus();
        });
        return el("th", { "aria-sort": active ? sort.order : "none", "data-field": column.field }, [button]);
      }));
      const body = el("tbody", {}, rows.map((row) => el("tr", {}, table.columns.map((column) =>
        el("td", { class: "type-" + column.type, text: formatCell(row[column.field], column.type) })))));
      wrap.replaceChildren(el("table", { class: "data-table" }, [el("thead", {}, [head]), body]),
                           el("p", { class: "muted", text: rows.length ? `${counted(rows.length, "row")} · click a column to sort` : emptyTableWords(table) }));
    }
    render();
    return wrap;
  }

  // A failure in plain words first; the technical detail (for an administrator) behind a disclosure.
  function errorMessage(className, message, detail) {
    const children = [el("p", { class: "error-message", text: message })];
    if (detail && detail !== message) {
      children.push(el("details", { class: "error-detail" }, [el("summary", { text: "Technical detail" }),
                                                              el("pre", { text: detail })]));
    }
    return el("div", { class: className }, children);
  }

  const GRAIN_WORDS = { day: ["Daily", "day"], week: ["Weekly", "week"], month: ["Monthly", "month"] };

  // The time series' period and which periods lie only partly inside the dates, so a low last point reads right.
  function grainNote(data) {
    const words = GRAIN_WORDS[data.grain];
    if (!words) return null;
    const partial = new Map();
    for (const row of data.rows || []) {
      if (row.partial && row.period) partial.set(row.period, `${row.covered_days} of ${counted(row.period_days, "day")}`);
    }
    const parts = [...partial.entries()].sort().map(([period, days]) => `${words[1]} of ${period} (${days})`);
    const text = `${words[0]} periods` + (parts.length ? ` · partial, only part inside the dates: ${parts.join(", ")}` : "");
    return el("p", { class: "grain", "data-grain": data.grain, "data-partial-periods": String(parts.length), text });
  }

  function renderChartPanel(panel, data) {
    const chart = panel.querySelector(".chart");
    const details = panel.querySelector(".details");
    const meta = panel.querySelector(".meta");
    meta.textContent = `${counted(data.rows.length, "row")} · ${Math.round(data.elapsed_ms)} ms` + (data.truncated ? " · truncated" : "");
    details.replaceChildren(
      el("h4", { text: "Data" }),
      data.rows.length ? resultTable(data.columns, data.rows, 200) : el("p", { class: "muted", text: "No rows." }),
      el("h4", { text: "SQL" }),
      el("pre", { class: "sql", text: data.sql }),
      el("h4", { text: "Parameters" }),
      el("pre", { class: "sql", text: JSON.stringify(data.parameters, null, 2) }),
    );
    const previousTable = panel.querySelector(".category-table");
    if (previousTable) previousTable.remove();
    for (const node of panel.querySelectorAll(".grain")) node.remove();
    const grain = grainNote(data);
    if (grain && data.enough_data) chart.after(grain);
    if (data.table && Array.isArray(data.table.columns) && data.table.columns.length) {
      chart.after(sortableTable(data.table));
    }
    // a chart that counts its table's rows (learners at risk: the flagged learners per reason) has nothing to draw when
    // the table is empty, though the answer has rows: its words say why instead of an empty frame
    const emptyTable = Boolean(data.table && Array.isArray(data.table.rows) && data.table.rows.length === 0);
    const drawn = data.enough_data && !emptyTable;
    // a chart the page does not draw is not exported as a picture either (CSV and JSON still give its rows)
    for (const button of panel.querySelectorAll("[data-format=png], [data-format=svg]")) {
      button.disabled = !drawn;
      button.title = drawn ? "" : data.enough_data ? "No chart to draw: export CSV or JSON" : "Not enough data for a chart: export CSV or JSON";
    }
    if (!drawn) {
      const words = data.enough_data ? emptyTableWords(data.table) : "Not enough data yet for this chart.";
      chart.replaceChildren(el("div", { class: "empty-state", text: words }));
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
      const message = error.kind === "unreachable" ? "This chart could not be loaded: " + error.message : error.message;
      chart.replaceChildren(errorMessage("error", message, error.detail));
      if (error.kind === "signed_out") chart.firstChild.append(loginLink());
      delete chart.dataset.drawn;
      panel.querySelector(".details").replaceChildren();
      for (const node of panel.querySelectorAll(".category-table, .grain")) node.remove();
      panel.querySelector(".meta").textContent = "";
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
  const filterError = filter && filter.querySelector(".filter-error");

  // A range that cannot be used clears every drawn chart, table and custom result: nothing stale stays on screen.
  function clearResults(reason) {
    for (const panel of root.querySelectorAll(".panel")) {
      const chart = panel.querySelector(".chart");
      if (chart) { chart.replaceChildren(el("div", { class: "empty-state", text: reason })); delete chart.dataset.drawn; }
      for (const node of panel.querySelectorAll(".details, .result-data")) node.replaceChildren();
      for (const node of panel.querySelectorAll(".category-table, .grain")) node.remove();
      for (const node of panel.querySelectorAll(".meta")) node.textContent = "";
    }
    const summary = document.getElementById("summary");
    if (summary) summary.replaceChildren(el("div", { class: "empty-state", text: reason }));
    loaded.clear();
  }

  // A summary htmx cannot load says why in its place (static/js/htmx-failures.js, on every page).

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  if (filter) {
    for (const button of filter.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => {
        const preset = button.dataset.preset;
        if (preset === "all") {
          filter.elements.start.value = "";
          filter.elements.end.value = "";
        } else {
          const today = new Date();
          const first = new Date(today.getTime() - (parseInt(preset, 10) - 1) * 86400000);
          filter.elements.start.value = isoDay(first);
          filter.elements.end.value = isoDay(today);
        }
        filter.requestSubmit();
      });
    }
    filter.addEventListener("submit", (event) => {
      event.preventDefault();
      const problem = dateProblem(pageDates());
      filterError.hidden = !problem;
      filterError.textContent = problem;
      if (problem) { clearResults("No results: " + problem + "."); return; }
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
      panel, sqlEditor, specEditor, columns: [],
      vocabulary: JSON.parse(panel.dataset.vegaVocabulary || '{"marks": [], "types": [], "type_shorthands": []}'),
      builder: panel.querySelector(".chart-builder"),
      applyDates: panel.querySelector("input[name=apply_dates]"),
      datesNote: panel.querySelector(".dates-note"),
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
      loadButton: panel.querySelector("[data-action=load]"),
    };
    custom.runButton.addEventListener("click", run);
    custom.cancelButton.addEventListener("click", cancelCustom);
    window.XolapQueryProgress.cancelOnLeave(() => custom.tag, (tag) => `${api}/query/${tag}/cancel`,
                                            { Accept: "application/json", [csrfHeader]: csrf });
    panel.querySelector("[data-action=save]").addEventListener("click", saveViz);
    // the title is not in a form: Enter in it saves, as Save does
    custom.titleInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); saveViz(); }
    });
    custom.loadButton.addEventListener("click", loadViz);
    custom.deleteButton.addEventListener("click", deleteViz);
    custom.savedSelect.addEventListener("change", offerSavedActions);
    offerSavedActions();
    for (const button of panel.querySelectorAll("[data-export-custom]")) {
      button.addEventListener("click", () => exportCustom(button.dataset.exportCustom));
    }
    panel.querySelector("[data-action=build]").addEventListener("click", buildChart);
    custom.applyDates.addEventListener("change", describeDates);
    if (filter) filter.addEventListener("input", describeDates);
    describeDates();
    refreshSaved();
    loadSchema(panel.querySelector(".schema-tree"));
  }

  // ---------- custom tab: the page's dates ----------
  function describeDates() {
    const dates = pageDates();
    const range = dates.start || dates.end ? `${dates.start || "the first event"} – ${dates.end || "the latest event"}` : "";
    if (!custom.applyDates.checked) {
      custom.datesNote.textContent = range ? `The query reads every date, not only ${range}.` : "The query reads every date.";
    } else {
      custom.datesNote.textContent = range ? `The query reads only ${range} (raw_events filtered by timestamp).`
        : "No dates are set on the page: the query reads every date.";
    }
  }

  function customDates() {
    if (!custom.applyDates.checked) return {};
    const dates = pageDates();
    const problem = dateProblem(dates);
    if (problem) throw Object.assign(new Error(problem), { kind: "dates" });
    const chosen = {};
    if (dates.start) chosen.start = dates.start;
    if (dates.end) chosen.end = dates.end;
    return chosen;
  }

  // ---------- custom tab: schema browser ----------
  async function loadSchema(tree) {
    try {
      const data = await json("GET", "/schema");
      tree.replaceChildren(...data.tables.map((table, index) => {
        const insertTable = el("button", { type: "button", class: "schema-name table-name", text: table.name, title: table.meaning });
        insertTable.addEventListener("click", () => insertText(table.name));
        const list = el("ul", {}, table.columns.map((column) => {
          const name = el("button", { type: "button", class: "schema-name", text: column.name, title: column.meaning });
          name.addEventListener("click", () => insertText(column.name));
          return el("li", {}, [name, el("span", { class: "type", text: " " + column.type }),
                               el("div", { class: "meaning", text: column.meaning })]);
        }));
        const details = el("details", {}, [el("summary", {}, [insertTable, el("span", { class: "meaning", text: " " + table.meaning })]), list]);
        if (index === 0) details.open = true;
        return details;
      }));
    } catch (error) {
      tree.replaceChildren(el("p", { class: "error", text: "The table list could not be loaded: " + error.message }));
    }
  }

  function insertText(text) {
    if (custom.sqlEditor.insert) custom.sqlEditor.insert(text);
    else custom.sqlEditor.setValue(custom.sqlEditor.getValue() + text);
  }

  // ---------- custom tab: chart builder ----------
  function fieldType(clickhouseType) {
    const type = String(clickhouseType || "").replace(/^(Nullable|LowCardinality)\((.*)\)$/, "$2").replace(/^(Nullable|LowCardinality)\((.*)\)$/, "$2");
    if (/^(U?Int|Float|Decimal)/.test(type)) return "quantitative";
    if (/^(Date|DateTime)/.test(type)) return "temporal";
    return "nominal";
  }

  function fillBuilder(columns) {
    custom.columns = columns;
    const [x, y, color] = ["x", "y", "color"].map((name) => custom.builder.querySelector(`select[name=${name}]`));
    const options = (withNone) => [
      ...(withNone ? [el("option", { value: "", text: "none" })] : []),
      ...columns.map((c) => el("option", { value: c.name, text: `${c.name} (${fieldType(c.type)})` })),
    ];
    const previous = { x: x.value, y: y.value, color: color.value };
    x.replaceChildren(...options(false));
    y.replaceChildren(...options(false));
    color.replaceChildren(...options(true));
    const names = columns.map((c) => c.name);
    const firstNumber = columns.find((c) => fieldType(c.type) === "quantitative");
    x.value = names.includes(previous.x) ? previous.x : (names[0] || "");
    y.value = names.includes(previous.y) ? previous.y : ((firstNumber && firstNumber.name !== x.value ? firstNumber.name : names[1]) || names[0] || "");
    color.value = names.includes(previous.color) ? previous.color : "";
    custom.builder.disabled = columns.length === 0;
  }

  function builtSpec() {
    const form = custom.builder;
    const value = (name) => form.querySelector(`[name=${name}]`).value;
    const typeOf = (name) => fieldType((custom.columns.find((c) => c.name === name) || {}).type);
    const encoding = {
      x: { field: value("x"), type: typeOf(value("x")), title: value("x") },
      y: { field: value("y"), type: typeOf(value("y")), title: value("y") },
    };
    const aggregate = value("aggregate");
    if (aggregate === "count") { encoding.y = { aggregate: "count", type: "quantitative", title: "count" }; }
    else if (aggregate) { encoding.y.aggregate = aggregate; encoding.y.type = "quantitative"; encoding.y.title = `${aggregate} of ${value("y")}`; }
    if (value("color")) encoding.color = { field: value("color"), type: typeOf(value("color")), title: value("color") };
    if (encoding.x.type === "nominal" && value("mark") === "bar") encoding.x.sort = "-y";
    return {
      $schema: loadedSchema || "https://vega.github.io/schema/vega-lite/v6.json",
      title: (custom.titleInput.value || "").trim() || `${encoding.y.title} by ${encoding.x.title}`,
      width: "container",
      mark: { type: value("mark"), tooltip: true },
      encoding,
    };
  }

  async function buildChart() {
    const spec = builtSpec();
    custom.specEditor.setValue(JSON.stringify(spec, null, 2));
    if (custom.lastRows && custom.lastRows.length) {
      try { await draw(custom.chart, Object.assign({}, spec, { data: { values: custom.lastRows } }), false); } catch (error) {
        showError(Object.assign(new Error(error.message), { kind: "spec" }));
      }
    }
  }

  function parseSpec() {
    const text = custom.specEditor.getValue().trim();
    if (!text) return null;
    let spec;
    try { spec = JSON.parse(text); } catch (error) {
      throw Object.assign(new Error("Vega-Lite spec is not valid JSON: " + error.message), { kind: "spec" });
    }
    const mistake = specMistake(spec);
    if (mistake) throw Object.assign(new Error(mistake), { kind: "spec" });
    return Object.keys(spec).length ? spec : null; // {} is no chart (data only), as the server reads it
  }

  // A spec that is not an object, or a mark or encoding type Vega-Lite does not know, named with its JSON path: the
  // server's own check and words (xolap.analytics.vega_vocabulary; its lists come as data-vega-vocabulary), where
  // Vega-Lite would say "Cannot read properties of undefined" or 'Invalid field type "undefined"'.
  function specMistake(spec) {
    if (spec === null || typeof spec !== "object" || Array.isArray(spec)) return "$: a Vega-Lite spec is a JSON object ({ … })";
    const views = custom.vocabulary.view_keys || [];
    if (Object.keys(spec).length && views.length && !views.some((key) => key in spec)) {
      return `$: a chart needs a mark (or ${views.slice(1).join(", ")})`;
    }
    return viewMistake(spec, "$");
  }

  function shownWord(value) {
    const text = typeof value === "string" ? value : JSON.stringify(value === undefined ? null : value);
    return '"' + (text.length > 60 ? text.slice(0, 60) + "…" : text) + '"';
  }

  function viewMistake(view, path) {
    const words = custom.vocabulary;
    if (!words.marks.length) return null; // no lists given: Vega-Lite's own message stands
    const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
    if (view.mark !== undefined && view.mark !== null) {
      const [type, where] = isObject(view.mark) ? [view.mark.type, path + ".mark.type"] : [view.mark, path + ".mark"];
      if (typeof type !== "string" || !words.marks.includes(type)) {
        return `${where}: unknown mark ${shownWord(type)}; Vega-Lite draws ${words.marks.join(", ")}`;
      }
    }
    if (isObject(view.encoding)) {
      for (const [channel, definitions] of Object.entries(view.encoding)) {
        const listed = Array.isArray(definitions) ? definitions : [definitions];
        for (const [index, definition] of listed.entries()) {
          if (!isObject(definition) || !Object.prototype.hasOwnProperty.call(definition, "type")) continue;
          const type = definition.type;
          if (typeof type === "string" && [...words.types, ...words.type_shorthands].includes(type.toLowerCase())) continue;
          const where = `${path}.encoding.${channel}` + (Array.isArray(definitions) ? `[${index}]` : "");
          return `${where}.type: unknown type ${shownWord(type)}; use one of ${words.types.join(", ")}`;
        }
      }
    }
    for (const key of ["layer", "concat", "hconcat", "vconcat"]) {
      if (!Array.isArray(view[key])) continue;
      for (const [index, inner] of view[key].entries()) {
        const mistake = isObject(inner) ? viewMistake(inner, `${path}.${key}[${index}]`) : null;
        if (mistake) return mistake;
      }
    }
    return isObject(view.spec) ? viewMistake(view.spec, path + ".spec") : null;
  }

  const ERROR_WORDS = {
    guard: "This query is not allowed", invalid: "Check the query", spec: "The chart spec has a problem",
    timeout: "The query took too long", cancelled: "Cancelled", dates: "Check the page's dates",
    too_many_rows: "The result is too large", too_many_rows_read: "The query reads too many rows",
    too_many_bytes_read: "The query reads too much data", memory: "The query needs too much memory",
    unavailable: "The analytics engine is not available", title: "Give it a title",
    unreachable: "No answer from the server", signed_out: "Signed out",
  };

  // An error replaces the previous result: no chart, rows or row count from an earlier run stay on screen.
  function showError(error, keepResult) {
    if (!keepResult) {
      custom.chart.replaceChildren();
      delete custom.chart.dataset.drawn;
      custom.data.replaceChildren();
      custom.lastRows = null;
    }
    custom.error.hidden = false;
    const heading = ERROR_WORDS[error.kind] || "Something went wrong";
    const message = el("p", { class: "error-message" }, [el("strong", { text: heading + ": " }), document.createTextNode(error.message)]);
    custom.error.replaceChildren(message);
    if (error.kind === "signed_out") custom.error.append(loginLink());
    if (error.detail && error.detail !== error.message) {
      custom.error.append(el("details", { class: "error-detail" }, [el("summary", { text: "Technical detail" }),
                                                                    el("pre", { text: error.detail })]));
    }
  }

  async function runCustom() {
    if (custom.tag) return;
    custom.error.hidden = true;
    let spec;
    let dates;
    try { spec = parseSpec(); dates = customDates(); } catch (error) {
      custom.status.textContent = "Not run.";
      showError(error);
      return;
    }
    const tag = window.XolapQueryProgress.newTag();
    custom.tag = tag;
    custom.runButton.disabled = true;
    custom.cancelButton.disabled = false;
    custom.status.className = "status";
    // indeterminate until the engine reports a share; never full while the query still runs (query-progress.js)
    const stopProgress = window.XolapQueryProgress.follow(custom.progress, custom.status,
      () => json("GET", `/query/${tag}/progress`), () => custom.tag === tag);
    try {
      const result = await json("POST", "/query", Object.assign({ sql: custom.sqlEditor.getValue(), tag }, dates));
      await showResult(result, spec);
    } catch (error) {
      custom.status.textContent = error.kind === "cancelled" ? "Cancelled." : "Failed.";
      showError(error);
    } finally {
      stopProgress();
      custom.tag = null;
      custom.runButton.disabled = false;
      custom.cancelButton.disabled = true;
    }
  }

  async function showResult(result, spec) {
    const rows = records(result);
    const names = result.columns.map((c) => c.name);
    custom.lastRows = rows;
    fillBuilder(result.columns);
    custom.status.textContent = `${counted(result.row_count, "row")} in ${Math.round(result.elapsed_ms)} ms` +
      (result.truncated ? " — TRUNCATED: the result hit the row limit, more rows exist" : "");
    custom.status.className = result.truncated ? "status warning truncated" : "status";
    custom.data.replaceChildren(resultTable(names, result.rows, 200));
    // as a category's chart: a run that draws no chart offers no picture export (the server answers 400 no_data)
    offerPictures(Boolean(spec) && rows.length > 0);
    if (!spec) { custom.chart.replaceChildren(el("p", { class: "muted", text: "No Vega-Lite spec: data only." })); return; }
    if (!rows.length) { custom.chart.replaceChildren(el("div", { class: "empty-state", text: "Not enough data: the query returned no rows." })); return; }
    try {
      await draw(custom.chart, Object.assign({}, spec, { data: { values: rows } }), false);
    } catch (error) {
      offerPictures(false);
      custom.chart.replaceChildren();
      showError(Object.assign(new Error(error.message), { kind: "spec" }), true);
    }
  }

  function offerPictures(drawn) {
    const pictures = document.querySelectorAll("#panel-custom [data-export-custom=png], #panel-custom [data-export-custom=svg]");
    for (const button of pictures) {
      button.disabled = !drawn;
      button.title = drawn ? "" : "No chart drawn for this result: export CSV or JSON";
    }
  }

  async function cancelCustom() {
    if (!custom.tag) return;
    custom.status.textContent = "Cancelling…";
    try { await json("POST", `/query/${custom.tag}/cancel`); } catch (error) { showError(error, true); }
  }

  // "Load & run" and "Delete" act on the chosen saved visualization: off while none is chosen (a click did nothing),
  // and Delete off for one shared by someone else
  function offerSavedActions() {
    const option = custom.savedSelect.selectedOptions[0];
    const chosen = Boolean(option && option.value);
    custom.loadButton.disabled = !chosen;
    custom.deleteButton.disabled = !chosen || option.dataset.canEdit !== "true";
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
    } catch (error) { showError(error, true); }
    offerSavedActions();
  }

  async function saveViz() {
    custom.error.hidden = true;
    const title = custom.titleInput.value.trim();
    if (!title) { showError(Object.assign(new Error("give the visualization a title first"), { kind: "title" }), true); return; }
    let spec;
    try { spec = parseSpec() || {}; } catch (error) { showError(error, true); return; }
    const body = { title, sql: custom.sqlEditor.getValue(), spec };
    try {
      // Someone else's visualization is never overwritten: saving it makes the caller's own copy.
      const existing = custom.savedId && custom.savedEditable && custom.savedSelect.value === String(custom.savedId);
      const viz = existing ? await json("PUT", `/visualizations/${custom.savedId}`, body) : await json("POST", "/visualizations", body);
      custom.savedEditable = true;
      custom.savedId = viz.id;
      custom.status.textContent = `Saved “${viz.title}”.`;
      await refreshSaved(viz.id);
    } catch (error) { showError(error, true); }
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
      await refreshSaved();  // the list first: "Deleted." shows once the buttons no longer offer the deleted one
      custom.status.textContent = "Deleted.";
    } catch (error) { showError(error, true); }
  }

  async function exportCustom(format) {
    let spec;
    let dates;
    try { spec = parseSpec(); dates = customDates(); } catch (error) { showError(error, true); return; }
    await exportTo(`/export?format=${format}`, Object.assign({ sql: custom.sqlEditor.getValue(), spec }, dates),
                   `custom.${format}`, custom.status);
  }

  // ---------- start ----------
  const wanted = location.hash.slice(1);
  activate(tabs.find((t) => t.dataset.tab === wanted) || tabs[0]);
  // a link to another tab of this page (#key) opens that tab
  window.addEventListener("hashchange", () => {
    const tab = tabs.find((t) => t.dataset.tab === location.hash.slice(1));
    if (tab && tab.getAttribute("aria-selected") !== "true") activate(tab);
  });
  window.xolapDashboard = { activate, loaded };
})();
