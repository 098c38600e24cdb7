"""Dashboard pages: HTML layout, the same data as JSON, the htmx summary fragment, access refusals, CSRF on the API."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime, section_event_count
from xolap.web.app import create_app


@pytest.fixture(scope="module")
def world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "dash")


@pytest.fixture()
def web(world):
    runtime, tokens = world
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}


def login(client: TestClient, email: str, password: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return token


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_section_page_lists_categories_custom_tab_and_assets(web):
    client, _ = web
    login(client, "a@example.edu", "teacher-pass-a")
    page = client.get("/sections/physics-fall/analytics?start=2026-09-01&end=2026-09-30")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-api="/api/v1/sections/physics-fall/analytics"' in html
    for key in ("video", "assessment", "engagement", "cross_event", "custom"):
        assert f'data-tab="{key}"' in html
    assert 'data-tab="section_comparison"' not in html
    assert 'value="2026-09-01"' in html and 'value="2026-09-30"' in html
    assert 'hx-get="/sections/physics-fall/analytics/summary"' in html
    for script in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "editor.js", "/static/js/dashboard.js"):
        assert script in html
    assert 'href="/projects/intro-physics/analytics"' not in html  # an instructor may not open the project
    assert client.get("/static/js/dashboard.js").status_code == 200
    assert client.get("/static/css/dashboard.css").status_code == 200


def test_page_data_as_json_under_the_same_authorization(web):
    client, who = web
    body = client.get("/sections/physics-fall/analytics", headers=who["inst_a"]).json()
    assert body["scope"]["id"] == 101 and body["scope"]["kind"] == "section"
    assert body["summary"]["total_events"] == section_event_count(101)
    assert "video" in [c["key"] for c in body["categories"]]
    assert client.get("/sections/physics-fall/analytics", headers=who["inst_b"]).status_code == 403
    project = client.get("/projects/intro-physics/analytics", headers=who["author"]).json()
    assert project["summary"]["total_events"] == section_event_count(101) + section_event_count(102)
    assert "section_comparison" in [c["key"] for c in project["categories"]]
    assert client.get("/projects/intro-physics/analytics", headers=who["inst_a"]).status_code == 403
    assert client.get("/projects/chem-basics/analytics", headers=who["author"]).status_code == 403
    bad = client.get("/sections/physics-fall/analytics?end=yesterday", headers=who["inst_a"])
    assert bad.status_code == 400 and "end" in bad.json()["error"]["message"]


def test_summary_fragment_has_a_card_per_event_type_and_an_empty_state(web):
    client, _ = web
    login(client, "a@example.edu", "teacher-pass-a")
    fragment = client.get("/sections/physics-fall/analytics/summary").text
    assert f'data-total-events="{section_event_count(101)}"' in fragment
    assert fragment.count('class="summary-card"') == 4
    empty = client.get("/sections/physics-fall/analytics/summary?start=2030-01-01").text
    assert "Not enough data" in empty


def test_summary_cards_name_event_types_in_instructor_words(web):
    client, who = web
    login(client, "a@example.edu", "teacher-pass-a")
    rows = client.get("/api/v1/sections/physics-fall/analytics/summary", headers=who["inst_a"]).json()["event_types"]
    fragment = client.get("/sections/physics-fall/analytics/summary").text
    labels = re.findall(r'<div class="label">([^<]*)</div>', fragment)
    assert labels == ["All events"] + [row["label"] for row in rows]
    for row in rows:  # the stored type stays only as a data attribute, never as the text a person reads
        assert row["label"] != row["event_type"]
        assert row["event_type"].replace("_", " ") not in labels


def test_anonymous_browser_goes_to_login_and_api_asks_for_credentials(web):
    client, _ = web
    page = client.get("/sections/physics-fall/analytics", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith(
        "/login?next=/sections/physics-fall/analytics"
    )
    assert client.get("/api/v1/sections/physics-fall/analytics/summary").status_code == 401


def test_cookie_session_api_calls_need_the_csrf_token(web):
    client, _ = web
    login(client, "a@example.edu", "teacher-pass-a")
    token = csrf_of(client.get("/sections/physics-fall/analytics").text)
    url = "/api/v1/sections/physics-fall/analytics/query"
    refused = client.post(url, json={"sql": "SELECT count() FROM raw_events"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    allowed = client.post(url, json={"sql": "SELECT count() FROM raw_events"}, headers={"X-CSRF-Token": token})
    assert allowed.status_code == 200 and allowed.json()["rows"] == [[section_event_count(101)]]
    # reading needs no token
    assert client.get("/api/v1/sections/physics-fall/analytics/visualizations").status_code == 200


def test_flags_off_refuse_the_dashboard(web, world):
    client, who = web
    runtime, _ = world
    from xolap.store import flags

    with runtime.sessions() as session:
        flags.set_flag(session, flags.SECTION_DASHBOARD, False, "section", 101)
        session.commit()
    try:
        refused = client.get("/sections/physics-fall/analytics", headers=who["inst_a"])
        assert refused.status_code == 403 and "instructor_dashboard_analytics" in refused.text
        assert client.get("/sections/physics-evening/analytics", headers=who["admin"]).status_code == 200
    finally:
        with runtime.sessions() as session:
            flags.clear_flag(session, flags.SECTION_DASHBOARD, "section", 101)
            session.commit()


def test_project_page_has_the_section_comparison_tab(web):
    client, _ = web
    login(client, "author@example.edu", "author-pass-1")
    html = client.get("/projects/intro-physics/analytics").text
    assert 'data-tab="section_comparison"' in html
    assert 'data-api="/api/v1/projects/intro-physics/analytics"' in html


# ---------------------------------------------------------------- no dead ends (issue 11)

SECTION_API = "/api/v1/sections/physics-fall/analytics"


def test_authors_open_the_sections_of_their_own_project_only(web):
    client, who = web
    assert client.get("/sections/physics-fall/analytics", headers=who["author"]).status_code == 200
    assert client.get("/sections/physics-evening/analytics", headers=who["author"]).status_code == 200
    assert client.get("/sections/chem-fall/analytics", headers=who["author"]).status_code == 403
    assert client.get(SECTION_API + "/summary", headers=who["author"]).status_code == 200
    home = client.get("/", headers=who["author"]).json()
    assert {s["slug"] for s in home["sections"]} == {"physics-fall", "physics-evening"}


def test_login_lands_on_the_only_dashboard_or_home(web):
    client, _ = web
    page = client.get("/login")
    token = csrf_of(page.text)
    only = client.post(
        "/login",
        data={"email": "a@example.edu", "password": "teacher-pass-a", "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert only.headers["location"] == "/sections/physics-fall/analytics"
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    several = client.post(
        "/login",
        data={"email": "author@example.edu", "password": "author-pass-1", "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert several.headers["location"] == "/"
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    asked = client.post(
        "/login",
        data={"email": "a@example.edu", "password": "teacher-pass-a", "csrf_token": token, "next": "/account"},
        follow_redirects=False,
    )
    assert asked.headers["location"] == "/account"


def test_section_page_links_to_its_project_only_for_who_may_open_it(web):
    client, _ = web
    login(client, "a@example.edu", "teacher-pass-a")
    assert 'href="/projects/intro-physics/analytics"' not in client.get("/sections/physics-fall/analytics").text
    assert "Introductory Physics" in client.get("/sections/physics-fall/analytics").text
    client.cookies.clear()
    login(client, "author@example.edu", "author-pass-1")
    assert 'href="/projects/intro-physics/analytics"' in client.get("/sections/physics-fall/analytics").text


def test_exports_are_named_scope_category_from_to(web):
    client, who = web
    dated = client.get(
        SECTION_API + "/categories/video/export?format=csv&start=2026-09-01&end=2026-09-30", headers=who["inst_a"]
    )
    assert dated.status_code == 200, dated.text
    assert dated.headers["content-disposition"] == 'attachment; filename="physics-fall-video-2026-09-01-2026-09-30.csv"'
    open_ended = client.get(SECTION_API + "/categories/video/export?format=json", headers=who["inst_a"])
    assert 'filename="physics-fall-video-first-latest.json"' in open_ended.headers["content-disposition"]
    custom = client.post(
        SECTION_API + "/export?format=csv",
        headers=who["inst_a"],
        json={"sql": "SELECT count() AS n FROM raw_events", "start": "2026-09-01"},
    )
    assert custom.status_code == 200, custom.text
    assert 'filename="physics-fall-custom-2026-09-01-latest.csv"' in custom.headers["content-disposition"]


def count_events(client, who, sql: str, **dates) -> int:
    response = client.post(SECTION_API + "/query", json={"sql": sql, **dates}, headers=who["inst_a"])
    assert response.status_code == 200, response.text
    return int(response.json()["rows"][0][0])


def test_custom_sql_reads_only_the_pages_dates_when_they_are_applied(web):
    client, who = web
    everything = count_events(client, who, "SELECT count() FROM raw_events")
    september = count_events(client, who, "SELECT count() FROM raw_events", start="2026-09-01", end="2026-09-30")
    expected = count_events(
        client,
        who,
        "SELECT count() FROM raw_events WHERE timestamp >= '2026-09-01 00:00:00' AND timestamp < '2026-10-01 00:00:00'",
    )
    assert 0 < september == expected < everything
    # the range holds however the table is read: a subquery, a join, the end date alone (inclusive)
    nested = count_events(
        client, who, "SELECT count() FROM (SELECT * FROM raw_events) AS e", start="2026-09-01", end="2026-09-30"
    )
    assert nested == september
    joined = count_events(
        client,
        who,
        "SELECT count() FROM raw_events AS a INNER JOIN (SELECT DISTINCT user_id "
        "FROM raw_events) AS b ON a.user_id = b.user_id",
        start="2026-09-01",
        end="2026-09-30",
    )
    assert joined == september
    last_day = client.post(
        SECTION_API + "/query",
        json={"sql": "SELECT toString(max(toDate(timestamp))) FROM raw_events", "end": "2026-09-15"},
        headers=who["inst_a"],
    ).json()
    assert last_day["rows"][0][0] <= "2026-09-15"
    reversed_range = client.post(
        SECTION_API + "/query",
        json={"sql": "SELECT 1", "start": "2026-09-30", "end": "2026-09-01"},
        headers=who["inst_a"],
    )
    assert reversed_range.status_code == 400
    bad = client.post(
        SECTION_API + "/query", json={"sql": "SELECT 1", "start": "2026-09-01' OR 1=1 --"}, headers=who["inst_a"]
    )
    assert bad.status_code == 400


def test_schema_catalog_names_every_readable_column_with_a_meaning(web, world):
    client, who = web
    runtime, _ = world
    body = client.get(SECTION_API + "/schema", headers=who["inst_a"]).json()
    tables = {table["name"]: table for table in body["tables"]}
    assert set(tables) == {"raw_events", "content_titles"}
    database = runtime.settings.clickhouse_database
    for name, table in tables.items():
        described = runtime.clickhouse().query(f"DESCRIBE TABLE `{database}`.`{name}`").result_rows
        assert {c["name"]: c["type"] for c in table["columns"]} == {row[0]: row[1] for row in described}
        assert all(c["meaning"] for c in table["columns"]), [c["name"] for c in table["columns"] if not c["meaning"]]
    assert client.get(SECTION_API + "/schema", headers=who["inst_b"]).status_code == 403
