"""In chromium: the admin SQL console shows the same honest progress as the dashboards' custom tab (indeterminate
until the engine reports, never full while the query runs) and its Cancel stops a running query on the server; the
next query runs as usual. Chromium logs one "Failed to load resource" line for the cancelled query's 409 answer (its
network log); any other console error fails the test."""

from __future__ import annotations

import time

# a five-way self join of the test events: runs for far longer than the test waits, unless cancelled
SLOW_SQL = (
    "SELECT count() FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c "
    "CROSS JOIN raw_events AS d CROSS JOIN raw_events AS e"
)


def replace_sql(page, sql: str) -> None:
    editor = page.locator("#sql-console .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(sql)


def test_admin_console_shows_progress_and_cancels_a_running_query(page, log_in):
    logged: list[str] = []
    page.on(
        "console",
        lambda m: (
            logged.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    log_in(page, "admin")
    page.goto("/admin/console")
    page.wait_for_selector("#sql-console .xolap-editor-sql .cm-content", timeout=30_000)
    cancel = page.locator("#sql-console [data-action=cancel]")
    run = page.locator("#sql-console [data-action=run]")
    bar = page.locator("#sql-console progress")
    assert cancel.is_disabled()
    replace_sql(page, SLOW_SQL)
    run.click()
    page.wait_for_selector("#sql-console progress:not([hidden])", timeout=5_000)
    assert bar.get_attribute("value") is None  # indeterminate until the engine reports a share
    assert run.is_disabled() and cancel.is_enabled()
    # the server's progress of this very query: rows read and seconds
    page.wait_for_function(
        "() => /rows read, [0-9.]+ s/.test(document.querySelector('#sql-console .status').textContent)",
        timeout=15_000,
    )
    value = bar.get_attribute("value")
    assert value is None or float(value) < 1  # never full while the query still runs
    clicked = time.monotonic()
    cancel.click()
    page.wait_for_selector("#sql-console .query-error:not([hidden])", timeout=20_000)
    assert time.monotonic() - clicked < 15
    assert page.locator("#sql-console .status").inner_text() == "Cancelled."
    assert page.locator("#sql-console .query-error").inner_text().startswith("Cancelled")
    assert page.locator("#sql-console .result-data tbody tr").count() == 0
    assert bar.is_hidden() and run.is_enabled() and cancel.is_disabled()
    # the next query runs as usual
    replace_sql(page, "SELECT 1 AS one")
    run.click()
    page.wait_for_function("() => document.querySelector('#sql-console .status').textContent.startsWith('1 row in ')")
    assert page.locator("#sql-console .result-data tbody tr").count() == 1
    assert page.locator("#sql-console .query-error").is_hidden()
    assert logged == []
    assert page.errors == []  # type: ignore[attr-defined]
