"""Account rules live in xolap.store.accounts (issue 15): `xolap users add`, the admin page and the JSON API refuse the
same new accounts with the same reasons."""

from __future__ import annotations

import pytest

from support import xolap_cli
from xolap.store import accounts


@pytest.fixture()
def cli(pg_settings, monkeypatch):
    yield from xolap_cli(pg_settings, monkeypatch)


def test_every_broken_rule_is_named_by_field(pg_settings):
    from xolap.store.db import session_scope

    with session_scope(pg_settings) as session:
        assert accounts.new_user_problems(session, "not-an-email", "short") == {
            "email": "invalid email address 'not-an-email'",
            "password": f"password too short: at least {accounts.MIN_PASSWORD_LENGTH} characters",
        }
        assert accounts.new_user_problems(session, "ok@example.org", None) == {}
        accounts.create_user(session, "ok@example.org", password="long enough")
        assert accounts.new_user_problems(session, " OK@example.org ", "long enough") == {
            "email": "a user with email 'ok@example.org' already exists"
        }
        with pytest.raises(accounts.AccountError, match="invalid email address .*; password too short"):
            accounts.create_user(session, "nope", password="short")


def test_the_cli_names_the_same_rules(cli):
    result = cli("users", "add", "nope", "--password", "short")
    assert result.exit_code == 1
    words = " ".join(result.output.split())
    assert "invalid email address 'nope'" in words and "password too short: at least 8 characters" in words


def test_the_flag_names_in_the_help_are_the_known_flags():
    """accounts_cli keeps the names literal so `xolap --help` imports no database code; they must not drift."""
    from xolap.accounts_cli import FLAG_NAMES
    from xolap.store.flags import KNOWN_FLAGS

    assert FLAG_NAMES == tuple(KNOWN_FLAGS)


def test_a_command_stops_only_the_postgres_it_started(cli, pg_settings):
    """The test process's Postgres (already running) keeps running after a command (xolap.cli_session)."""
    from xolap.store.postgres import embedded_dirs

    before = embedded_dirs()
    assert cli("users", "list").exit_code == 0
    assert embedded_dirs() == before
