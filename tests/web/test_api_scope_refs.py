"""Sections and projects by id or slug in the API (issue 15): the same answer both ways, 404 for an unknown one
(never an empty result), and the admin operations API the CLI uses beside a running server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime, section_event_count
from xolap.web.app import create_app


@pytest.fixture(scope="module")
def world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "scoperefs")


@pytest.fixture()
def api(world):
    runtime, tokens = world
    return TestClient(create_app(runtime)), tokens


SQL = "SELECT count() AS n FROM raw_events"


@pytest.mark.parametrize("ref", ["101", "physics-fall"])
def test_a_section_by_id_or_slug(api, ref):
    client, tokens = api
    for role in ("admin", "inst_a"):
        answer = client.post(f"/api/v1/sections/{ref}/analytics/query", json={"sql": SQL}, headers=bearer(tokens[role]))
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [[section_event_count(101)]]


def test_a_project_by_id_is_its_slug(api):
    client, tokens = api
    by_id = client.get("/api/v1/projects/1/analytics/categories", headers=bearer(tokens["author"]))
    by_slug = client.get("/api/v1/projects/intro-physics/analytics/categories", headers=bearer(tokens["author"]))
    assert by_id.status_code == by_slug.status_code == 200 and by_id.json() == by_slug.json()


@pytest.mark.parametrize("ref", ["4508", "no-such-section", "201x"])
def test_an_unknown_section_is_404_for_an_admin(api, ref):
    client, tokens = api
    answer = client.post(f"/api/v1/sections/{ref}/analytics/query", json={"sql": SQL}, headers=bearer(tokens["admin"]))
    assert answer.status_code == 404, answer.text
    assert f"no section with id or slug {ref!r}" in answer.text


def test_another_instructors_section_by_id_stays_refused(api):
    client, tokens = api
    answer = client.post("/api/v1/sections/201/analytics/query", json={"sql": SQL}, headers=bearer(tokens["inst_a"]))
    assert answer.status_code == 403


@pytest.mark.parametrize("ref", ["101", "physics-fall"])
def test_the_admin_query_api_names_a_section_by_id_or_slug(api, ref):
    client, tokens = api
    answer = client.post(
        "/api/v1/admin/query", json={"sql": SQL, "scope": "section", "ref": ref}, headers=bearer(tokens["admin"])
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["rows"] == [[section_event_count(101)]] and body["scope"]["id"] == 101


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"sql": SQL, "scope": "section", "ref": "4508"}, 404, "not_found"),
        ({"sql": SQL, "scope": "project", "ref": "physics-fall"}, 404, "not_found"),
        ({"sql": "SELECT * FROM system.one", "scope": "admin"}, 400, "guard"),
        ({"sql": "  ", "scope": "admin"}, 400, "invalid"),
        ({"sql": SQL, "scope": "everything"}, 400, "invalid"),
    ],
)
def test_the_admin_query_api_refuses_clearly(api, body, status, kind):
    client, tokens = api
    answer = client.post("/api/v1/admin/query", json=body, headers=bearer(tokens["admin"]))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["kind"] == kind


def test_the_operations_api_is_for_admins_only(api):
    client, tokens = api
    for path, body in (
        ("/api/v1/admin/query", {"sql": SQL, "scope": "section", "ref": "101"}),
        ("/api/v1/admin/analytics/categories/video", {"scope": "section", "ref": "101"}),
    ):
        assert client.post(path, json=body, headers=bearer(tokens["inst_a"])).status_code == 403
        assert client.post(path, json=body).status_code == 401
    assert client.get("/api/v1/admin/analytics/health", headers=bearer(tokens["author"])).status_code == 403


def test_a_category_through_the_operations_api_by_slug(api):
    client, tokens = api
    answer = client.post(
        "/api/v1/admin/analytics/categories/video",
        json={"scope": "section", "ref": "physics-fall"},
        headers=bearer(tokens["admin"]),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["key"] == "video" and answer.json()["scope"]["id"] == 101
    unknown = client.post(
        "/api/v1/admin/analytics/categories/nope",
        json={"scope": "section", "ref": "101"},
        headers=bearer(tokens["admin"]),
    )
    assert unknown.status_code == 404
