"""In chromium: log in, see the section dashboard draw its charts, run a custom query and chart it, open the project
dashboard's section comparison; screenshots of each page go to docs/screenshots/."""

from __future__ import annotations


def drawn_marks(page, panel: str) -> int:
    return page.locator(f"#{panel} .chart svg .role-mark").locator("path, line, rect, text").count()


def test_login_then_section_dashboard_draws_charts(page, log_in, screenshot):
    page.goto("/login")
    screenshot(page, "login")
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics")
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    assert page.locator("#summary .summary-card.total .value").inner_text().replace(",", "") == "120"
    # the first tab (video) draws on load; then open the cross-event tab
    page.wait_for_selector("#panel-video .chart[data-drawn]", timeout=30_000)
    page.click("#tab-cross_event")
    page.wait_for_selector("#panel-cross_event .chart[data-drawn=true] svg", timeout=30_000)
    assert drawn_marks(page, "panel-cross_event") > 0
    box = page.locator("#panel-cross_event .chart svg").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50
    page.click("#tab-assessment")
    page.wait_for_selector("#panel-assessment .chart[data-drawn]", timeout=30_000)
    # the data and SQL behind the chart, on demand
    page.click("#panel-assessment details.data-and-sql summary")
    assert "xolap_scope_id" in page.locator("#panel-assessment pre.sql").first.inner_text()
    assert page.locator("#panel-assessment .data-table tbody tr").count() > 0
    page.click("#tab-cross_event")
    screenshot(page, "section-dashboard")
    # a date range with no events: the summary and the open chart say there is not enough data
    page.fill("#date-filter input[name=start]", "2030-01-01")
    page.click("#date-filter [type=submit]")
    page.wait_for_selector("#summary .empty-state", timeout=30_000)
    page.wait_for_selector("#panel-cross_event .chart .empty-state", timeout=30_000)
    assert "Not enough data" in page.locator("#panel-cross_event .chart").inner_text()
    assert "start=2030-01-01" in page.url
    assert page.errors == []  # type: ignore[attr-defined]


