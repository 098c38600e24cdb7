"""A section moved to another project in Postgres (an admin edit, a scopes sync or import): the author of the project
it left loses it on the very next request, warm access cache or not, on every route that opens it (the custom tab's
schema, custom SQL, saved visualizations, the section list), while its instructor keeps it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"


@pytest.fixture(scope="module")
def moves_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "moves")


def move_section(runtime, section_id: int, project_id: int) -> None:
    from xolap.store.models import Section

    with runtime.sessions() as session:
        session.get(Section, section_id).project_id = project_id
        session.commit()


def test_a_moved_section_leaves_its_former_projects_author_at_once(moves_world):
    runtime, tokens = moves_world
    author = bearer(tokens["author"])  # author of project 1, which section 101 (physics-fall) is taught from
    routes = {
        "schema": lambda client: client.get(A + "/schema", headers=author),
        "custom query": lambda client: client.post(
            A + "/query", json={"sql": "SELECT count() FROM raw_events"}, headers=author
        ),
        "visualizations": lambda client: client.get(A + "/visualizations", headers=author),
    }

    def listed(client) -> set[str]:
        return {section["slug"] for section in client.get("/api/v1/sections", headers=author).json()}

    client = TestClient(create_app(runtime))  # no lifespan: these routes need none
    assert {what: call(client).status_code for what, call in routes.items()} == dict.fromkeys(routes, 200)
    assert "physics-fall" in listed(client)
    move_section(runtime, 101, 2)
    try:
        assert {what: call(client).status_code for what, call in routes.items()} == dict.fromkeys(routes, 403)
        assert "physics-fall" not in listed(client)
        assert client.get(A + "/schema", headers=bearer(tokens["inst_a"])).status_code == 200  # its instructor
    finally:
        move_section(runtime, 101, 1)
    assert client.get(A + "/schema", headers=author).status_code == 200
