"""A sign-out or a revoked API token forgets only that secret's access facts (xolap.store.access_cache): the ended
session or token is refused on the very next request in this process and within MAX_AGE_S in another, while every
other user's kept facts stay kept (bench/http_load: each of the 50 users' sign-outs made the server reload every
other user's facts from Postgres). A write whose secrets cannot be named still forgets everything."""

from __future__ import annotations

import re
import threading

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from dashboard_support import bearer
from timing import manual_clock
from web import test_access_cache
from web.test_access_cache import JSON, A, postgres_statements, signed_in, user_id, warm
from xolap.store import access_cache, accounts
from xolap.store import sessions as session_records
from xolap.store.models import WebSession
from xolap.store.postgres import libpq_url

B = "/api/v1/sections/chem-fall/analytics"  # section 201, instructor b@example.edu
# test_access_cache's fixtures: a module database with its accounts, and an app on it
access_world, world = test_access_cache.access_world, test_access_cache.world


def csrf(browser: TestClient) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/account").text).group(1)


def copied(app, browser: TestClient) -> TestClient:
    """Another browser holding the same cookie (it must stop working when the session ends)."""
    copy = TestClient(app)
    copy.cookies.update(browser.cookies)
    return copy


def new_token(runtime, email: str) -> dict[str, str]:
    with runtime.sessions() as session:
        _row, plaintext = accounts.create_token(session, accounts.get_user(session, email), "short-lived")
        session.commit()
    return bearer(plaintext)


def console(runtime) -> psycopg.Connection:
    """A plain connection, as another process or a database console writes: no SQLAlchemy session events."""
    return psycopg.connect(libpq_url(runtime.settings), autocommit=True)


# ---------------------------------------------------------------- in this process


def test_a_sign_out_keeps_everyone_elses_facts_and_refuses_its_cookie_at_once(world):
    app, client, tokens, runtime = world
    leaving, staying = signed_in(app), signed_in(app, "b@example.edu", "teacher-pass-b")
    copy = copied(app, leaving)
    warm(copy, A + "/summary", JSON)
    warm(staying, B + "/summary", JSON)
    warm(client, B + "/summary", tokens["inst_b"])
    assert leaving.post("/logout", data={"csrf_token": csrf(leaving)}, follow_redirects=False).status_code == 303
    with postgres_statements(runtime) as sent:
        assert staying.get(B + "/summary", headers=JSON).status_code == 200
        assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
    assert sent == [], f"another user's sign-out made this process ask Postgres again: {sent}"
    assert copy.get(A + "/summary", headers=JSON).status_code == 401


def test_signing_out_one_or_every_session_from_the_account_page_keeps_the_others(world):
    app, client, tokens, runtime = world
    first, second = signed_in(app), signed_in(app)
    warm(first, A + "/summary", JSON)
    warm(client, B + "/summary", tokens["inst_b"])
    first_id = next(row["id"] for row in first.get("/account", headers=JSON).json()["sessions"] if row["current"])
    ended = second.post(f"/account/sessions/{first_id}/revoke", data={"csrf_token": csrf(second)}, headers=JSON)
    assert ended.status_code == 200, ended.text
    with postgres_statements(runtime) as sent:
        assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
    assert sent == []
    assert first.get(A + "/summary", headers=JSON).status_code == 401
    everywhere = second.post("/account/sessions/revoke-all", data={"csrf_token": csrf(second)}, headers=JSON)
    assert everywhere.status_code == 200, everywhere.text
    with postgres_statements(runtime) as sent:
        assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
    assert sent == []
    assert second.get(A + "/summary", headers=JSON).status_code == 401


def test_a_deleted_api_token_keeps_everyone_elses_facts_and_is_refused_at_once(world):
    app, client, tokens, runtime = world
    browser = signed_in(app)
    token = csrf(browser)
    created = browser.post("/account/tokens", data={"name": "short-lived", "csrf_token": token}, headers=JSON)
    assert created.status_code == 201, created.text
    revoked = bearer(created.json()["token"])
    warm(client, A + "/summary", revoked)
    warm(client, B + "/summary", tokens["inst_b"])
    deleted = browser.post(f"/account/tokens/{created.json()['id']}/delete", data={"csrf_token": token}, headers=JSON)
    assert deleted.status_code == 200, deleted.text
    with postgres_statements(runtime) as sent:
        assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
    assert sent == [], f"another user's token revoke made this process ask Postgres again: {sent}"
    assert client.get(A + "/summary", headers=revoked).status_code == 403


def test_a_read_of_a_session_between_its_revoke_and_the_commit_is_not_kept(world):
    """The revoke forgets the secret's facts at the write and again at commit: a request that loaded the session's
    pre-commit (still live) state in between must not leave it kept."""
    app, _client, _tokens, runtime = world
    browser = signed_in(app)
    warm(browser, A + "/summary", JSON)
    uid = user_id(runtime, "a@example.edu")
    with runtime.sessions() as writer:
        newest = session_records.list_live(writer, uid)[-1]
        assert session_records.revoke(writer, uid, newest.id, "test")  # flushed, not committed
        assert browser.get(A + "/summary", headers=JSON).status_code == 200  # loads the old state
        writer.commit()
    assert browser.get(A + "/summary", headers=JSON).status_code == 401


