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
    assert download.value.suggested_filename == "custom.png"
    with open(download.value.path(), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    # a refused query shows the guard's message inline
    editor = page.locator("#panel-custom .xolap-editor-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT * FROM system.tables")
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .query-error:not([hidden])", timeout=15_000)
    assert "guard" in page.locator("#panel-custom .query-error").inner_text()
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
