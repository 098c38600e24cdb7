"""In chromium at 390 px (a phone) and 1280 px: every page (home, section and project dashboards with each tab, the
account page, every admin page) fits the screen without a horizontal page scroll, and no page logs a console error or
warning (the Vega-Lite version warning, a missing favicon, htmx errors, CSP violations all count)."""

from __future__ import annotations

import pytest

WIDTHS = (390, 1280)
DASHBOARDS = {
    "teacher": ["/sections/physics-fall/analytics"],
    "author": ["/projects/intro-physics/analytics", "/sections/physics-evening/analytics"],
}
ADMIN_PAGES = [
    "/",
    "/account",
    "/admin/users",
    "/admin/flags",
    "/admin/scopes",
    "/admin/logins",
    "/admin/clickhouse",
    "/admin/console",
    "/admin/maintenance",
    "/admin/clickhouse/backfill",
    "/admin/lrs",
]


def overflow(page) -> int:
    """How many CSS px the page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def broken_words(page) -> list[str]:
    """Words in the page's table cells the layout broke across lines (code excepted: ids and URLs may break; a line
    may end after a hyphen)."""
    return page.evaluate(
        """() => {
          const broken = [];
          for (const cell of document.querySelectorAll("main th, main td")) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (node.parentElement.closest("code, pre, .token")) continue;
              for (const match of node.textContent.matchAll(/[^\\s-]+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) broken.push(match[0]);
              }
            }
          }
          return broken.slice(0, 10);
        }"""
    )


def narrow_fields(page) -> list[str]:
    """Text fields in main too narrow to show what they hold (under 100 CSS px: a slug read 'phys' at 390 px)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("main input:not([type=checkbox]):not([type=radio]):not([type=hidden])"
                   + ":not([type=file]):not([type=number]), main select, main textarea")]
          .filter((field) => field.offsetParent !== null && field.getBoundingClientRect().width < 100)
          .map((field) => `${field.name}=${field.value}`.slice(0, 40)).slice(0, 10)"""
    )


def watch_console(page) -> list[str]:
    messages: list[str] = []
    page.on(
        "console",
        lambda m: (
            messages.append(f"{m.type}: {m.text} @ {m.location.get('url', '')}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("response", lambda r: messages.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    return messages


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboards_fit_the_screen_on_every_tab_without_console_errors(browser, xolap_server, log_in, width):
    for role, paths in DASHBOARDS.items():
        context = browser.new_context(viewport={"width": width, "height": 900}, base_url=xolap_server.url)
        page = context.new_page()
        messages = watch_console(page)
        log_in(page, role)
        for path in paths:
            page.goto(path)
            page.wait_for_selector("#summary .summary-card, #summary .empty-state", timeout=30_000)
            tabs = page.locator("[role=tab]")
            assert tabs.count() > 2
            # one row of tabs: they scroll sideways rather than wrap into rows
            heights = {round(box["y"]) for box in (tabs.nth(i).bounding_box() for i in range(tabs.count())) if box}
            assert len(heights) == 1, (path, width, heights)
            for index in range(tabs.count()):
                tab = tabs.nth(index)
                key = tab.get_attribute("data-tab")
                tab.click()
                if key == "custom":
                    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
                    page.click("#panel-custom [data-action=run]")
                    page.wait_for_selector("#panel-custom .custom-chart svg", timeout=30_000)
                else:
                    page.wait_for_selector(f"#panel-{key} .chart[data-drawn]", timeout=30_000)
                    svg = page.locator(f"#panel-{key} .chart svg").first
                    if svg.count():
                        chart_width = svg.bounding_box()["width"]
                        panel_width = page.locator(f"#panel-{key}").bounding_box()["width"]
                        assert chart_width <= panel_width + 1 or key in ("weekday_hour",), (path, key, width)
                settle(page)
                assert overflow(page) <= 0, f"{path}#{key} is {overflow(page)} px wider than a {width} px screen"
        assert messages == [], messages
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_and_account_pages_fit_the_screen_without_console_errors(browser, xolap_server, log_in, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=xolap_server.url)
    page = context.new_page()
    messages = watch_console(page)
    log_in(page, "admin")
    page.goto("/admin/users")
    user_pages = page.locator("main a[href^='/admin/users/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    for path in ADMIN_PAGES + user_pages[:2]:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        settle(page)
        assert overflow(page) <= 0, f"{path} is {overflow(page)} px wider than a {width} px screen"
        assert broken_words(page) == [], f"{path} at {width} px breaks words in its tables"
        assert narrow_fields(page) == [], f"{path} at {width} px squeezes its fields"
    assert messages == [], messages
    context.close()


def test_a_reversed_range_in_the_address_opens_the_page_with_the_reason_and_no_console_error(
    browser, xolap_server, log_in
):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=xolap_server.url)
    page = context.new_page()
    messages = watch_console(page)
    log_in(page, "teacher")
    response = page.goto("/sections/physics-fall/analytics?start=2026-10-30&end=2026-09-01")
    assert response is not None and response.status == 200
    assert "after" in page.locator("#date-filter .filter-error").inner_text()
    page.wait_for_selector("#summary .summary-card", timeout=30_000)  # the whole term instead
    page.wait_for_selector("#panel-video .chart[data-drawn]", timeout=30_000)
    settle(page)
    assert messages == [], messages
    context.close()