def test_custom_query_runs_and_renders_its_chart_and_errors_inline(page, log_in, screenshot):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .custom-chart svg .role-mark", timeout=30_000)
    assert page.locator("#panel-custom .custom-chart svg .role-mark path").count() >= 4
    assert "rows in" in page.locator("#panel-custom .status").inner_text()
    assert page.locator("#panel-custom .result-data tbody tr").count() == 4
    # save it, then load it back from the list
    page.fill("#panel-custom input[name=title]", "Events by type")
    page.click("#panel-custom [data-action=save]")
    page.wait_for_selector("#panel-custom select[name=saved] option:nth-child(2)", state="attached")
    screenshot(page, "custom-sql")
    with page.expect_download() as download:
        page.click("#panel-custom [data-export-custom=png]")
    assert download.value.suggested_filename == "physics-fall-custom-first-latest.png"
    with open(download.value.path(), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    # a refused query shows the guard's message inline
    editor = page.locator("#panel-custom .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT * FROM system.tables")
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .query-error:not([hidden])", timeout=15_000)
    assert "not allowed" in page.locator("#panel-custom .query-error").inner_text()
    # the failed run leaves no chart and no rows of the previous one
    assert page.locator("#panel-custom .custom-chart svg").count() == 0
    assert page.locator("#panel-custom .result-data tbody tr").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_project_dashboard_compares_sections(page, log_in, screenshot):
    log_in(page, "author")
    page.goto("/projects/intro-physics/analytics#section_comparison")
    page.wait_for_selector("#panel-section_comparison .chart[data-drawn=true] svg", timeout=30_000)
    assert drawn_marks(page, "panel-section_comparison") > 0
    page.click("#panel-section_comparison details.data-and-sql summary")
    assert "Physics · Evening cohort" in page.locator("#panel-section_comparison .data-table").inner_text()
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    screenshot(page, "project-dashboard")
    assert page.errors == []  # type: ignore[attr-defined]


def test_admin_console_screenshot(page, log_in, screenshot):
    log_in(page, "admin")
    response = page.goto("/admin/clickhouse")
    assert response is not None and response.status == 200
    page.wait_for_load_state("networkidle")
    screenshot(page, "admin-console")


def test_chart_builder_draws_a_chart_from_the_result_and_writes_an_editable_spec(page, log_in, screenshot):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .schema-tree button.schema-name", timeout=30_000)
    # the schema browser inserts a column name into the SQL editor
    editor = page.locator("#panel-custom .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT toDate(timestamp) AS day, count() AS events, ")
    page.click("#panel-custom .schema-tree button.schema-name:text-is('event_type')")
    page.keyboard.type(" FROM raw_events GROUP BY day, event_type ORDER BY day")
    assert "count() AS events, event_type FROM raw_events" in editor.inner_text()
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom fieldset.chart-builder:not([disabled])", timeout=30_000)
    page.select_option("#panel-custom .chart-builder select[name=mark]", "line")
    page.select_option("#panel-custom .chart-builder select[name=x]", "day")
    page.select_option("#panel-custom .chart-builder select[name=y]", "events")
    page.select_option("#panel-custom .chart-builder select[name=aggregate]", "sum")
    page.select_option("#panel-custom .chart-builder select[name=color]", "event_type")
    page.click("#panel-custom [data-action=build]")
    page.wait_for_selector("#panel-custom .custom-chart svg .role-mark path", timeout=30_000)
    spec = page.evaluate("() => JSON.parse(document.querySelector('#custom-spec').value)")
    assert spec["width"] == "container" and spec["mark"]["type"] == "line"
    assert spec["encoding"]["x"] == {"field": "day", "type": "temporal", "title": "day"}
    assert spec["encoding"]["y"]["aggregate"] == "sum" and spec["encoding"]["color"]["field"] == "event_type"
    assert page.locator("#panel-custom .custom-chart svg .role-mark path").count() == 4  # one line per event type
    chart = page.locator("#panel-custom .custom-chart svg").bounding_box()
    panel = page.locator("#panel-custom").bounding_box()
    assert chart["width"] > panel["width"] * 0.8  # sized to its container
    screenshot(page, "chart-builder")
    assert page.errors == []  # type: ignore[attr-defined]


def test_page_dates_apply_to_custom_sql_only_when_asked_and_a_reversed_range_clears_results(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics?start=2026-09-01&end=2026-09-30#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    editor = page.locator("#panel-custom .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT count() AS events FROM raw_events")

    def events() -> int:
        page.click("#panel-custom [data-action=run]")
        page.wait_for_function("() => / rows? in /.test(document.querySelector('#panel-custom .status').textContent)")
        value = int(page.locator("#panel-custom .result-data tbody td").first.inner_text())
        page.evaluate("() => { document.querySelector('#panel-custom .status').textContent = ''; }")
        return value

    assert "every date" in page.locator("#panel-custom .dates-note").inner_text()
    everything = events()
    page.check("#panel-custom input[name=apply_dates]")
    assert "2026-09-01 – 2026-09-30" in page.locator("#panel-custom .dates-note").inner_text()
    september = events()
    assert 0 < september < everything == 120
    # a reversed range is refused in the browser and clears what was on screen
    page.click("#tab-video")
    page.wait_for_selector("#panel-video .chart[data-drawn] svg", timeout=30_000)
    page.fill("#date-filter input[name=start]", "2026-10-30")
    page.fill("#date-filter input[name=end]", "2026-09-01")
    page.click("#date-filter [type=submit]")
    assert "after" in page.locator("#date-filter .filter-error").inner_text()
    assert page.locator("#panel-video .chart svg").count() == 0
    assert "No results" in page.locator("#summary").inner_text()
    assert "start=2026-10-30" not in page.url
    # presets fill the dates and apply them
    page.click("#date-filter [data-preset=all]")
    page.wait_for_selector("#panel-video .chart[data-drawn] svg", timeout=30_000)
    assert page.locator("#date-filter .filter-error").is_hidden()
    assert page.input_value("#date-filter input[name=start]") == ""
    assert page.errors == []  # type: ignore[attr-defined]


def test_admin_console_runs_a_sample_query_from_the_health_page(page, log_in, screenshot):
    log_in(page, "admin")
    page.goto("/admin/clickhouse")
    page.click("text=Run in the SQL console >> nth=0")
    page.wait_for_url("**/admin/console?sample=0")
    page.wait_for_selector("#sql-console .result-data tbody tr", timeout=30_000)
    assert "rows in" in page.locator("#sql-console .status").inner_text()
    assert page.locator("#sql-console .result-data tbody tr").count() >= 4  # events per type of the test data
    # another sample, one click; then a refused statement replaces the rows with the reason
    page.click("#sql-console [data-sample] >> nth=1")
    page.wait_for_function("() => / rows? in /.test(document.querySelector('#sql-console .status').textContent)")
    editor = page.locator("#sql-console .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("DROP TABLE raw_events")
    page.click("#sql-console [data-action=run]")
    page.wait_for_selector("#sql-console .query-error:not([hidden])", timeout=15_000)
    assert page.locator("#sql-console .result-data tbody tr").count() == 0
    screenshot(page, "admin-sql-console")
    assert page.errors == []  # type: ignore[attr-defined]


def test_learners_at_risk_is_a_table_sortable_by_any_column(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#learners_at_risk")
    page.wait_for_selector("#panel-learners_at_risk .category-table table", timeout=30_000)
    headers = page.locator("#panel-learners_at_risk .category-table th").all_inner_texts()
    assert [h.rstrip(" ▲▼") for h in headers][:2] == ["Learner", "Last active"]
    rows = page.locator("#panel-learners_at_risk .category-table tbody tr")
    assert rows.count() > 1  # the test events end weeks before today: their learners are flagged inactive
    page.click("#panel-learners_at_risk .category-table th[data-field=learner] button")
    first = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert first == sorted(first)
    page.click("#panel-learners_at_risk .category-table th[data-field=learner] button")
    second = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert second == sorted(first, reverse=True)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_table_sorted_from_the_keyboard_keeps_the_focus_on_its_column(page, log_in):
    """Enter or Space on a column's sort button sorts and leaves the focus on that column's button (the table is drawn
    again): the focus fell to the page's start, so a keyboard user tabbed through the whole page to sort again."""
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#learners_at_risk")
    page.wait_for_selector("#panel-learners_at_risk .category-table table", timeout=30_000)
    column = "#panel-learners_at_risk .category-table th[data-field=learner]"
    page.focus(f"{column} button")
    for key, order in (("Enter", "ascending"), (" ", "descending")):
        page.keyboard.press(key)
        assert page.locator(column).get_attribute("aria-sort") == order
        focused = page.evaluate(
            "() => document.activeElement.closest('th') && document.activeElement.closest('th').dataset.field"
        )
        assert focused == "learner", key
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failed_summary_says_why_instead_of_showing_old_cards(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics")
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    page.route(
        "**/analytics/summary*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": {"kind": "unavailable", "message": "ClickHouse is not answering"}}',
        ),
    )
    page.fill("#date-filter input[name=start]", "2026-09-01")
    page.click("#date-filter [type=submit]")
    page.wait_for_selector("#summary .error", timeout=15_000)
    assert "ClickHouse is not answering" in page.locator("#summary").inner_text()
    assert page.locator("#summary .summary-card").count() == 0


def test_progress_is_indeterminate_until_reported_and_never_full_while_running(page, log_in):
    import json

    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    reported = {"fraction": None}

    def progress(route):
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps(
                {
                    "tag": "t",
                    "running": True,
                    "rows_read": 5,
                    "total_rows": 5,
                    "bytes_read": 1,
                    "elapsed_s": 0.5,
                    "fraction": reported["fraction"],
                }
            ),
        )

    held = []  # the query is held (still running) while the page polls its progress

    def slow_query(route):
        held.append(route)

    page.route("**/analytics/query/*/progress", progress)
    page.route("**/analytics/query", slow_query)
    page.click("#panel-custom [data-action=run]")
    bar = page.locator("#panel-custom progress")
    page.wait_for_selector("#panel-custom progress:not([hidden])", timeout=5_000)
    assert bar.get_attribute("value") is None  # indeterminate: nothing reported yet
    page.wait_for_function("() => document.querySelector('#panel-custom .status').textContent.includes('rows read')")
    assert bar.get_attribute("value") is None  # a report without a fraction keeps it indeterminate
    reported["fraction"] = 1.0  # the engine says everything is read, but the query has not answered yet
    page.wait_for_function("() => document.querySelector('#panel-custom progress').hasAttribute('value')")
    assert float(bar.get_attribute("value")) < 1
    held[0].continue_()
    page.wait_for_selector("#panel-custom progress[hidden]", state="attached", timeout=30_000)


def test_the_category_tabs_work_from_the_keyboard_as_tabs_do(page, log_in):
    """The WAI-ARIA tabs pattern: the tab list is one stop of the Tab key (the selected tab), the arrow keys move
    between the tabs and open them (wrapping around), Home and End go to the first and the last; Tab then goes on into
    the open panel. Before, every tab was a Tab stop (eleven on a project) and the arrow keys did nothing."""
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics")
    page.wait_for_selector("#panel-video .chart[data-drawn]", timeout=30_000)
    keys = page.locator("[role=tab]").evaluate_all("tabs => tabs.map(t => t.dataset.tab)")

    def selected() -> tuple[str, str, bool]:
        return tuple(
            page.evaluate(
                "() => { const tab = document.querySelector('[role=tab][aria-selected=true]');"
                " return [tab.dataset.tab, document.activeElement.dataset.tab || '',"
                " !document.getElementById(tab.getAttribute('aria-controls')).hidden]; }"
            )
        )

    page.focus("#tab-video")
    page.keyboard.press("ArrowRight")
    assert selected() == (keys[1], keys[1], True)
    page.keyboard.press("End")
    assert selected() == ("custom", "custom", True)
    page.keyboard.press("ArrowRight")  # wraps to the first
    assert selected() == (keys[0], keys[0], True)
    page.keyboard.press("ArrowLeft")  # and back to the last
    assert selected() == ("custom", "custom", True)
    page.keyboard.press("Home")
    assert selected() == (keys[0], keys[0], True)
    tab_stops = page.locator("[role=tab]").evaluate_all("tabs => tabs.filter(t => t.tabIndex >= 0).map(t => t.id)")
    assert tab_stops == ["tab-" + keys[0]]
    page.keyboard.press("Tab")  # out of the tab list, into the open panel
    assert page.evaluate("() => document.activeElement.closest('[role=tabpanel]')?.id") == "panel-" + keys[0]
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_chart_with_not_enough_data_offers_no_picture_to_export(page, log_in):
    """The page says "Not enough data yet for this chart": its PNG and SVG buttons are off (the server answered 400,
    or drew a picture of zeros the page itself refuses to show), CSV and JSON stay on; with data they are on again."""
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics?start=2030-01-01#performance")
    page.wait_for_selector("#panel-performance .chart .empty-state", timeout=30_000)
    buttons = "#panel-performance [data-export-category=performance][data-format={}]"
    assert page.locator(buttons.format("png")).is_disabled() and page.locator(buttons.format("svg")).is_disabled()
    assert page.locator(buttons.format("csv")).is_enabled() and page.locator(buttons.format("json")).is_enabled()
    page.click("#date-filter [data-preset=all]")
    page.wait_for_selector("#panel-performance .chart[data-drawn=true] svg", timeout=30_000)
    assert page.locator(buttons.format("png")).is_enabled() and page.locator(buttons.format("svg")).is_enabled()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_custom_query_with_no_rows_offers_no_picture_to_export(page, log_in):
    """The custom tab says "Not enough data: the query returned no rows": its PNG and SVG buttons are off (the server
    answered 400 'not enough data' after a click), CSV and JSON stay on; a run that draws its chart turns them on."""
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    button = "#panel-custom [data-export-custom={}]"
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .custom-chart svg", timeout=30_000)
    assert page.locator(button.format("png")).is_enabled() and page.locator(button.format("svg")).is_enabled()
    page.locator("#panel-custom .xolap-editor-sql .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT event_type, count() AS events FROM raw_events WHERE 0 GROUP BY event_type")
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .custom-chart .empty-state", timeout=30_000)
    assert page.locator(button.format("png")).is_disabled() and page.locator(button.format("svg")).is_disabled()
    assert page.locator(button.format("csv")).is_enabled() and page.locator(button.format("json")).is_enabled()
    assert "CSV or JSON" in (page.locator(button.format("png")).get_attribute("title") or "")
    assert page.errors == []  # type: ignore[attr-defined]
