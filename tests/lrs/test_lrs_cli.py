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


def test_limits_name_a_section_or_project_by_id_or_slug(cli, pg_settings):
    """README: sections and projects are named by id or slug everywhere, so `--section 4508` is `--section <slug>`."""
    from xolap.store.db import session_scope
    from xolap.store.models import Project, Section

    with session_scope(pg_settings) as session:
        session.add(Project(id=25331, slug="prob-stats", title="Probability"))
        session.flush()
        session.add(Section(id=4508, slug="prob-stats-02", title="Section 02", project_id=25331))
    limits = []
    for option, ref in (("--section", "4508"), ("--section", "prob-stats-02"), ("--project", "25331")):
        added = cli("lrs", "credentials", "add", "--name", f"by {ref}", "--json", option, ref)
        assert added.exit_code == 0, added.output
        data = json.loads(added.output)
        limits.append((data.get("section_id"), data.get("project_id")))
    assert limits == [(4508, None), (4508, None), (None, 25331)]
    unknown = cli("lrs", "credentials", "add", "--name", "x", "--project", "99999")
    assert unknown.exit_code == 2 and "no project" in unknown.output
