"""In chromium: a part of a page that htmx loads (the dashboard's event summary) says in plain words when the server
cannot be reached, took too long or stopped the request, logs no error of its own, and loads again once the server
answers. Chromium itself logs one "Failed to load resource" line per failed request (the browser's network log, which
no page script can stop); every other console error fails the test."""

from __future__ import annotations

import pytest

from browser.test_dashboard_messages_browser import apply_dates, open_section


def page_errors(page) -> list[str]:
    logged: list[str] = []
    page.on(
        "console",
        lambda m: (
            logged.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda exc: logged.append(f"pageerror: {exc}"))
    return logged


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        ("connectionrefused", "the server could not be reached"),
        ("failed", "the server could not be reached"),
        ("timedout", "the server could not be reached"),
    ],
)
def test_a_summary_the_server_does_not_answer_says_so_and_logs_no_error(page, log_in, failure, words):
    logged = page_errors(page)
    open_section(page, log_in)
    page.route("**/analytics/summary*", lambda route: route.abort(failure))
    apply_dates(page, "2026-09-01", "2026-09-30")
    page.wait_for_selector("#summary .error", timeout=15_000)
    message = page.locator("#summary .error-message").inner_text()
    assert message == f"The event summary could not be loaded: {words}. Check your connection and try again."
    assert page.locator("#summary .summary-card").count() == 0  # the old cards are gone
    page.wait_for_timeout(300)
    assert logged == []
    # the server answers again: the next change of dates loads the cards (the failed request left nothing stuck)
    page.unroute("**/analytics/summary*")
    apply_dates(page, "2026-08-01", "2026-10-30")
    page.wait_for_selector("#summary .summary-card", timeout=15_000)
    assert page.locator("#summary .error").count() == 0
    assert logged == []


def test_a_summary_request_stopped_by_the_page_says_so_and_logs_no_error(page, log_in):
    logged = page_errors(page)
    open_section(page, log_in)
    held = []
    page.route("**/analytics/summary*", lambda route: held.append(route))  # never answered
    apply_dates(page, "2026-09-01", "2026-09-30")
    page.wait_for_function("() => document.querySelector('#summary').classList.contains('htmx-request')")
    page.evaluate("() => htmx.trigger('#summary', 'htmx:abort')")  # what htmx does to a request it gives up
    page.wait_for_selector("#summary .error", timeout=15_000)
    assert page.locator("#summary .error-message").inner_text() == (
        "The event summary could not be loaded: the request was stopped before the server answered. Try again."
    )
    page.wait_for_timeout(300)
    assert logged == []
    page.unroute("**/analytics/summary*")
    apply_dates(page, "2026-08-01", "2026-10-30")
    page.wait_for_selector("#summary .summary-card", timeout=15_000)
    assert logged == []


def test_a_chart_or_query_the_server_does_not_answer_says_so_in_plain_words(page, log_in):
    logged = page_errors(page)
    open_section(page, log_in)
    page.route("**/analytics/categories/assessment*", lambda route: route.abort("connectionrefused"))
    page.click("#tab-assessment")
    page.wait_for_selector("#panel-assessment .chart .error", timeout=15_000)
    assert page.locator("#panel-assessment .chart .error-message").inner_text() == (
        "This chart could not be loaded: the server could not be reached; check your connection and try again"
    )
    # the custom tab's run, and an export, say the same
    page.click("#tab-custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    page.route("**/analytics/query", lambda route: route.abort("failed"))
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .query-error:not([hidden]) .error-message", timeout=15_000)
    assert page.locator("#panel-custom .query-error .error-message").inner_text() == (
        "No answer from the server: the server could not be reached; check your connection and try again"
    )
    assert page.locator("#panel-custom [data-action=run]").is_enabled()
    page.route("**/analytics/export*", lambda route: route.abort("failed"))
    page.click("#panel-custom [data-export-custom=csv]")
    page.wait_for_function(
        "() => document.querySelector('#panel-custom .status').textContent.startsWith('Export failed: the server')"
    )
    page.wait_for_timeout(300)
    assert logged == []
