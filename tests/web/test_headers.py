"""Browser policy headers on every class of response, and templates that need no inline script under that policy."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime
from xolap.web.app import create_app
from xolap.web.headers import SECURITY_HEADERS

A = "/api/v1/sections/physics-fall/analytics"


@pytest.fixture(scope="module")
def headers_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "hdrs")


@pytest.fixture()
def app_client(headers_world):
    runtime, tokens = headers_world
    app = create_app(runtime)

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("an unexpected failure")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}


def assert_policy(response, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (what, response.status_code, name, response.headers.get(name))


def test_the_policy_is_strict():
    csp = dict(part.strip().split(" ", 1) for part in SECURITY_HEADERS["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'" and csp["base-uri"] == "'self'"
    assert csp["img-src"] == "'self' data: blob:" and csp["connect-src"] == "'self'"
    assert "unsafe-eval" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY"
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert SECURITY_HEADERS["Referrer-Policy"] in ("same-origin", "no-referrer")


def test_every_class_of_response_carries_the_policy(app_client):
    client, who = app_client
    html = {"Accept": "text/html"}
    checks = {
        "login page": client.get("/login", headers=html),
        "redirect to login": client.get("/", headers=html, follow_redirects=False),
        "dashboard page (admin token)": client.get(
            "/sections/physics-fall/analytics", headers={**who["admin"], "Accept": "text/html"}
        ),
        "JSON API": client.get(A + "/summary", headers=who["inst_a"]),
        "JSON 401": client.get(A + "/summary", headers={"Accept": "application/json"}),
        "JSON 403": client.get(A + "/summary", headers=who["inst_b"]),
        "JSON 400": client.post(A + "/query", json={"sql": "DROP TABLE raw_events"}, headers=who["inst_a"]),
        "JSON 422 (validation)": client.post(A + "/query", json={"nope": 1}, headers=who["inst_a"]),
        "CSV export": client.post(
            A + "/export?format=csv", json={"sql": "SELECT 1 AS x FROM raw_events LIMIT 1"}, headers=who["inst_a"]
        ),
        "static CSS": client.get("/static/css/app.css"),
        "static JS": client.get("/static/js/dashboard.js"),
        "static 404": client.get("/static/js/nope.js"),
        "HTML 404": client.get("/no/such/page", headers=html),
        "JSON 404": client.get("/api/v1/no/such/thing", headers={"Accept": "application/json"}),
        "405": client.delete("/login"),
        "health": client.get("/healthz"),
        "500": client.get("/test-only/boom"),
        "OpenAPI JSON": client.get("/openapi.json"),
    }
    assert checks["500"].status_code == 500 and checks["HTML 404"].status_code == 404
    assert checks["static CSS"].status_code == 200 and checks["redirect to login"].status_code in (302, 303, 307)
    for what, response in checks.items():
        assert_policy(response, what)


def test_a_response_that_sets_its_own_header_keeps_it(app_client):
    client, _ = app_client
    response = client.get("/static/css/app.css")
    assert response.headers.get_list("X-Frame-Options") == ["DENY"]


def test_templates_have_no_inline_script_or_event_handler():
    """script-src 'self' blocks inline <script> bodies, on*= handlers and javascript: URLs: none may be left."""
    templates = resources.files("xolap.web").joinpath("templates")
    offenders = []
    for path in _walk(templates):
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"javascript:"):
            for found in re.finditer(pattern, text, re.I):
                offenders.append(f"{path.name}: {found.group(0)}")
    assert offenders == []


def _walk(folder):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _walk(entry)
        elif entry.name.endswith(".html"):
            yield entry
