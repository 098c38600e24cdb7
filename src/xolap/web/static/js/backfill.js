// Backfill run page: live updates over SSE (status, batches, chunks, progress) and the chunk-log viewer with
// infinite scroll to older chunks. On a dropped stream we reconnect with the last event id seen, and the server
// replays what was missed from its journal, so a dropped connection loses nothing and repeats nothing.
(function () {
  "use strict";
  const root = document.getElementById("backfill-run");
  if (!root) return;
  const terminal = new Set((root.dataset.terminal || "").split(","));
  const liveState = document.getElementById("live-state");
  const eventLog = document.getElementById("event-log");
  const logBox = document.getElementById("chunk-log");
  const rowsBody = document.getElementById("chunk-rows");
  const more = document.getElementById("chunk-more");
  let batchId = logBox ? logBox.dataset.batch : "";
  let oldest = null;       // smallest chunk_index shown
  let loading = false;
  let exhausted = false;

  const fmt = (n) => (n == null ? "" : Number(n).toLocaleString("en-US"));
  function setText(selector, text, scope) {
    const node = (scope || root).querySelector(selector);
    if (node) node.textContent = text;
  }
  function note(line) {
    if (!eventLog) return;
    const card = document.getElementById("event-log-card");
    if (card) card.hidden = false; // shown once there is something to show
    eventLog.textContent = (new Date().toISOString().slice(11, 19) + " " + line + "\n" + eventLog.textContent).slice(0, 20000);
  }

  // ---------- chunk log ----------
  function chunkRow(c) {
    const tr = document.createElement("tr");
    tr.dataset.chunk = c.chunk_index;
    const cells = [c.chunk_index, c.status, fmt(c.rows_written), fmt(c.bytes_read), c.duration_ms == null ? "" : c.duration_ms,
                   Array.isArray(c.keys) ? c.keys.length : "", c.error || ""];
    cells.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = value;
      if (i === 6) td.className = "error";
      tr.append(td);
    });
    return tr;
  }
  function upsertChunk(c, atTop) {
    const existing = rowsBody.querySelector('tr[data-chunk="' + c.chunk_index + '"]');
    const row = chunkRow(c);
    if (existing) existing.replaceWith(row);
    else if (atTop) {
      // keep descending order: insert before the first row with a smaller index
      const after = Array.from(rowsBody.children).find((tr) => Number(tr.dataset.chunk) < c.chunk_index);
      rowsBody.insertBefore(row, after || null);
    } else rowsBody.append(row);
    if (oldest === null || c.chunk_index < oldest) oldest = c.chunk_index;
  }
  async function loadOlder() {
    if (!batchId || loading || exhausted) return;
    loading = true;
    more.textContent = "Loading…";
    const params = new URLSearchParams({ limit: "100" });
    if (oldest !== null) params.set("before", String(oldest));
    try {
      const response = await fetch(root.dataset.chunks + batchId + "/chunks?" + params, {
        headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status + " " + (await response.text()).slice(0, 200));
      const body = await response.json();
      body.chunks.slice().reverse().forEach((c) => upsertChunk(c, false));
      exhausted = !body.has_older || body.chunks.length === 0;
      more.textContent = exhausted ? (rowsBody.children.length ? "Oldest chunk reached." : "No chunks yet.") : "Scroll for older chunks.";
    } catch (err) {
      more.textContent = "Could not load chunks: " + err.message;
    } finally {
      loading = false;
    }
    if (!exhausted && logBox.scrollHeight <= logBox.clientHeight) loadOlder(); // fill the box
  }
  function showBatch(id, label) {
    batchId = String(id);
    oldest = null;
    exhausted = false;
    rowsBody.textContent = "";
    setText("#chunk-batch-label", label || "batch " + id, document);
    loadOlder();
  }
  if (logBox) {
    logBox.addEventListener("scroll", () => {
      if (logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 40) loadOlder();
    });
    document.querySelectorAll("[data-show-batch]").forEach((button) => button.addEventListener("click", () => {
      const row = button.closest("tr");
      showBatch(button.dataset.showBatch, "batch " + row.children[0].textContent);
    }));
    if (batchId) loadOlder();
  }

  // ---------- live events ----------
  // A failure's cause in plain words, by the server's own rules (data-causes: xolap.web.readable_errors.known_causes):
  // the first known cause the raw message matches, else its first line without ClickHouse's code and error name.
  const causes = JSON.parse(root.dataset.causes || "[]").map(([pattern, words]) => [new RegExp(pattern, "i"), words]);
  function readableCause(raw) {
    if (!raw) return "";
    for (const [pattern, words] of causes) if (pattern.test(raw)) return words;
    const first = (raw.split("Stack trace")[0].trim().split("\n")[0] || "")
      .replace(/^(?:Code:\s*\d+\.\s*)?(?:DB::Exception:\s*)?/, "").trim()
      .replace(/\s*\((?:[A-Z_]+)\)\s*(?:\(version [^)]*\))?\s*$/, "");
    return first.length > 200 ? first.slice(0, 200) + "…" : first;
  }
  // the run's actions as the page renders them for a status (_run_actions.html: data-when / data-unless)
  function showActions(status) {
    for (const form of root.querySelectorAll("#run-actions form")) {
      const when = form.dataset.when, unless = form.dataset.unless;
      form.hidden = (when !== undefined && !when.split(" ").includes(status)) ||
                    (unless !== undefined && unless.split(" ").includes(status));
    }
  }
  function updateRun(run) {
    setText('[data-role="status"]', run.status);
    if (run.status) showActions(run.status);
    const bar = root.querySelector('[data-role="progress"]');
    const label = root.querySelector('[data-role="progress-label"]');
    if (run.kind === "inventory") {
      const done = (run.batches_completed || 0) + (run.batches_failed || 0);
      if (bar) { bar.max = run.batches_total || 1; bar.value = done; }
      if (label) label.textContent = done + "/" + window.xolapCounted(run.batches_total, "batch", "batches") + (run.batches_failed ? " (" + run.batches_failed + " failed)" : "");
      setText('[data-field="batches"]', run.batches_completed + " completed · " + run.batches_running + " running · " +
              run.batches_pending + " pending · " + run.batches_failed + " failed / " + run.batches_total);
      setText('[data-field="ingested"]', window.xolapCounted(run.rows_ingested, "row") + " · " + fmt(run.bytes_ingested) + " B");
    } else {
      if (bar && run.progress != null) bar.value = run.progress;
      if (label && run.progress != null) label.textContent = (run.progress * 100).toFixed(1) + " %";
      setText('[data-field="rows"]', fmt(run.rows_read) + " / " + fmt(run.rows_written));
      setText('[data-field="bytes"]', fmt(run.bytes_read) + " / " + fmt(run.bytes_written));
      const durationRow = root.querySelector('[data-row="duration"]');
      if (durationRow) durationRow.hidden = run.duration_ms == null;
      if (run.duration_ms != null) setText('[data-field="duration"]', (run.duration_ms / 1000).toFixed(1) + " s");
      const filesRow = root.querySelector('[data-row="files"]');
      if (filesRow && run.objects !== undefined) filesRow.hidden = run.objects == null;
      if (run.objects != null) setText('[data-field="files"]', fmt(run.objects));
      // as the page says after a reload: a completed run that read nothing matched no file
      const nothingRow = root.querySelector('[data-row="nothing-read"]');
      if (nothingRow && run.status) nothingRow.hidden = !(run.status === "completed" && !run.rows_read && !run.bytes_read);
    }
    const errorRow = root.querySelector('[data-row="error"]');
    if (errorRow && run.error !== undefined) {
      errorRow.hidden = !run.error;
      const raw = root.querySelector('[data-role="raw-error"]');
      if (run.error && raw && raw.textContent !== run.error) {
        raw.textContent = run.error;
        setText('[data-role="cause"]', readableCause(run.error)); // the words the page gives after a reload
      }
    }
  }
  function updateBatch(b) {
    const table = document.querySelector("#batches tbody");
    if (!table) return;
    let row = table.querySelector('tr[data-batch="' + b.id + '"]');
    if (!row) { // a new batch: reload the page section cheaply by adding a row
      const empty = table.querySelector("tr.empty");
      if (empty) empty.remove();
      row = document.createElement("tr");
      row.dataset.batch = b.id;
      row.innerHTML = '<td></td><td><code></code></td><td data-field="status"></td><td data-field="chunks"></td>' +
        '<td data-field="objects"></td><td data-field="rows"></td><td><button type="button" class="secondary">Chunk log</button></td>';
      row.children[0].textContent = b.sequence;
      row.querySelector("code").textContent = (b.inventory_key || "").split("/").pop();
      row.querySelector("button").addEventListener("click", () => showBatch(b.id, "batch " + b.sequence));
      const retry = document.getElementById("batch-retry");
      if (retry) {
        const form = retry.content.firstElementChild.cloneNode(true);
        form.action = root.dataset.chunks + b.id + "/retry";
        row.lastElementChild.append(" ", form);
      }
      table.append(row);
      if (!batchId && logBox) showBatch(b.id, "batch " + b.sequence);
    }
    setText('[data-field="status"]', b.status, row);
    setText('[data-field="chunks"]', b.chunks_completed + "/" + b.chunk_count, row);
    setText('[data-field="objects"]', b.processed_objects + "/" + b.object_count, row);
    setText('[data-field="rows"]', fmt(b.rows_written), row);
    for (const form of row.querySelectorAll("form[data-when]")) form.hidden = !form.dataset.when.split(" ").includes(b.status);
  }

  if (!window.EventSource) { liveState.textContent = "no live updates in this browser"; return; }
  // We reconnect ourselves with ?last_event_id=<last id seen>, so a dropped stream resumes exactly where it
  // stopped (the server replays the journal after that id) whatever the browser does with Last-Event-ID.
  let lastId = root.dataset.lastEvent || "0";
  let source = null;
  let finished = false;
  let retryTimer = null;
  function track(e) { if (e.lastEventId) lastId = e.lastEventId; }
  function connect() {
    retryTimer = null;
    source = new EventSource(root.dataset.events + "?last_event_id=" + encodeURIComponent(lastId), { withCredentials: true });
    source.onopen = () => { liveState.textContent = "live"; liveState.className = "badge ok"; };
    source.onerror = () => {
      if (finished) return;
      liveState.textContent = "reconnecting…";
      liveState.className = "badge warn";
      source.close();
      if (!retryTimer) retryTimer = setTimeout(connect, 2000);
    };
    source.addEventListener("status", (e) => { track(e); const d = JSON.parse(e.data); updateRun(d.data); note("status " + d.data.status); });
    source.addEventListener("progress", (e) => {
      track(e);
      const d = JSON.parse(e.data);
      updateRun(Object.assign({ kind: "manual", status: root.querySelector('[data-role="status"]').textContent }, d.data));
    });
    source.addEventListener("batch", (e) => { track(e); const d = JSON.parse(e.data); updateBatch(d.data); note("batch " + d.data.sequence + " " + d.data.status); });
    source.addEventListener("chunk", (e) => {
      track(e);
      const d = JSON.parse(e.data);
      if (d.data && String(d.data.batch_id) === String(batchId)) upsertChunk(d.data, true);
      note("chunk " + (d.data ? d.data.chunk_index + " " + d.data.status : "(truncated)"));
    });
    source.addEventListener("refused", (e) => {
      // The server ended the stream: who opened it may no longer follow it (signed out, rights removed).
      finished = true;
      note("live updates stopped: " + JSON.parse(e.data).reason);
      liveState.textContent = "stopped";
      liveState.className = "badge warn";
      source.close();
    });
    source.addEventListener("end", (e) => {
      const d = JSON.parse(e.data);
      finished = true;
      note("run finished: " + d.status);
      liveState.textContent = "finished";
      liveState.className = "badge";
      source.close();
    });
  }
  connect();
  window.addEventListener("beforeunload", () => source && source.close());
})();
