"""Session records and failed-login records in a real Postgres: hashed ids, liveness rules, revocation, counts."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import inspect, text

from xolap.store import accounts, login_attempts
from xolap.store import sessions as records
from xolap.store.db import engine, session_scope


def _user(session, email="ada@example.org"):
    return accounts.create_user(session, email, password="correct horse")


def test_migration_creates_the_security_tables(pg_settings):
    inspector = inspect(engine(pg_settings))
    assert {"web_sessions", "failed_logins"} <= set(inspector.get_table_names())
    assert "disabled_at" in {c["name"] for c in inspector.get_columns("users")}


def test_only_the_hash_of_the_id_is_stored_and_finds_the_session(pg_settings):
    with session_scope(pg_settings) as session:
        user = _user(session)
        record, sid = records.create(session, user, user_agent="Agent\x00/1\n", client_address="10.0.0.1")
        assert record.id_hash == hashlib.sha256(sid.encode()).hexdigest() and len(sid) >= 40
        assert record.user_agent == "Agent/1"  # control characters dropped (Postgres refuses NUL)
        stored = session.execute(text("SELECT string_agg(t::text, ' ') FROM web_sessions t")).scalar_one()
        assert sid not in stored
        found, owner = records.find_live(session, sid)
        assert found.id == record.id and owner.id == user.id
        assert records.find_live(session, sid + "x") is None and records.find_live(session, "") is None


def test_revoke_one_and_all(pg_settings):
    with session_scope(pg_settings) as session:
        ada, bob = _user(session), _user(session, "bob@example.org")
        (a1, s1), (a2, s2), (a3, s3) = (records.create(session, ada) for _ in range(3))
        _b1, sb = records.create(session, bob)
        assert records.revoke(session, bob.id, a1.id, "x") is False  # not bob's
        assert records.revoke(session, ada.id, a1.id, "logout") is True
        assert records.revoke(session, ada.id, a1.id, "logout") is False  # already ended
        assert records.find_live(session, s1) is None
        assert records.revoke_all(session, ada.id, "everywhere", keep=a3.id) == 1
        assert records.find_live(session, s2) is None and records.find_live(session, s3) is not None
        assert [r.id for r in records.list_live(session, ada.id)] == [a3.id]
        assert records.find_live(session, sb) is not None  # bob untouched


def test_idle_sessions_expire_but_touching_keeps_them(pg_settings):
    with session_scope(pg_settings) as session:
        user = _user(session)
        _rec, sid = records.create(session, user)
        idle = records.IDLE_TIMEOUT - timedelta(minutes=5)
        session.execute(text("UPDATE web_sessions SET last_seen_at = now() - :age"), {"age": idle})
        assert records.find_live(session, sid) is not None  # touched now
        session.execute(
            text("UPDATE web_sessions SET last_seen_at = now() - :age"),
            {"age": records.IDLE_TIMEOUT + timedelta(seconds=1)},
        )
        assert records.find_live(session, sid) is None


def test_a_disabled_user_has_no_live_sessions_until_enabled(pg_settings):
    with session_scope(pg_settings) as session:
        user = _user(session)
        _rec, sid = records.create(session, user)
        accounts.set_disabled(session, user, True)
        assert records.find_live(session, sid) is None and records.list_live(session, user.id) == []
        accounts.set_disabled(session, user, False)
        assert records.find_live(session, sid) is not None


def test_pair_failures_count_after_the_last_success_and_skip_throttled(pg_settings):
    window = timedelta(minutes=15)
    with session_scope(pg_settings) as session:
        user = _user(session)
        for _ in range(3):
            login_attempts.record_failure(session, " ADA@example.org", "10.0.0.1", "wrong password")
        login_attempts.record_failure(session, "ada@example.org", "10.0.0.1", login_attempts.THROTTLED)
        login_attempts.record_failure(session, "ada@example.org", "10.0.0.2", "wrong password")
        counts = login_attempts.recent_failures(session, "ada@example.org", "10.0.0.1", window, 100)
        assert counts.pair_failures == 3 and 0 <= counts.since_newest_s < 60 and counts.address_wait_s == 0
        session.execute(text("UPDATE failed_logins SET attempted_at = attempted_at - interval '1 second'"))
        records.create(session, user, client_address="10.0.0.1")  # a successful login from that address
        assert login_attempts.recent_failures(session, "ada@example.org", "10.0.0.1", window, 100).pair_failures == 0
        assert login_attempts.recent_failures(session, "ada@example.org", "10.0.0.2", window, 100).pair_failures == 1
        assert login_attempts.recent_failures(session, "ada@example.org", "10.0.0.1", window, 3).address_wait_s > 0
        assert login_attempts.recent_failures(session, "ada@example.org", "10.0.0.1", window, 4).address_wait_s == 0
