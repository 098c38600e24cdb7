"""`xolap lrs credentials add|list|revoke`: JSON with key and secret, scopes and limits checked, revoke by key."""

from __future__ import annotations

import json

import pytest

from support import xolap_cli
from xolap.lrs import credentials


@pytest.fixture()
def cli(pg_settings, monkeypatch):
    yield from xolap_cli(pg_settings, monkeypatch)


def test_add_list_revoke(cli, pg_settings):
    from xolap.store.db import session_scope

    added = cli("lrs", "credentials", "add", "--name", "moodle", "--json", "--scope", "write", "--scope", "read-own")
    assert added.exit_code == 0, added.output
    data = json.loads(added.output)
    assert data["key"].startswith("lrs_") and data["secret"] and data["scopes"] == ["read-own", "write"]
    with session_scope(pg_settings) as session:
        assert credentials.authenticate(session, data["key"], data["secret"]).name == "moodle"
    listed = json.loads(cli("lrs", "credentials", "list", "--json").output)
    assert [c["key"] for c in listed] == [data["key"]] and "secret" not in listed[0]
    assert cli("lrs", "credentials", "add", "--name", "x", "--scope", "everything").exit_code == 2
    unknown = cli("lrs", "credentials", "add", "--name", "x", "--section", "no-such-section")
    assert unknown.exit_code == 2 and "no section" in unknown.output
    assert cli("lrs", "credentials", "revoke", data["key"]).exit_code == 0
    assert cli("lrs", "credentials", "revoke", data["key"]).exit_code == 2
    with session_scope(pg_settings) as session:
        assert credentials.authenticate(session, data["key"], data["secret"]) is None
