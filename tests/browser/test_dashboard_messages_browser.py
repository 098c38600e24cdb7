"""In chromium: what the dashboard says in words — event types as instructors name them, the time series' grain with
its partial periods, failures in plain words with the technical detail behind a disclosure, and a failed summary that
logs no error object."""

from __future__ import annotations

import json
import re

# a stored type as written ("part_attempt") or with its underscores blanked ("PART ATTEMPT", "page viewed")
RAW_EVENT_TYPE = re.compile(r"_|\b(part|page|activity) attempt\b|\bpage viewed\b|\bunknown\b", re.IGNORECASE)


def open_section(page, log_in, fragment: str = "") -> None:
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics" + fragment)
    page.wait_for_selector("#summary .summary-card", timeout=30_000)


def apply_dates(page, start: str, end: str) -> None:
    page.fill("#date-filter input[name=start]", start)
    page.fill("#date-filter input[name=end]", end)
    page.click("#date-filter [type=submit]")


def test_summary_cards_and_legends_name_event_types_in_instructor_words(page, log_in):
    open_section(page, log_in)
    labels = [text.strip() for text in page.locator("#summary .summary-card:not(.total) .label").all_text_contents()]
    assert labels and "Question attempts" in labels and "Page views" in labels
    page.click("#tab-cross_event")
    page.wait_for_selector("#panel-cross_event .chart[data-drawn=true] svg", timeout=30_000)
    legend = " ".join(page.locator("#panel-cross_event .chart svg .role-legend").all_text_contents())
    shown = " ".join(labels) + " " + legend
    assert RAW_EVENT_TYPE.search(shown) is None, shown
    assert "Question attempts" in legend
    assert page.errors == []  # type: ignore[attr-defined]


