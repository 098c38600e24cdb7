"""`xolap lrs credentials add|list|revoke`: JSON with key and secret, scopes and limits checked, revoke by key."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xolap.lrs import credentials


@pytest.fixture()
def cli(pg_settings, monkeypatch):
    from xolap.config import get_settings

    monkeypatch.setenv("XOLAP_DATABASE_URL", pg_settings.database_url)
    monkeypatch.setenv("XOLAP_DATA_DIR", str(pg_settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    from xolap.cli import app

    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


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
