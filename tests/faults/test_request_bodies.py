"""Request bodies are bounded on every route: a body over its route's limit (declared or streamed) is a 413 naming the
limit, answered at once without reading the rest, and hostile JSON shapes (deep nesting) are a 4xx, never a 5xx."""

from __future__ import annotations

import socket

import orjson
import pytest
from fastapi import params
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from web.test_api_statements import statement
from web.test_authz import LiveServer
from xolap.store import accounts
from xolap.web import body_limits
from xolap.web.app import create_app

BODY_METHODS = {"POST", "PUT", "PATCH"}


@pytest.fixture()
def admin_app(runtime):
    """The app and an admin's bearer token."""
    with runtime.sessions() as session:
        user = accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        token = accounts.create_token(session, user, "bodies")[1]
        session.commit()
    return create_app(runtime), {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def body_routes(app) -> list[tuple[str, str, str]]:
    """(method, concrete path, content type) of every route that reads a body whole (a JSON model, form fields or a
    file), found from the app so that new routes are covered too; path parameters filled with a plain value."""
    found = []
    for context in iter_route_contexts(app.routes):
        body_field = getattr(context.route, "body_field", None)
        if body_field is None:
            continue
        is_form = isinstance(getattr(body_field, "field_info", None), params.Form)
        content_type = "application/x-www-form-urlencoded" if is_form else "application/json"
        path = "/".join("1" if part.startswith("{") else part for part in context.path.split("/"))
        found.extend((method, path, content_type) for method in sorted(context.methods & BODY_METHODS))
    return found


def test_every_route_refuses_a_streamed_body_over_its_limit(admin_app):
    app, headers = admin_app
    routes = body_routes(app)
    assert len(routes) > 20 and ("POST", "/api/v1/sections/1/analytics/query", "application/json") in routes
    assert ("POST", "/admin/scopes/import", "application/x-www-form-urlencoded") in routes  # the file upload
    failures = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, content_type in routes:
            limit = body_limits.body_limit_for(path)
            chunk = b"a=" + b"x" * (1024 * 1024 - 2)

            def stream(chunks=-(-(limit + 1) // len(chunk)), chunk=chunk):  # no Content-Length: counted as it comes
                for _ in range(chunks):
                    yield chunk

            answer = client.request(method, path, content=stream(), headers={**headers, "Content-Type": content_type})
            if answer.status_code != 413 or f"{limit:,}-byte limit" not in answer.text:
                failures.append(f"{method} {path}: {answer.status_code} {answer.text[:120]}")
    assert not failures, f"{len(failures)} of {len(routes)} routes took a body over their limit:\n" + "\n".join(
        failures
    )


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(admin_app):
    app, headers = admin_app
    with LiveServer(app) as live, socket.create_connection(("127.0.0.1", live.port), timeout=20) as sock:
        request = (
            "POST /api/v1/sections/1/analytics/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * 1024**3}\r\n\r\n" + '{"sql": "'
        )
        sock.sendall(request.encode())  # and nothing more: without the bound the server waits for 10 GiB
        received = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            received += chunk
        answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert f"{body_limits.DEFAULT_BODY_BYTES:,}-byte limit" in answer


def test_a_body_within_the_limit_still_reaches_its_route(admin_app):
    app, headers = admin_app
    client = TestClient(app)
    padding = " " * (body_limits.DEFAULT_BODY_BYTES - 200)
    answer = client.post("/api/v1/admin/users", content=f'{{"email": "a@example.org"{padding}}}', headers=headers)
    assert answer.status_code == 201, answer.text[:200]  # a user added as usual, not refused for its size


@pytest.mark.parametrize("depth", [990, 1_024, 100_000])
def test_deeply_nested_json_is_a_4xx_on_json_routes(admin_app, depth):
    app, headers = admin_app
    client = TestClient(app, raise_server_exceptions=False)
    for path in (
        "/api/v1/admin/users",
        "/api/v1/admin/query",
        "/api/v1/statements",
        "/api/v1/sections/1/analytics/visualizations",
    ):
        for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
            answer = client.post(path, content=body, headers=headers)
            assert 400 <= answer.status_code < 500, (path, depth, answer.status_code, answer.text[:200])


@pytest.mark.parametrize("depth", [990, 1_018])
def test_a_deeply_nested_statement_keeps_the_good_ones_around_it(admin_app, depth):
    """Nested as deep as orjson reads (1024 levels) but deeper than Python's json module decodes (~990)."""
    app, headers = admin_app
    client = TestClient(app, raise_server_exceptions=False)
    nested = b'"extensions":{"http://example.org/deep":' + b"[" * depth + b"]" * depth + b","
    deep = orjson.dumps(statement(2)).replace(b'"extensions":{', nested)  # orjson writes 255 levels at most
    good = [orjson.dumps(statement(1)), orjson.dumps(statement(3))]
    for body in (b"[" + b",".join([good[0], deep, good[1]]) + b"]", b"\n".join([good[0], deep, good[1]])):
        answer = client.post("/api/v1/statements", content=body, headers=headers)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["accepted"] + answer.json()["rejected"] == 3 and answer.json()["accepted"] >= 2