def test_a_load_that_started_before_the_secret_was_forgotten_is_not_kept():
    """Unit level: a load of a secret's facts overlapping its discard is not stored; another key's load is."""
    cache = access_cache.AccessCache(max_age=60)
    started, release = threading.Barrier(3), threading.Event()
    answers = {"session": iter(["live", "ended"]), "other": iter(["other's", "never"])}

    def slow(name: str):
        def load() -> str:
            started.wait(5)
            release.wait(5)
            return next(answers[name])

        return load

    readers = [
        threading.Thread(target=lambda: cache.get(("db", "session", "h"), slow("session"))),
        threading.Thread(target=lambda: cache.get(("db", "session", "other"), slow("other"))),
    ]
    for reader in readers:
        reader.start()
    started.wait(5)
    cache.forget(("session", "h"))  # the secret's session ends while both loads run
    release.set()
    for reader in readers:
        reader.join(5)
    assert cache.get(("db", "session", "h"), lambda: next(answers["session"])) == "ended"
    assert cache.get(("db", "session", "other"), lambda: next(answers["other"])) == "other's"


@pytest.mark.parametrize(
    "write",
    [
        "DELETE FROM web_sessions WHERE expires_at < now()",  # a purge of expired sessions: keys not known
        "UPDATE web_sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_agent = 'purged'",
        "core update without RETURNING",
    ],
)
def test_a_write_whose_secrets_are_not_known_forgets_everything(world, write):
    app, client, tokens, runtime = world
    with console(runtime) as other:  # a row for the write to remove (a new session row changes no kept fact)
        other.execute(
            "INSERT INTO web_sessions (user_id, id_hash, password_fingerprint, user_agent, client_address, expires_at,"
            " last_seen_at) SELECT id, md5(random()::text), 'f', 'purged', '', now() - interval '1 hour', now() - interval '1 hour'"
            " FROM users WHERE email = 'b@example.edu'"
        )
    warm(client, B + "/summary", tokens["inst_b"])
    generation = access_cache.CACHE.generation
    with runtime.sessions() as session:
        if write.startswith("core"):
            session.execute(
                update(WebSession).where(WebSession.user_agent == "purged").values(revoked_at=WebSession.expires_at)
            )
        else:
            session.execute(text(write))
        session.commit()
    assert access_cache.CACHE.generation > generation
    with postgres_statements(runtime) as sent:
        assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
    assert sent, "a write whose secrets are not known left the other users' facts kept"


# ---------------------------------------------------------------- in another process


@pytest.mark.parametrize(
    "ended",
    [
        "UPDATE web_sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = %s",
        "DELETE FROM web_sessions WHERE user_id = %s",
    ],
)
def test_a_session_ended_by_another_process_is_refused_within_the_max_age_and_the_others_stay(
    world, monkeypatch, ended
):
    app, client, tokens, runtime = world
    monkeypatch.setattr(access_cache.CACHE, "max_age", 0.3)
    uid = user_id(runtime, "a@example.edu")
    with manual_clock(monkeypatch, access_cache) as clock:
        leaving = signed_in(app)
        clock.advance(0.35)  # the next version read files the entries under the number the sign-in left
        warm(leaving, A + "/summary", JSON)
        warm(client, B + "/summary", tokens["inst_b"])
        with console(runtime) as other:
            other.execute(ended, (uid,))
        clock.advance(0.35)
        with postgres_statements(runtime) as sent:
            assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
        # B's facts were kept: nothing but the version and the revocation log was read (by this request, or on a
        # loaded machine by a revalidation another thread ran just before it); the refusal below needs that read
        assert set(sent) <= {access_cache.VERSION_QUERY, access_cache.REVOCATIONS_QUERY}, sent
        assert leaving.get(A + "/summary", headers=JSON).status_code == 401


def test_a_token_revoked_by_another_process_is_refused_within_the_max_age_and_the_others_stay(world, monkeypatch):
    _app, client, tokens, runtime = world
    monkeypatch.setattr(access_cache.CACHE, "max_age", 0.3)
    revoked = new_token(runtime, "a@example.edu")
    with manual_clock(monkeypatch, access_cache) as clock:
        clock.advance(0.35)
        warm(client, A + "/summary", revoked)
        warm(client, B + "/summary", tokens["inst_b"])
        with console(runtime) as other:
            other.execute(
                "DELETE FROM api_tokens WHERE token_hash = %s", (accounts.hash_token(revoked["Authorization"][7:]),)
            )
        clock.advance(0.35)
        with postgres_statements(runtime) as sent:
            assert client.get(B + "/summary", headers=tokens["inst_b"]).status_code == 200
        # B's facts were kept: nothing but the version and the revocation log was read (by this request, or on a
        # loaded machine by a revalidation another thread ran just before it); the refusal below needs that read
        assert set(sent) <= {access_cache.VERSION_QUERY, access_cache.REVOCATIONS_QUERY}, sent
        assert client.get(A + "/summary", headers=revoked).status_code == 403
