"""Long-lived answers (the backfill run's server-sent event stream, the only streaming route) keep checking that
their caller still holds the right that opened them: an admin right removed, a sign-out, an expired session, a
deleted API token or a disabled user ends an open stream within seconds with an `event: refused` frame (not on the
stream's own hour-long deadline), and a stream is never stored by a cache (`Cache-Control: no-store`)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from xolap.backfill import service
from xolap.store import accounts, flags
from xolap.web.app import create_app

ENDS_WITHIN_SECONDS = 6.0


def _sign_in(runtime, email: str) -> TestClient:
    with runtime.sessions() as session:
        accounts.create_user(session, email, password="admin password", is_admin=True)
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.BULK_INGEST, True)
        session.commit()
    client = TestClient(create_app(runtime))
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"email": email, "password": "admin password", "csrf_token": csrf})
    client.headers["X-CSRF-Token"] = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/account").text
    ).group(1)
    return client


def _running_stream(client: TestClient, reader: TestClient | None = None, headers: dict | None = None):
    """A run left queued (no worker) and its event stream read on a thread (by `reader`, else the same client);
    returns (run id, thread, result)."""
    created = client.post(
        "/admin/clickhouse/backfill/manual", data={"s3_pattern": "s3://bucket/live/*.jsonl"}, follow_redirects=False
    )
    assert created.status_code == 303, created.text
    run_id = int(created.headers["location"].rsplit("/", 1)[1])
    result: dict = {}

    def read() -> None:
        response = (reader or client).get(f"/api/v1/backfill/runs/manual/{run_id}/events", headers=headers or {})
        result["response"], result["ended"] = response, time.monotonic()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(1.5)  # the stream is open and following
    assert "response" not in result, "the stream of a queued run ended by itself"
    return run_id, thread, result


def _ends_refused(runtime, run_id: int, thread: threading.Thread, result: dict, taken_at: float) -> None:
    thread.join(ENDS_WITHIN_SECONDS)
    try:
        assert not thread.is_alive(), f"the stream still runs {ENDS_WITHIN_SECONDS} s after its right was taken"
        body = result["response"].text
        assert "event: refused" in body and "event: end" not in body
        assert result["ended"] - taken_at < ENDS_WITHIN_SECONDS
    finally:  # a stream left open (the failure) ends with its run
        service.cancel(runtime, "manual", run_id)
        thread.join(10)


def _remove_admin_right(runtime, email: str) -> None:
    with runtime.sessions() as session:
        accounts.get_user(session, email).is_admin = False
        session.commit()


def _disable(runtime, email: str) -> None:
    with runtime.sessions() as session:
        accounts.set_disabled(session, accounts.get_user(session, email), True)
        session.commit()


def _expire_sessions(runtime, email: str) -> None:
    with runtime.sessions() as session:  # textual SQL, as a database console would
        session.execute(
            text(
                "UPDATE web_sessions SET expires_at = now() - interval '1 second' "
                "WHERE user_id = (SELECT id FROM users WHERE email = :e)"
            ),
            {"e": email},
        )
        session.commit()


@pytest.mark.parametrize(
    "take_away",
    ["admin right removed", "signed out", "session expired", "user disabled"],
)
def test_an_open_stream_ends_when_its_sessions_right_is_gone(runtime, take_away):
    email = "streamer@example.org"
    client = _sign_in(runtime, email)
    run_id, thread, result = _running_stream(client)
    taken_at = time.monotonic()
    if take_away == "admin right removed":
        _remove_admin_right(runtime, email)
    elif take_away == "signed out":
        assert client.post("/logout", follow_redirects=False).status_code in (200, 303)
    elif take_away == "session expired":
        _expire_sessions(runtime, email)
    else:
        _disable(runtime, email)
    _ends_refused(runtime, run_id, thread, result, taken_at)


@pytest.mark.parametrize("take_away", ["token deleted", "admin right removed"])
def test_an_open_stream_ends_when_its_api_tokens_right_is_gone(runtime, take_away):
    email = "token-streamer@example.org"
    client = _sign_in(runtime, email)
    with runtime.sessions() as session:
        user = accounts.get_user(session, email)
        row, token = accounts.create_token(session, user, "stream")
        token_id = row.id
        session.commit()
    bearer = TestClient(create_app(runtime))
    run_id, thread, result = _running_stream(client, bearer, headers={"Authorization": f"Bearer {token}"})
    taken_at = time.monotonic()
    if take_away == "token deleted":
        with runtime.sessions() as session:
            accounts.delete_token(session, accounts.get_user(session, email), token_id)
            session.commit()
    else:
        _remove_admin_right(runtime, email)
    _ends_refused(runtime, run_id, thread, result, taken_at)


def test_a_stream_is_never_stored_and_still_ends_with_its_run(runtime):
    client = _sign_in(runtime, "keeper@example.org")
    run_id, thread, result = _running_stream(client)
    service.cancel(runtime, "manual", run_id)
    thread.join(ENDS_WITHIN_SECONDS)
    assert not thread.is_alive()
    response = result["response"]
    assert response.headers["cache-control"] == "no-store"
    assert "event: end" in response.text and "event: refused" not in response.text


def test_every_streaming_answer_rechecks_its_caller():
    """A new streaming route must re-check its caller the way the backfill stream does (xolap.web.live_answers)."""
    source = Path(__file__).resolve().parents[2] / "src" / "xolap"
    streaming = [
        path
        for folder in ("web", "lrs")
        for path in sorted((source / folder).rglob("*.py"))
        if re.search(r"StreamingResponse|text/event-stream|EventSourceResponse", path.read_text())
        and path.name != "live_answers.py"
    ]
    assert streaming, "no streaming route found: this test looks in the wrong place"
    for path in streaming:
        assert "live_answers" in path.read_text(), f"{path.name} streams without xolap.web.live_answers"
