"""A dashboard tab served warm shows a page renamed in another section of its project on the very next load, through
the category JSON endpoint the tab uses; the section's answers without titles stay warm."""

from __future__ import annotations

import uuid

import orjson
import pytest
from fastapi.testclient import TestClient

from dashboard_support import TORUS_EXT, bearer, module_runtime
from xolap.analytics import result_cache
from xolap.store.scopes_sync import import_scopes, parse_scopes
from xolap.web.api_analytics import label_sections
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"  # section 101 of project 1; section 102 is project 1's other section


@pytest.fixture(scope="module")
def titles_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "titlecache")


def renaming_page_1000(title: str) -> dict:
    """A page view in section 102 naming page 1000 `title`, later than every seeded event (the latest name wins)."""
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": f"renamer-{uuid.uuid4().hex[:8]}"}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {
            "id": "https://torus.example/page/1000",
            "definition": {"type": TORUS_EXT + "types/page", "name": {"en-US": title}},
        },
        "context": {
            "extensions": {TORUS_EXT + "section_id": 102, TORUS_EXT + "project_id": 1, TORUS_EXT + "page_id": 1000}
        },
        "timestamp": "2026-11-20T10:00:00.000Z",
        "id": str(uuid.uuid4()),
    }


def page_1000(client: TestClient, who: dict[str, str]) -> tuple[str, str]:
    """(page 1000's title on section 101's engagement tab, X-Xolap-Cache)."""
    response = client.get(A + "/categories/engagement", headers=who)
    assert response.status_code == 200, response.text
    titles = {row["page_title"] for row in response.json()["rows"] if row["page_id"] == 1000}
    assert len(titles) == 1, titles
    return titles.pop(), response.headers.get("x-xolap-cache", "")


def test_a_page_renamed_in_another_section_shows_on_the_next_load_of_the_tab(titles_world):
    runtime, tokens = titles_world
    who = bearer(tokens["inst_a"])
    with TestClient(create_app(runtime)) as client:
        before, _ = page_1000(client, who)
        assert page_1000(client, who) == (before, "hit")
        assert client.get(A + "/summary", headers=who).status_code == 200
        response = client.post(
            "/api/v1/statements",
            content=orjson.dumps([renaming_page_1000("Forces, renamed")]),
            headers={"Authorization": f"Bearer {runtime.admin_token}", "Content-Type": "application/json"},
        )
        assert response.json()["accepted"] == 1, response.text
        assert page_1000(client, who) == ("Forces, renamed", "miss")
        assert page_1000(client, who) == ("Forces, renamed", "hit")
        summary = client.get(A + "/summary", headers=who)  # section 101's own events did not change
        assert summary.headers.get("x-xolap-cache") == "hit"


P = "/api/v1/projects/intro-physics/analytics"  # project 1: sections 101 and 102


def section_102(client: TestClient, who: dict[str, str]) -> tuple[str, str]:
    """(section 102's name on project 1's sections-compared tab, X-Xolap-Cache)."""
    response = client.get(P + "/categories/section_comparison", headers=who)
    assert response.status_code == 200, response.text
    names = [row["section"] for row in response.json()["rows"] if row["section_id"] == 102]
    assert len(names) == 1, names
    return names[0], response.headers.get("x-xolap-cache", "")


def test_a_section_renamed_by_an_admin_shows_on_the_next_load_of_the_project_tab(titles_world):
    """Section names come from Postgres (an admin's rename or a scopes import), not from the events."""
    runtime, tokens = titles_world
    who, admin = bearer(tokens["author"]), bearer(tokens["admin"])
    with TestClient(create_app(runtime)) as client:
        before, _ = section_102(client, who)
        assert section_102(client, who) == (before, "hit")
        response = client.post(
            "/api/v1/admin/scopes/import",
            json=[{"kind": "section", "id": 102, "slug": "physics-evening", "title": "Physics · Night cohort"}],
            headers=admin,
        )
        assert response.status_code == 200 and not response.json()["errors"], response.text
        assert section_102(client, who) == ("Physics · Night cohort", "miss")
        assert section_102(client, who) == ("Physics · Night cohort", "hit")


def test_a_section_renamed_while_the_comparison_is_computed_is_not_served_stale(titles_world):
    """Names read before a rename commits may be shown once, but that answer is not kept."""
    runtime, _ = titles_world
    row = {"section_id": 201, "section": "Section 201"}

    def rename(title: str) -> None:
        with runtime.sessions() as session:
            rows, errors = parse_scopes(orjson.dumps([{"kind": "section", "id": 201, "title": title}]).decode(), "t")
            assert not errors and not import_scopes(session, rows, "t").errors
            session.commit()

    def labelled_then_renamed() -> list[dict]:
        labelled = label_sections(runtime, [row])
        rename("Chemistry · Late cohort")
        return labelled

    question = ("race", uuid.uuid4().hex)
    result_cache.cached_json(runtime.settings, "project", 2, question, labelled_then_renamed)
    body, hit = result_cache.cached_json(
        runtime.settings, "project", 2, question, lambda: label_sections(runtime, [row])
    )
    assert not hit and orjson.loads(body)[0]["section"] == "Chemistry · Late cohort"
