"""Accounts store: argon2 passwords, roles from memberships, hashed API tokens, clear errors."""

from __future__ import annotations

import pytest

from xolap.store import accounts
from xolap.store.db import session_scope
from xolap.store.models import Project, Section


@pytest.fixture()
def session(pg_settings):
    with session_scope(pg_settings) as s:
        s.add_all(
            [
                Project(id=7, slug="physics", title="Physics"),
                Section(id=11, slug="phys-a", title="A", project_id=7),
                Section(id=12, slug="phys-b", title="B", project_id=7),
            ]
        )
        s.flush()
        yield s


def test_password_is_argon2_and_verifies(session):
    user = accounts.create_user(session, " Ada@Example.ORG ", password="correct horse")
    assert user.email == "ada@example.org" and user.password_hash.startswith("$argon2id$")
    assert accounts.authenticate(session, "ada@example.org", "correct horse").id == user.id
    assert accounts.authenticate(session, "ada@example.org", "wrong") is None
    assert accounts.authenticate(session, "nobody@example.org", "correct horse") is None


def test_bad_input_gets_specific_errors(session):
    with pytest.raises(accounts.AccountError, match="invalid email"):
        accounts.create_user(session, "not-an-email", password="long enough")
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.create_user(session, "b@example.org", password="short")
    accounts.create_user(session, "c@example.org", password="long enough")
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(session, "C@example.org", password="long enough")
    with pytest.raises(accounts.AccountError, match="no section with id or slug 'nope'"):
        accounts.resolve_section(session, "nope")


def test_roles_come_from_memberships_and_grant_is_idempotent(session):
    user = accounts.create_user(session, "i@example.org", password="long enough")
    a = accounts.resolve_section(session, "phys-a")
    assert accounts.resolve_section(session, "11").id == a.id
    first = accounts.grant(session, user, section=a)
    assert accounts.grant(session, user, section=a).id == first.id
    accounts.grant(session, user, project=accounts.resolve_project(session, "physics"))
    roles = accounts.roles(session, user)
    assert roles == accounts.Roles(False, frozenset({11}), frozenset({7}))
    accounts.revoke(session, user, first.id)
    assert accounts.roles(session, user).section_ids == frozenset()
    with pytest.raises(accounts.AccountError, match="exactly one"):
        accounts.grant(session, user)


def test_tokens_are_stored_hashed_and_resolve_to_their_user(session):
    user = accounts.create_user(session, "t@example.org")
    row, plaintext = accounts.create_token(session, user, "nb")
    assert plaintext.startswith("xolap_") and len(row.token_hash) == 64 and plaintext not in row.token_hash
    assert accounts.user_for_token(session, plaintext).id == user.id
    assert accounts.user_for_token(session, plaintext + "x") is None
    accounts.delete_token(session, user, row.id)
    assert accounts.user_for_token(session, plaintext) is None


def test_password_fingerprint_changes_with_the_password(session):
    user = accounts.create_user(session, "f@example.org", password="first password")
    before = accounts.password_fingerprint(user)
    accounts.set_password(session, user, "second password")
    assert accounts.password_fingerprint(user) != before
