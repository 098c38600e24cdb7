"""In chromium: every page README names for an admin is reachable by following the links from the home page (the
top bar and the pages' own links), as an admin who knows no address would find them; nobody else sees an admin link."""

from __future__ import annotations

from urllib.parse import urlsplit

# README: the admin console and its SQL console, maintenance, backfill, users, flags, scopes, failed logins and the
# LRS credentials page ("made by an admin at /admin/lrs")
ADMIN_PAGES = {
    "/admin/clickhouse",
    "/admin/console",
    "/admin/maintenance",
    "/admin/clickhouse/backfill",
    "/admin/users",
    "/admin/flags",
    "/admin/scopes",
    "/admin/logins",
    "/admin/lrs",
    "/account",
}


def links(page) -> set[str]:
    """The paths of this server that the page's links lead to (no fragment, no query)."""
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    base = urlsplit(page.url)
    return {urlsplit(href).path for href in hrefs if urlsplit(href).netloc == base.netloc}


def reachable(page, wanted: set[str]) -> set[str]:
    """The wanted paths reached from / by following links through pages that are wanted or the home page."""
    seen: set[str] = set()
    queue = ["/"]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page.goto(path)
        queue += sorted(link for link in links(page) if link in wanted and link not in seen)
    return seen & wanted


def test_an_admin_reaches_every_admin_page_from_the_links(page, log_in):
    log_in(page, "admin")
    assert reachable(page, ADMIN_PAGES) == ADMIN_PAGES
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_instructor_sees_no_admin_link(page, log_in):
    log_in(page, "teacher")
    page.goto("/")
    assert not {link for link in links(page) if link.startswith("/admin")}


def test_a_refused_page_is_named_in_words_in_the_tab_title(page, log_in):
    """A browser tab (and a screen reader's first words) names the refusal as the page's heading does, not a bare
    status number ('403 · xolap')."""
    log_in(page, "admin")
    page.goto("/admin/users/999999")
    assert page.locator("main h1").inner_text() == "Not found"
    assert page.title() == "Not found · xolap"
    page.context.clear_cookies()
    log_in(page, "teacher")
    page.goto("/admin/users")
    assert page.locator("main h1").inner_text() == "Not allowed"
    assert page.title() == "Not allowed · xolap"
