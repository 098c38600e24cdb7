"""The dashboard page served warm: its per-kind tabs and panels are rendered once per process
(xolap.web.dashboards.static_panels), so these check that every page still carries its own kind's panels, and that
what differs per caller or per change (the project link after a grant, the dates, the signed-in user) is seen on the
very next load."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dashboard_support import module_runtime
from xolap.analytics.categories import list_categories
from xolap.store import accounts
from xolap.store.models import Project
from xolap.web.app import create_app
from xolap.web.dashboards import EXPORT_FORMATS

SECTION_PAGE = "/sections/physics-fall/analytics"  # section 101 of project 1 (intro-physics)
PROJECT_PAGE = "/projects/intro-physics/analytics"
PROJECT_LINK = 'href="/projects/intro-physics/analytics"'
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def page_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "pagewarm")


@pytest.fixture()
def app(page_world):
    runtime, _tokens = page_world
    return create_app(runtime)


def signed_in(app, email: str, password: str) -> TestClient:
    browser = TestClient(app)
    page = browser.get("/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return browser


def panels_of(html: str) -> dict[str, int]:
    """Each category panel's export buttons, by category key."""
    keys = re.findall(r'data-export-category="([a-z_]+)"', html)
    return {key: keys.count(key) for key in keys}


def test_section_and_project_pages_each_carry_their_own_kinds_panels(app):
    author = signed_in(app, "author@example.edu", "author-pass-1")
    for _ in range(2):  # alternate kinds in one process: a page never shows the other kind's panels
        section = author.get(SECTION_PAGE, headers=HTML).text
        project = author.get(PROJECT_PAGE, headers=HTML).text
        for html, kind in ((section, "section"), (project, "project")):
            wanted = [info.key for info in list_categories(kind)]
            assert re.findall(r'data-tab="([a-z_]+)" data-kind="category"', html) == wanted
            assert panels_of(html) == dict.fromkeys(wanted, len(EXPORT_FORMATS))
            assert f"it only ever sees this\n      {kind}'s events" in html
            assert html.count('id="panel-custom"') == 1 and html.count("<textarea") == 2
        assert 'data-tab="section_comparison"' in project and 'data-tab="section_comparison"' not in section
        assert 'data-api="/api/v1/sections/physics-fall/analytics"' in section
        assert 'data-api="/api/v1/projects/intro-physics/analytics"' in project


def test_a_new_author_grant_shows_the_project_link_on_the_next_load_and_a_revoked_one_hides_it(app, page_world):
    runtime, _tokens = page_world
    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    assert PROJECT_LINK not in instructor.get(SECTION_PAGE, headers=HTML).text
    with runtime.sessions() as session:
        user = accounts.get_user(session, "a@example.edu")
        membership_id = accounts.grant(session, user, project=session.get(Project, 1)).id
        session.commit()
    try:
        assert PROJECT_LINK in instructor.get(SECTION_PAGE, headers=HTML).text
    finally:
        with runtime.sessions() as session:
            user = accounts.get_user(session, "a@example.edu")
            accounts.revoke(session, user, membership_id)
            session.commit()
    assert PROJECT_LINK not in instructor.get(SECTION_PAGE, headers=HTML).text


def test_what_differs_per_load_is_rendered_per_load(app):
    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    dated = instructor.get(SECTION_PAGE + "?start=2026-09-01&end=2026-09-30", headers=HTML).text
    assert 'value="2026-09-01"' in dated and 'value="2026-09-30"' in dated
    undated = instructor.get(SECTION_PAGE, headers=HTML).text
    assert 'value="2026-09-01"' not in undated and 'name="start" value=""' in undated
    wrong = instructor.get(SECTION_PAGE + "?start=2026-10-01&end=2026-09-01", headers=HTML).text
    assert re.search(r'<p class="filter-error" role="alert">[^<]+</p>', wrong)
    author = signed_in(app, "author@example.edu", "author-pass-1")
    theirs = author.get(SECTION_PAGE, headers=HTML).text
    assert "author@example.edu" in theirs and "a@example.edu" not in theirs
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', theirs).group(1)
    assert csrf != re.search(r'name="csrf-token" content="([^"]+)"', undated).group(1)
    assert f'"X-CSRF-Token": "{csrf}"' in theirs


# ---------------------------------------------------------------- the session cookie on the warm path


