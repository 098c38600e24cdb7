"""The access revocation log (migration 0009): a sign-out or a revoked API token from any connection moves the access
version by one and logs that secret's hash under the number it moved to, so another process forgets that secret's
access facts only; any other move, or a logged row it missed, still makes it forget everything."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from timing import ManualClock, manual_clock
from xolap.store import access_cache, migrate
from xolap.store.db import sessions
from xolap.store.postgres import libpq_url

NEW_SESSION = (
    "INSERT INTO web_sessions (user_id, id_hash, password_fingerprint, user_agent, client_address, expires_at)"
    " VALUES (%s, %s, 'f', '', '', now() + interval '1 day')"
)


def version(conn: psycopg.Connection) -> int:
    row = conn.execute(access_cache.VERSION_QUERY).fetchone()
    assert row is not None
    return row[0]


def logged(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT seq, kind, secret_hash FROM access_revocations ORDER BY seq").fetchall()


@pytest.fixture()
def clock(monkeypatch) -> Iterator[ManualClock]:
    with manual_clock(monkeypatch, access_cache) as clock:
        yield clock


@pytest.fixture()
def console(pg_settings):
    """A plain connection, as another process or a database console would write: no SQLAlchemy session events."""
    with psycopg.connect(libpq_url(pg_settings), autocommit=True) as conn:
        uid = conn.execute(
            "INSERT INTO users (email, password_hash, is_admin) VALUES ('r@example.edu', 'x', false) RETURNING id"
        ).fetchone()[0]
        for secret in ("s1", "s2", "s3"):
            conn.execute(NEW_SESSION, (uid, secret))
        conn.execute("INSERT INTO api_tokens (user_id, name, token_hash) VALUES (%s, 't', 't1')", (uid,))
        yield conn


def test_a_revocation_moves_the_version_by_one_and_logs_its_secret_under_that_number(console):
    for change, kind, secret in [
        ("UPDATE web_sessions SET revoked_at = now() WHERE id_hash = 's1'", "session", "s1"),  # a logout
        ("DELETE FROM web_sessions WHERE id_hash = 's2'", "session", "s2"),
        ("UPDATE api_tokens SET name = 'renamed' WHERE token_hash = 't1'", "api_token", "t1"),
        ("DELETE FROM api_tokens WHERE token_hash = 't1'", "api_token", "t1"),  # a token revoked
    ]:
        before = version(console)
        console.execute(change)
        assert version(console) == before + 1, change
        assert logged(console)[-1] == (before + 1, kind, secret), change


def test_other_moves_log_nothing_and_bookkeeping_moves_nothing(console):
    before, log = version(console), logged(console)
    console.execute("UPDATE web_sessions SET last_seen_at = now() + interval '1 second'")
    console.execute("INSERT INTO api_tokens (user_id, name, token_hash) SELECT user_id, 'n', 't2' FROM api_tokens")
    assert version(console) == before and logged(console) == log
    for change in [
        "UPDATE web_sessions SET id_hash = 's9' WHERE id_hash = 's3'",  # the secret itself changed: forget all
        "UPDATE users SET disabled_at = now()",
        "TRUNCATE web_sessions",
    ]:
        before = version(console)
        console.execute(change)
        assert version(console) > before and logged(console) == log, change


def test_a_rolled_back_revocation_leaves_no_number_taken(pg_settings, console):
    before = version(console)
    with psycopg.connect(libpq_url(pg_settings)) as writer:
        writer.execute("DELETE FROM web_sessions WHERE id_hash = 's1'")
        writer.rollback()
    console.execute("DELETE FROM web_sessions WHERE id_hash = 's2'")
    assert version(console) == before + 1 and logged(console) == [(before + 1, "session", "s2")]


def test_logged_rows_are_kept_twenty_minutes(console):
    console.execute(
        "INSERT INTO access_revocations (seq, kind, secret_hash, logged_at) VALUES (1, 'session', 'old', now() - "
        "interval '21 minutes'), (2, 'session', 'recent', now() - interval '19 minutes')"
    )
    console.execute("DELETE FROM web_sessions WHERE id_hash = 's1'")
    assert [row[2] for row in logged(console)] == ["recent", "s1"]


def test_downgrade_to_0008_and_up_again(pg_settings, console):
    migrate.downgrade(pg_settings, "0008_access_version_new_secrets")
    assert console.execute("SELECT to_regclass('access_revocations')").fetchone()[0] is None
    before = version(console)
    console.execute("DELETE FROM web_sessions WHERE id_hash = 's1'")  # 0008's trigger: the version moves
    assert version(console) == before + 1
    migrate.upgrade(pg_settings)
    assert migrate.status(pg_settings)["pending"] is False
    console.execute("DELETE FROM web_sessions WHERE id_hash = 's2'")
    assert logged(console) == [(before + 2, "session", "s2")]


# ---------------------------------------------------------------- another process's cache reads the log


def watched(pg_settings, **limits) -> access_cache.AccessCache:
    factory = sessions(pg_settings)
    cache = access_cache.AccessCache(max_age=0.2, **limits)
    cache.watch_version(
        "db", lambda: access_cache.read_version(factory), lambda *moves: access_cache.read_revocations(factory, *moves)
    )
    return cache


def test_another_process_forgets_only_the_revoked_secret(pg_settings, console, clock):
    cache = watched(pg_settings)
    loads: list[tuple] = []
    numbers = itertools.count(1)

    def fact(*name: str) -> str:
        def load() -> str:
            loads.append(name)
            return f"{name} #{next(numbers)}"

        return cache.get(("db", *name), load)

    kept = {name: fact(*name) for name in [("session", "s1"), ("session", "s2"), ("api_token", "t1"), ("flags", "x")]}
    console.execute("UPDATE web_sessions SET revoked_at = now() WHERE id_hash = 's1'")
    console.execute("DELETE FROM api_tokens WHERE token_hash = 't1'")
    clock.advance(0.25)
    loads.clear()
    assert fact("session", "s2") == kept[("session", "s2")] and fact("flags", "x") == kept[("flags", "x")]
    assert loads == []  # the others' facts are kept
    assert fact("session", "s1") != kept[("session", "s1")] and fact("api_token", "t1") != kept[("api_token", "t1")]
    assert loads == [("session", "s1"), ("api_token", "t1")]  # the revoked secrets are asked again


def test_a_move_that_is_not_only_revocations_forgets_everything(pg_settings, console, clock):
    cache = watched(pg_settings)
    assert cache.get(("db", "session", "s2"), lambda: "kept") == "kept"
    console.execute("DELETE FROM web_sessions WHERE id_hash = 's1'")
    console.execute("INSERT INTO feature_flags (name, scope_type, scope_id, enabled) VALUES ('y', 'global', 0, true)")
    clock.advance(0.25)
    assert cache.get(("db", "session", "s2"), lambda: "reloaded") == "reloaded"


def test_a_process_that_missed_pruned_log_rows_forgets_everything(pg_settings, console, clock):
    cache = watched(pg_settings)
    assert cache.get(("db", "session", "s3"), lambda: "kept") == "kept"
    console.execute("DELETE FROM web_sessions WHERE id_hash IN ('s1', 's2')")
    console.execute("DELETE FROM access_revocations WHERE secret_hash = 's1'")  # pruned before this process read it
    clock.advance(0.25)
    assert cache.get(("db", "session", "s3"), lambda: "reloaded") == "reloaded"


def test_a_process_far_behind_forgets_everything_without_reading_the_log(pg_settings, console, clock, monkeypatch):
    monkeypatch.setattr(access_cache, "MAX_LOGGED_MOVES", 1)
    cache = watched(pg_settings)
    assert cache.get(("db", "session", "s3"), lambda: "kept") == "kept"
    console.execute("DELETE FROM web_sessions WHERE id_hash IN ('s1', 's2')")
    clock.advance(0.25)
    assert cache.get(("db", "session", "s3"), lambda: "reloaded") == "reloaded"
