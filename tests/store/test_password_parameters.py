"""Password hashing parameters: at least OWASP's argon2id minimum, hashes made with the former (costlier) parameters
re-hashed at the next successful login without ending the user's sessions, and a refused login doing the same
argon2 work whether the email is unknown, has a current hash or still has a former one."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher, Type, extract_parameters, profiles
from sqlalchemy import select

from xolap.store import accounts
from xolap.store import sessions as records
from xolap.store.db import session_scope
from xolap.store.models import User

# OWASP Password Storage Cheat Sheet, argon2id: equally strong minimum configurations, (memory KiB, iterations), p=1
OWASP_ARGON2ID_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
# What PasswordHasher() without arguments used until 2026-11-30 (argon2-cffi's RFC 9106 low-memory profile)
FORMER = profiles.RFC_9106_LOW_MEMORY
# Former parameters stand-in where a test needs many former hashes (each real one costs ~200 ms of CPU)
CHEAP_FORMER = profiles.CHEAPEST
PASSWORD = "correct horse"


class HasherWitness:
    """argon2's PasswordHasher, recording the parameters of every hash it verifies and how many it makes."""

    def __init__(self, hasher: PasswordHasher):
        self.hasher = hasher
        self.lock = threading.Lock()
        self.verified: list = []
        self.made = 0

    def verify(self, stored, password):
        with self.lock:
            self.verified.append(extract_parameters(stored))
        return self.hasher.verify(stored, password)

    def hash(self, password):
        with self.lock:
            self.made += 1
        return self.hasher.hash(password)

    def check_needs_rehash(self, stored):
        return self.hasher.check_needs_rehash(stored)


@pytest.fixture()
def cheap_former(monkeypatch):
    monkeypatch.setattr(accounts, "FORMER_PASSWORD_PARAMETERS", CHEAP_FORMER)
    return CHEAP_FORMER


@pytest.fixture()
def witness(monkeypatch):
    recorder = HasherWitness(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", recorder)
    return recorder


def current_parameters():
    return extract_parameters(accounts.hash_password("any password at all"))


def former_user(session, email="old@example.org"):
    """A user whose stored hash was made with the former parameters (as every account made before the change)."""
    user = accounts.create_user(session, email)
    user.password_hash = PasswordHasher.from_parameters(accounts.FORMER_PASSWORD_PARAMETERS).hash(PASSWORD)
    session.flush()
    return user


def test_parameters_meet_owasps_argon2id_minimum():
    made = current_parameters()
    assert made.type is Type.ID and made.parallelism >= 1
    assert made.salt_len >= 16 and made.hash_len >= 32
    assert any(made.memory_cost >= m and made.time_cost >= t for m, t in OWASP_ARGON2ID_MINIMUMS), made
    assert made == accounts.PASSWORD_PARAMETERS  # the one place they are named


def test_a_former_hash_still_verifies_and_is_rehashed_at_login(pg_settings):
    assert accounts.FORMER_PASSWORD_PARAMETERS == FORMER
    with session_scope(pg_settings) as session:
        user = former_user(session)
        assert accounts.authenticate(session, "old@example.org", PASSWORD).id == user.id
        session.commit()
        stored = user.password_hash
    assert extract_parameters(stored) == current_parameters() != FORMER
    with session_scope(pg_settings) as session:  # persisted, and the new hash verifies
        assert accounts.find_user(session, "old@example.org").password_hash == stored
        assert accounts.authenticate(session, "old@example.org", PASSWORD) is not None


def test_a_wrong_password_or_unknown_email_rehashes_nothing(pg_settings, cheap_former, witness):
    with session_scope(pg_settings) as session:
        user = former_user(session)
        before = user.password_hash
        assert accounts.authenticate(session, "old@example.org", "wrong horse") is None
        assert accounts.authenticate(session, "nobody@example.org", PASSWORD) is None
        session.commit()
        assert witness.made == 0
        session.expire_all()
        assert accounts.find_user(session, "old@example.org").password_hash == before


def test_refused_logins_verify_the_same_parameters_whoever_the_email_is(pg_settings, cheap_former, witness):
    """One check with the current parameters for every refusal, and one with the former ones while any stored hash
    still has them: the time of a refusal tells nothing about whether the email exists or when it last signed in."""
    current = current_parameters()
    with session_scope(pg_settings) as session:
        accounts.create_user(session, "new@example.org", password=PASSWORD)
        witness.verified.clear()
        assert accounts.authenticate(session, "nobody@example.org", PASSWORD) is None
        assert witness.verified == [current]  # no former hash stored: the unknown email pays the current cost only
        former_user(session)
        by_email = {}
        for email in ("nobody@example.org", "new@example.org", "old@example.org"):
            witness.verified.clear()
            assert accounts.authenticate(session, email, "wrong horse") is None
            by_email[email] = sorted(witness.verified, key=repr)
        assert by_email["nobody@example.org"] == sorted([current, cheap_former], key=repr), by_email
        assert by_email["new@example.org"] == by_email["old@example.org"] == by_email["nobody@example.org"], by_email


def test_rehash_keeps_the_users_sessions_live_and_a_password_change_still_ends_them(pg_settings, cheap_former):
    with session_scope(pg_settings) as session:
        user = former_user(session)
        _record, laptop = records.create(session, user)
        assert accounts.authenticate(session, "old@example.org", PASSWORD) is not None  # rehashed
        _record, phone = records.create(session, user)
        session.commit()
        assert records.find_live(session, laptop) is not None and records.find_live(session, phone) is not None
        accounts.set_password(session, user, "a new password")
        assert records.find_live(session, laptop) is None and records.find_live(session, phone) is None


def test_two_logins_rehashing_at_once_keep_one_hash_and_every_session(pg_settings, cheap_former):
    """Both sessions read the former hash; the second to write finds it already replaced and keeps the first's."""
    with session_scope(pg_settings) as setup:
        former_user(setup)
    with session_scope(pg_settings) as first, session_scope(pg_settings) as second:
        late = accounts.find_user(second, "old@example.org")  # loaded before the first login's rehash
        assert accounts.authenticate(first, "old@example.org", PASSWORD) is not None
        _record, early_sid = records.create(first, accounts.find_user(first, "old@example.org"))
        first.commit()
        assert accounts.authenticate(second, "old@example.org", PASSWORD) is late
        _record, late_sid = records.create(second, late)
        second.commit()
        kept = first.execute(select(User.password_hash)).scalar_one()
        assert late.password_hash == kept and extract_parameters(kept) == current_parameters()
        assert records.find_live(second, early_sid) is not None and records.find_live(second, late_sid) is not None