def test_a_warm_request_resolves_no_path_and_verifies_no_cookie_signature_again(app, monkeypatch):
    from pathlib import Path

    from itsdangerous.signer import Signer

    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    assert instructor.get(SECTION_PAGE, headers=HTML).status_code == 200
    calls = {"resolve": 0, "verify": 0}
    resolve, verify = Path.resolve, Signer.verify_signature

    def counted_resolve(self, *args, **kwargs):
        calls["resolve"] += 1
        return resolve(self, *args, **kwargs)

    def counted_verify(self, *args, **kwargs):
        calls["verify"] += 1
        return verify(self, *args, **kwargs)

    monkeypatch.setattr(Path, "resolve", counted_resolve)
    monkeypatch.setattr(Signer, "verify_signature", counted_verify)
    for _ in range(3):
        assert instructor.get(SECTION_PAGE, headers=HTML).status_code == 200
    assert calls == {"resolve": 0, "verify": 0}


def test_a_tampered_or_too_old_cookie_is_refused_after_the_genuine_one_was_seen(app, monkeypatch):
    from xolap.web import sessions

    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    assert instructor.get(SECTION_PAGE, headers=HTML).status_code == 200
    genuine = instructor.cookies[sessions.SESSION_COOKIE]
    flipped = "A" if genuine[-5] != "A" else "B"  # inside the signature (the last base64 character has spare bits)
    for tampered in (genuine[:-5] + flipped + genuine[-4:], "x" + genuine):
        instructor.cookies.set(sessions.SESSION_COOKIE, tampered)
        refused = instructor.get(SECTION_PAGE, headers=HTML, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    instructor.cookies.set(sessions.SESSION_COOKIE, genuine)
    assert instructor.get(SECTION_PAGE, headers=HTML).status_code == 200
    monkeypatch.setattr(sessions, "MAX_AGE", -1)  # every cookie is now too old, the one already verified too
    too_old = instructor.get(SECTION_PAGE, headers=HTML, follow_redirects=False)
    assert too_old.status_code == 303 and too_old.headers["location"].startswith("/login")


def test_a_warm_page_or_tab_makes_no_file_system_call(app, monkeypatch):
    """Warm pages and tabs answer on the event loop: a stat() there gives up the GIL and waits behind the threadpool."""
    import os

    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    stats: list[str] = []
    real_stat = os.stat

    def counted_stat(path, *args, **kwargs):
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    api = "/api/v1/sections/physics-fall/analytics"
    warm = [(SECTION_PAGE, HTML), (api + "/summary", JSON), (api + "/categories/video", JSON)]
    for path, headers in warm:
        assert instructor.get(path, headers=headers).status_code == 200
    monkeypatch.setattr(os, "stat", counted_stat)
    for _ in range(3):
        for path, headers in warm:
            assert instructor.get(path, headers=headers).status_code == 200
    assert stats == []


# ---------------------------------------------------------------- the parent project's facts


def _project_flag_lookups(runtime, load) -> int:
    """How many Postgres statements `load()` sends that read the project dashboard flag."""
    from sqlalchemy import event

    from xolap.store import flags
    from xolap.store.db import engine

    seen: list[str] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if "feature_flags" in statement and flags.PROJECT_DASHBOARD in str(parameters):
            seen.append(statement)

    target = engine(runtime.settings)
    event.listen(target, "before_cursor_execute", record)
    try:
        load()
    finally:
        event.remove(target, "before_cursor_execute", record)
    return len(seen)


def test_an_instructor_page_does_not_ask_the_project_flags_it_cannot_use(app, page_world):
    from xolap.store import access_cache

    runtime, _tokens = page_world
    instructor = signed_in(app, "a@example.edu", "teacher-pass-a")
    author = signed_in(app, "author@example.edu", "author-pass-1")
    access_cache.invalidate()  # the process knows nothing: every fact is looked up
    assert _project_flag_lookups(runtime, lambda: instructor.get(SECTION_PAGE, headers=HTML)) == 0
    access_cache.invalidate()
    assert _project_flag_lookups(runtime, lambda: author.get(SECTION_PAGE, headers=HTML)) > 0  # who may open it


def test_the_project_link_follows_the_project_flag_on_the_next_load(app, page_world):
    from xolap.store import flags

    runtime, _tokens = page_world
    author = signed_in(app, "author@example.edu", "author-pass-1")
    assert PROJECT_LINK in author.get(SECTION_PAGE, headers=HTML).text
    with runtime.sessions() as session:
        flags.set_flag(session, flags.PROJECT_DASHBOARD, False, "project", 1)
        session.commit()
    try:
        page = author.get(SECTION_PAGE, headers=HTML).text
        assert PROJECT_LINK not in page and "Introductory Physics" in page
    finally:
        with runtime.sessions() as session:
            flags.set_flag(session, flags.PROJECT_DASHBOARD, True, "project", 1)
            session.commit()
    assert PROJECT_LINK in author.get(SECTION_PAGE, headers=HTML).text
