"""A large request body is parsed where the event loop does not run: while one client's 60 MB statement batch is
parsed (orjson, then each element's own line), every other request of the process would wait on the one event loop
(health, dashboards, sign-ins). The parse is watched by wrapping the real functions (they still do the work) and
noting whether an event loop runs on the thread that calls them. An LRS batch of more statements than a request may
carry is a 413 naming the bound, before any element is read as a line, and the server answers next."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lrs_support import lrs_client
from xolap.lrs import statements
from xolap.web import api_statements, lrs_statements
from xolap.xapi import identity

STATEMENT = {
    "actor": {"mbox": "mailto:learner@example.org"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
    "object": {"id": "http://example.org/activity"},
    "timestamp": "2026-11-30T10:00:00Z",
}


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture()
def parse_threads(monkeypatch):
    """Which of the body parsers ran on the event loop's thread (each called through to the real function)."""
    seen: list[tuple[str, bool]] = []

    def watch(module, name):
        real = getattr(module, name)

        def watched(*args, **kwargs):
            seen.append((name, _on_event_loop()))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, watched)

    watch(identity, "array_element_lines")  # the LRS imports it when it parses
    watch(api_statements, "array_element_lines")
    monkeypatch.setattr(lrs_statements, "orjson", _WatchedOrjson(seen))
    monkeypatch.setattr(api_statements, "orjson", _WatchedOrjson(seen))
    return seen


class _WatchedOrjson:
    """orjson with `loads` noted (dumps and the error class as they are)."""

    def __init__(self, seen):
        self._seen = seen
        self.JSONDecodeError = orjson.JSONDecodeError
        self.dumps = orjson.dumps

    def loads(self, data):
        self._seen.append(("orjson.loads", _on_event_loop()))
        return orjson.loads(data)


def test_an_lrs_batch_is_parsed_off_the_event_loop(runtime, parse_threads):
    client, headers, _credential = lrs_client(runtime)
    response = client.post("/xAPI/statements", json=[STATEMENT, STATEMENT], headers=headers)
    assert response.status_code == 200, response.text
    assert parse_threads, "the body was parsed by none of the watched functions: the test watches the wrong names"
    on_loop = [name for name, looped in parse_threads if looped]
    assert not on_loop, f"parsed on the event loop: {on_loop}"


def test_the_statements_api_parses_off_the_event_loop(runtime, parse_threads):
    from fastapi.testclient import TestClient

    from xolap.web.app import create_app

    client = TestClient(create_app(runtime))
    auth = {"Authorization": f"Bearer {runtime.admin_token}"}
    response = client.post("/api/v1/statements", content=orjson.dumps([STATEMENT, STATEMENT]), headers=auth)
    assert response.status_code == 200, response.text
    assert parse_threads
    on_loop = [name for name, looped in parse_threads if looped]
    assert not on_loop, f"parsed on the event loop: {on_loop}"


def test_a_batch_past_the_bound_is_a_413_and_the_lrs_answers_next(runtime):
    client, headers, _credential = lrs_client(runtime)
    batch = orjson.dumps([STATEMENT] * (statements.MAX_BATCH_STATEMENTS + 1))
    response = client.post("/xAPI/statements", content=batch, headers=headers | {"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert f"{statements.MAX_BATCH_STATEMENTS:,}" in response.json()["message"]
    assert client.get("/xAPI/statements", params={"limit": "1"}, headers=headers).json()["statements"] == []
    assert client.post("/xAPI/statements", json=[STATEMENT], headers=headers).status_code == 200