def test_time_series_says_its_grain_and_which_periods_are_partial(page, log_in):
    open_section(page, log_in)
    apply_dates(page, "2026-08-05", "2026-10-14")  # Wednesday to Wednesday: ten weeks, the first and last in part
    page.click("#tab-cross_event")
    page.wait_for_selector("#panel-cross_event .chart[data-drawn=true] svg", timeout=30_000)
    note = page.locator("#panel-cross_event .grain")
    assert note.count() == 1
    assert note.get_attribute("data-grain") == "week"
    text = note.inner_text()
    assert text.startswith("Weekly periods")
    assert "week of 2026-08-03 (5 of 7 days)" in text
    assert "week of 2026-10-12 (3 of 7 days)" in text
    # a short span is daily and has no partial period; the old note does not stay
    apply_dates(page, "2026-09-01", "2026-09-10")
    page.wait_for_selector("#panel-cross_event .grain[data-grain=day]", timeout=30_000)
    assert page.locator("#panel-cross_event .grain").count() == 1
    assert page.locator("#panel-cross_event .grain").inner_text() == "Daily periods"
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failing_chart_shows_plain_words_first_and_the_detail_behind_a_disclosure(page, log_in):
    message = "“Video engagement” took too long to compute. Try a shorter date range."
    detail = "Code: 159. DB::Exception: Timeout exceeded: elapsed 30.0 seconds (TIMEOUT_EXCEEDED)"
    page.route(
        "**/analytics/categories/video?*",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"error": {"kind": "timeout", "message": message, "detail": detail}}),
        ),
    )
    page.route(
        "**/analytics/categories/video",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"error": {"kind": "timeout", "message": message, "detail": detail}}),
        ),
    )
    open_section(page, log_in)
    page.wait_for_selector("#panel-video .chart .error", timeout=30_000)
    assert page.locator("#panel-video .chart .error-message").inner_text() == message
    disclosure = page.locator("#panel-video .chart details.error-detail")
    assert disclosure.count() == 1 and disclosure.get_attribute("open") is None
    assert not page.locator("#panel-video .chart details.error-detail pre").is_visible()
    disclosure.locator("summary").click()
    assert page.locator("#panel-video .chart details.error-detail pre").inner_text() == detail
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failing_custom_query_shows_plain_words_first_and_the_detail_behind_a_disclosure(page, log_in):
    open_section(page, log_in, "#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    page.route(
        "**/analytics/query",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps(
                {
                    "error": {
                        "kind": "memory",
                        "message": "the query needs more memory than a query may use",
                        "detail": "MEMORY_LIMIT_EXCEEDED: would use 1.2 GiB",
                    }
                }
            ),
        ),
    )
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .query-error:not([hidden]) .error-message", timeout=30_000)
    words = page.locator("#panel-custom .query-error .error-message").inner_text()
    assert words == "The query needs too much memory: the query needs more memory than a query may use"
    assert page.locator("#panel-custom .query-error details.error-detail").get_attribute("open") is None
    page.click("#panel-custom .query-error details.error-detail summary")
    assert "MEMORY_LIMIT_EXCEEDED" in page.locator("#panel-custom .query-error details.error-detail pre").inner_text()
    # an error without a detail has no empty disclosure
    page.route(
        "**/analytics/query",
        lambda route: route.fulfill(
            status=400,
            content_type="application/json",
            body=json.dumps({"error": {"kind": "guard", "message": "only SELECT queries may run"}}),
        ),
    )
    page.click("#panel-custom [data-action=run]")
    page.wait_for_function("() => document.querySelector('#panel-custom .query-error').textContent.includes('SELECT')")
    assert page.locator("#panel-custom .query-error details").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failed_summary_is_shown_in_the_page_and_logs_no_error_object(page, log_in):
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text) if message.type == "error" else None)
    open_section(page, log_in)
    page.route(
        "**/analytics/summary*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps(
                {
                    "error": {
                        "kind": "unavailable",
                        "message": "the analytics engine is not answering",
                        "detail": "Connection refused (127.0.0.1:8123)",
                    }
                }
            ),
        ),
    )
    apply_dates(page, "2026-09-01", "2026-09-30")
    page.wait_for_selector("#summary .error", timeout=15_000)
    assert page.locator("#summary .error-message").inner_text() == (
        "The event summary could not be loaded: the analytics engine is not answering"
    )
    assert page.locator("#summary .summary-card").count() == 0
    assert page.locator("#summary details.error-detail").get_attribute("open") is None
    page.wait_for_timeout(300)
    htmx_logs = [text for text in logged if re.search(r"\[object |Response Status Error|htmx", text)]
    assert htmx_logs == []
    assert page.errors == []  # type: ignore[attr-defined]


def _long_page_labels(route):
    """The real engagement answer with every page label made as long as a label may be (42 characters)."""
    body = route.fetch().json()
    labels = {
        row["page_label"]: f"Unit {i}: Exploratory Data Analysis — Qu{i:02d}"[:42]
        for i, row in enumerate(body["rows"])
        if row.get("page_label")
    }

    def swap(node):
        if isinstance(node, dict):
            return {key: swap(value) for key, value in node.items()}
        if isinstance(node, list):
            return [swap(value) for value in node]
        return labels.get(node, node) if isinstance(node, str) else node

    route.fulfill(status=200, content_type="application/json", body=json.dumps(swap(body)))


