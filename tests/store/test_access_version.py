"""The Postgres access version (migration 0007) moves with every committed access change from any connection and
with nothing else, and the process's access cache revalidates old entries by it instead of reloading them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event

from timing import ManualClock, manual_clock
from xolap.store import access_cache, scopes_sync
from xolap.store.db import engine, sessions
from xolap.store.postgres import libpq_url


def version(conn: psycopg.Connection) -> int:
    row = conn.execute(access_cache.VERSION_QUERY).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture()
def clock(monkeypatch) -> Iterator[ManualClock]:
    """The access cache's clock, moved by the test: an entry's age is the time the test lets pass, not how long a
    version read or a thread switch takes on a loaded machine (a read slower than max_age reloaded the entry)."""
    with manual_clock(monkeypatch, access_cache) as clock:
        yield clock


@pytest.fixture()
def console(pg_settings):
    """A plain connection, as another process or a database console would write: no SQLAlchemy session events."""
    with psycopg.connect(libpq_url(pg_settings), autocommit=True) as conn:
        conn.execute("INSERT INTO users (email, password_hash, is_admin) VALUES ('v@example.edu', 'x', false)")
        conn.execute("INSERT INTO projects (id, slug, title) VALUES (7, 'p7', 'P7')")
        yield conn


def test_every_committed_access_change_moves_the_version(console):
    uid = console.execute("SELECT id FROM users WHERE email = 'v@example.edu'").fetchone()[0]
    changes = [
        "UPDATE users SET disabled_at = now() WHERE email = 'v@example.edu'",
        f"INSERT INTO memberships (user_id, role, project_id) VALUES ({uid}, 'author', 7)",
        "DELETE FROM memberships",
        "INSERT INTO feature_flags (name, scope_type, scope_id, enabled) VALUES ('x', 'global', 0, false)",
        "UPDATE feature_flags SET enabled = true",
        "INSERT INTO sections (id, slug, title) VALUES (8, 's8', 'S8')",
        "UPDATE projects SET slug = 'renamed' WHERE id = 7",
        "UPDATE web_sessions SET revoked_at = now()",
        "DELETE FROM web_sessions",  # a logout
        "DELETE FROM api_tokens",  # a token revoked
        "TRUNCATE feature_flags",
    ]
    console.execute(  # rows to revoke and delete; a new session or token row moves nothing (the test below)
        "INSERT INTO web_sessions (user_id, id_hash, password_fingerprint, user_agent, client_address, expires_at)"
        f" VALUES ({uid}, 'h', 'f', '', '', now() + interval '1 day')"
    )
    console.execute(f"INSERT INTO api_tokens (user_id, name, token_hash) VALUES ({uid}, 't', 'th')")
    for change in changes:
        before = version(console)
        console.execute(change)
        assert version(console) > before, change


def test_bookkeeping_and_no_op_writes_leave_the_version(console):
    uid = console.execute("SELECT id FROM users WHERE email = 'v@example.edu'").fetchone()[0]
    before = version(console)
    for same in [
        # a new session or API token row is a new secret no kept fact names (migration 0008): a sign-in moves nothing
        "INSERT INTO web_sessions (user_id, id_hash, password_fingerprint, user_agent, client_address, expires_at)"
        f" VALUES ({uid}, 'h', 'f', '', '', now() + interval '1 day')",
        f"INSERT INTO api_tokens (user_id, name, token_hash) VALUES ({uid}, 't', 'th')",
        "UPDATE web_sessions SET last_seen_at = now() + interval '1 second'",
        "UPDATE api_tokens SET last_used_at = now()",
        "INSERT INTO projects (id, slug, title) VALUES (7, 'p7', 'P7') ON CONFLICT DO NOTHING",
        "UPDATE projects SET title = title",  # rewrites the row unchanged
        "DELETE FROM sections WHERE id = -1",
    ]:
        console.execute(same)
        assert version(console) == before, same


def test_the_version_moves_at_commit_not_before(pg_settings, console):
    with psycopg.connect(libpq_url(pg_settings)) as writer:
        before = version(console)
        writer.execute("UPDATE users SET is_admin = true")
        assert version(console) == before  # not yet committed: a reader must not file old facts under a new number
        writer.commit()
    assert version(console) > before


def test_an_old_entry_is_revalidated_not_reloaded_and_a_foreign_write_clears_it(pg_settings, console, clock):
    factory = sessions(pg_settings)
    cache = access_cache.AccessCache(max_age=0.2)
    cache.watch_version("db", lambda: access_cache.read_version(factory))
    loads: list[int] = []
    sent: list[str] = []

    def load() -> str:
        loads.append(1)
        return f"answer {len(loads)}"

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(engine(pg_settings), "before_cursor_execute", record)
    assert cache.get(("db", "k"), load) == "answer 1"
    clock.advance(0.25)
    assert cache.peek(("db", "k")) is access_cache.MISSING  # the event loop never reads the version itself
    sent.clear()
    assert cache.get(("db", "k"), load) == "answer 1"  # older than max_age, version unchanged: no reload
    assert loads == [1] and sent == [access_cache.VERSION_QUERY]
    sent.clear()
    assert cache.peek(("db", "k")) == "answer 1" and cache.get(("db", "k"), load) == "answer 1"
    assert sent == []  # revalidated: good for another max_age without any read
    console.execute("UPDATE users SET disabled_at = now()")  # another process
    clock.advance(0.25)
    assert cache.get(("db", "k"), load) == "answer 2"  # the version moved: reloaded
    event.remove(engine(pg_settings), "before_cursor_execute", record)


def test_entries_are_bounded_in_total_age_whatever_the_version(pg_settings, clock):
    factory = sessions(pg_settings)
    cache = access_cache.AccessCache(max_age=0.05, max_total_age=0.3)
    cache.watch_version("db", lambda: access_cache.read_version(factory))
    answers = iter(["first", "second"])
    assert cache.get(("db", "k"), lambda: next(answers)) == "first"
    clock.advance(0.1)
    assert cache.get(("db", "k"), lambda: next(answers)) == "first"
    clock.advance(0.25)
    assert cache.get(("db", "k"), lambda: next(answers)) == "second"


def test_a_scope_sync_that_inserts_nothing_keeps_the_process_cache(pg_settings):
    factory = sessions(pg_settings)
    with factory() as session:
        scopes_sync.upsert_scopes(session, {11: 7, 12: None}, {7})
        session.commit()
    generation = access_cache.CACHE.generation
    with factory() as session:
        counts = scopes_sync.upsert_scopes(session, {11: 7, 12: None}, {7})
        session.commit()
    assert counts["sections_created"] == counts["projects_created"] == 0
    assert access_cache.CACHE.generation == generation
    with factory() as session:
        scopes_sync.upsert_scopes(session, {11: 7, 13: None}, {7})  # section 13 is new
        session.commit()
    assert access_cache.CACHE.generation > generation


def test_threads_due_to_revalidate_at_once_share_one_version_read(pg_settings, clock):
    factory = sessions(pg_settings)
    reads: list[int] = []

    def slow_read() -> int | None:  # the real read, slowed so that every thread arrives while it runs
        reads.append(1)
        time.sleep(0.05)
        return access_cache.read_version(factory)

    cache = access_cache.AccessCache(max_age=0.1)
    cache.watch_version("db", slow_read)
    assert cache.get(("db", "k"), lambda: "kept") == "kept"
    clock.advance(0.15)
    reads.clear()
    start = threading.Barrier(8)
    answers: list[str] = []

    def ask() -> None:
        start.wait(5)
        time.sleep(0.01 * len(answers))  # staggered: later threads ask while the first one's read runs
        answers.append(cache.get(("db", "k"), lambda: "reloaded"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert answers == ["kept"] * 8 and reads == [1]
