// Honest progress of a running SQL query, shared by the dashboards' custom tab and the admin SQL console: a fresh tag
// names the run, the server's progress route is polled while it runs, and the bar stays indeterminate until the
// engine reports a share and is never full while the query still runs; leaving the page cancels the query still
// running. window.XolapQueryProgress = {newTag, follow, cancelOnLeave}.
(function () {
  "use strict";

  const POLL_MS = 400;
  const NEARLY_DONE = 0.95;

  // q- and 16 hex digits, the form the servers' progress and cancel routes take
  function newTag() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "q-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Show `bar` (indeterminate) and poll `read()` (a promise of the progress JSON) until the returned stop() is called;
  // while `current()` is true each report updates the bar and `status` ("Running… N rows read, S s").
  function follow(bar, status, read, current) {
    bar.hidden = false;
    bar.removeAttribute("value");
    status.textContent = "Running…";
    const poll = setInterval(async () => {
      try {
        const p = await read();
        if (!p || !p.running || (current && !current())) return;
        if (typeof p.fraction === "number" && p.fraction > 0) bar.value = Math.min(p.fraction, NEARLY_DONE);
        status.textContent = `Running… ${window.xolapCounted(p.rows_read || 0, "row")} read, ${Number(p.elapsed_s || 0).toFixed(1)} s`;
      } catch (_) { /* progress is best effort: the query's own answer says how it ended */ }
    }, POLL_MS);
    return function stop() {
      clearInterval(poll);
      bar.hidden = true;
    };
  }

  // Leaving the page (reload, another page, closing the tab) cancels the query still running (`runningTag()`, null when
  // none): its answer has no one left to show it to, and it would hold one of the server's query slots until its time
  // limit. The cancel is a keepalive POST, so the browser still sends it while the page goes away.
  function cancelOnLeave(runningTag, cancelUrl, headers) {
    window.addEventListener("pagehide", () => {
      const tag = runningTag();
      if (!tag) return;
      fetch(cancelUrl(tag), { method: "POST", credentials: "same-origin", headers, keepalive: true })
        .catch(() => { /* the page is going away: nothing left to tell */ });
    });
  }

  window.XolapQueryProgress = { newTag, follow, cancelOnLeave };
})();