def test_a_concatenated_chart_with_long_labels_stays_inside_its_card(page, log_in):
    page.route("**/analytics/categories/engagement*", _long_page_labels)
    open_section(page, log_in, "#engagement")
    page.wait_for_selector("#panel-engagement .chart[data-drawn=true] svg", timeout=30_000)
    page.wait_for_timeout(300)
    card = page.locator("#panel-engagement .chart").bounding_box()
    drawn = page.locator("#panel-engagement .chart svg").first.bounding_box()
    assert card and drawn
    assert drawn["x"] + drawn["width"] <= card["x"] + card["width"] + 1, (drawn, card)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_chart_spec_vega_lite_cannot_read_is_named_in_plain_words_before_anything_runs(page, log_in):
    """An unknown mark or type, or a spec that is not an object: Vega-Lite's own words were "Cannot read properties of
    undefined (reading 'filled')", 'Invalid field type "undefined"' or "Invalid specification {"0":1,…}"."""
    open_section(page, log_in, "#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-json .cm-content", timeout=30_000)
    queries: list[str] = []
    page.on("request", lambda r: queries.append(r.url) if r.url.endswith("/analytics/query") else None)
    cases = [
        ('{"mark": "nosuchmark"}', '$.mark: unknown mark "nosuchmark"; Vega-Lite draws arc, area, bar'),
        (
            '{"layer": [{"mark": "bar", "encoding": {"x": {"field": "event_type", "type": "wrongtype"}}}]}',
            '$.layer[0].encoding.x.type: unknown type "wrongtype"; use one of quantitative, temporal',
        ),
        ("[1, 2]", "$: a Vega-Lite spec is a JSON object ({ … })"),
        ('"bar"', "$: a Vega-Lite spec is a JSON object ({ … })"),
        ('{"title": "Events"}', "$: a chart needs a mark (or layer, concat, hconcat, vconcat, facet, repeat)"),
    ]
    for spec, words in cases:
        page.locator("#panel-custom .xolap-editor-json .cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(spec)
        page.click("#panel-custom [data-action=run]")
        page.wait_for_function(
            "(words) => document.querySelector('#panel-custom .query-error').textContent.includes(words)",
            arg=words,
            timeout=10_000,
        )
        shown = page.locator("#panel-custom .query-error .error-message").inner_text()
        assert shown == "The chart spec has a problem: " + words + shown.split(words, 1)[1], shown
        assert page.locator("#panel-custom .status").inner_text() == "Not run."
    assert queries == []
    # an empty spec (as a visualization saved without a chart holds) is data only, not an error
    page.locator("#panel-custom .xolap-editor-json .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text("{}")
    page.click("#panel-custom [data-action=run]")
    page.wait_for_function("() => /rows in/.test(document.querySelector('#panel-custom .status').textContent)")
    assert page.locator("#panel-custom .query-error").is_hidden()
    assert page.locator("#panel-custom .custom-chart").inner_text() == "No Vega-Lite spec: data only."
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_signed_out_dashboard_says_so_where_it_failed_with_a_way_back(page, log_in):
    """The session ended (logged out in another tab, expired, revoked): the summary, a chart and a custom query each
    say the user is signed out and link to the login page, which leads back here. Before, htmx followed the redirect
    and put the whole login page inside the summary, and the charts said "authentication required"."""
    open_section(page, log_in, "#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    page.context.clear_cookies()
    page.click("#date-filter [data-preset=all]")
    page.wait_for_selector("#summary .load-failure", timeout=30_000)
    summary = page.locator("#summary")
    assert "signed out" in summary.inner_text() and summary.locator("form, input").count() == 0
    login_links = "a[href^='/login?next=%2Fsections%2Fphysics-fall%2Fanalytics']"
    assert summary.locator(login_links).count() == 1
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .query-error:not([hidden])", timeout=30_000)
    error = page.locator("#panel-custom .query-error")
    assert error.inner_text().startswith("Signed out:") and error.locator(login_links).count() == 1
    page.click("#tab-video")
    page.wait_for_selector("#panel-video .chart .error", timeout=30_000)
    chart = page.locator("#panel-video .chart")
    assert "signed out" in chart.inner_text() and chart.locator(login_links).count() == 1
    # the link leads through the login back to this dashboard
    chart.locator(login_links).click()
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=email]", "teacher@example.edu")
    page.fill("input[name=password]", "teacher-pass-1")
    page.click("main form [type=submit]")
    page.wait_for_url("**/sections/physics-fall/analytics**")
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    assert page.errors == []  # type: ignore[attr-defined]
