"""In chromium: leaving a page while its query runs (reload, another page, closing the tab) cancels the query on the
server, in the dashboards' custom tab and in the admin SQL console. Before, the query ran on to its time limit (30 s)
holding one of the server's few query slots, so a few reloads kept every other user's custom SQL waiting."""

from __future__ import annotations

import json
import time

# a five-way self join of the test events: runs for far longer than the test waits, unless cancelled
SLOW_SQL = (
    "SELECT count() FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c "
    "CROSS JOIN raw_events AS d CROSS JOIN raw_events AS e"
)
# well under the server's 30 s query time limit: a query still running after this was not cancelled
STOPPED_WITHIN_S = 20


def replace_sql(page, editor_selector: str, sql: str) -> None:
    page.locator(editor_selector).first.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(sql)


def posted_tags(page, path_end: str) -> list[str]:
    tags: list[str] = []
    page.on(
        "request",
        lambda r: (
            tags.append(json.loads(r.post_data or "{}").get("tag", ""))
            if r.method == "POST" and r.url.endswith(path_end)
            else None
        ),
    )
    return tags


def wait_until_stopped(page, progress_url: str) -> dict:
    deadline = time.monotonic() + STOPPED_WITHIN_S
    answer: dict = {}
    while time.monotonic() < deadline:
        answer = page.request.get(progress_url, headers={"Accept": "application/json"}).json()
        if answer.get("running") is False:
            return answer
        time.sleep(0.25)
    return answer


def test_reloading_the_dashboard_while_a_custom_query_runs_cancels_it(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    tags = posted_tags(page, "/analytics/query")
    replace_sql(page, "#panel-custom .xolap-editor-sql .cm-content", SLOW_SQL)
    page.click("#panel-custom [data-action=run]")
    page.wait_for_function(
        "() => /rows read/.test(document.querySelector('#panel-custom .status').textContent)", timeout=30_000
    )
    assert len(tags) == 1 and tags[0].startswith("q-")
    page.reload()
    progress = f"/api/v1/sections/physics-fall/analytics/query/{tags[0]}/progress"
    assert wait_until_stopped(page, progress).get("running") is False, "the query ran on after the page was left"


def test_leaving_the_admin_console_while_a_query_runs_cancels_it(page, log_in):
    log_in(page, "admin")
    page.goto("/admin/console")
    page.wait_for_selector("#sql-console .xolap-editor-sql .cm-content", timeout=30_000)
    tags = posted_tags(page, "/api/v1/admin/query")
    replace_sql(page, "#sql-console .xolap-editor-sql .cm-content", SLOW_SQL)
    page.click("#sql-console [data-action=run]")
    page.wait_for_function(
        "() => /rows read/.test(document.querySelector('#sql-console .status').textContent)", timeout=30_000
    )
    assert len(tags) == 1 and tags[0].startswith("q-")
    page.goto("/admin/users")
    progress = f"/api/v1/admin/query/{tags[0]}/progress"
    assert wait_until_stopped(page, progress).get("running") is False, "the query ran on after the page was left"
