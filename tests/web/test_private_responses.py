"""Answers that hold a scope's data are never stored by a cache between the server and the person who asked: a shared
proxy may keep a 200 answer without Cache-Control and hand it to the next requester of the same URL (another
instructor, or nobody signed in), and a browser's disk cache keeps learner data after sign-out. Every response but the
static assets says `Cache-Control: no-store`; static assets keep their own caching."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"
P = "/api/v1/projects/intro-physics/analytics"


@pytest.fixture(scope="module")
def private_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "priv")


def test_scoped_answers_are_never_stored_by_a_cache(private_world):
    runtime, tokens = private_world
    who = {role: bearer(token) for role, token in tokens.items()}
    html = {"Accept": "text/html"}
    with TestClient(create_app(runtime)) as client:
        answers = {
            "dashboard page": client.get("/sections/physics-fall/analytics", headers={**who["admin"], **html}),
            "overview": client.get(A, headers=who["inst_a"]),
            "summary": client.get(A + "/summary", headers=who["inst_a"]),
            "category": client.get(A + "/categories/cross_event", headers=who["inst_a"]),
            "category CSV": client.get(A + "/categories/cross_event/export?format=csv", headers=who["inst_a"]),
            "custom query": client.post(
                A + "/query", json={"sql": "SELECT count() FROM raw_events"}, headers=who["inst_a"]
            ),
            "custom CSV": client.post(
                A + "/export?format=csv", json={"sql": "SELECT user_id FROM raw_events LIMIT 3"}, headers=who["inst_a"]
            ),
            "visualizations": client.get(A + "/visualizations", headers=who["inst_a"]),
            "project summary": client.get(P + "/summary", headers=who["admin"]),
            "me": client.get("/api/v1/me", headers=who["inst_a"]),
            "refused": client.get(A + "/summary", headers=who["inst_b"]),
            "login page": client.get("/login", headers=html),
        }
        static = client.get("/static/css/app.css")
    assert {what: r.status_code for what, r in answers.items() if r.status_code != 200} == {"refused": 403}
    stored = {what: r.headers.get("cache-control") for what, r in answers.items()}
    assert {what: value for what, value in stored.items() if value != "no-store"} == {}
    assert static.status_code == 200 and "no-store" not in static.headers["cache-control"]
