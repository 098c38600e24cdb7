"""`xolap users grant` / `users revoke` / `users list`: a role on exactly one section or project, by id or slug, shown
by slug in the list."""

from __future__ import annotations

import pytest

from support import xolap_cli
from xolap.store import accounts
from xolap.store.db import session_scope
from xolap.store.models import Project, Section


@pytest.fixture()
def cli(pg_settings, monkeypatch):
    with session_scope(pg_settings) as session:
        session.add_all([Project(id=71, slug="roles-project", title="P"), Project(id=72, slug="roles-other")])
        session.flush()
        session.add_all(
            [
                Section(id=81, slug="roles-section-b", title="B", project_id=71),
                Section(id=80, slug="roles-section-a", title="A", project_id=71),
            ]
        )
        accounts.create_user(session, "roles@example.org", password="long enough")
    yield from xolap_cli(pg_settings, monkeypatch)


def _row_of(output: str, email: str) -> str:
    return next(line for line in output.splitlines() if email in line)


def test_grant_by_slug_and_id_then_list_shows_the_slugs_in_id_order(cli):
    assert cli("users", "grant", "roles@example.org", "--section", "roles-section-b").exit_code == 0
    assert cli("users", "grant", "roles@example.org", "--section", "80").exit_code == 0
    granted = cli("users", "grant", "roles@example.org", "--project", "roles-project")
    assert granted.exit_code == 0 and "author of project roles-project (71)" in " ".join(granted.output.split())
    listed = cli("users", "list")
    assert listed.exit_code == 0
    row = _row_of(listed.output, "roles@example.org")
    assert "roles-section-a, roles-section-b" in row and "roles-project" in row and "roles-other" not in row


def test_exactly_one_of_section_or_project(cli):
    for args in ([], ["--section", "roles-section-a", "--project", "roles-project"]):
        result = cli("users", "grant", "roles@example.org", *args)
        assert result.exit_code == 2 and "give exactly one of --section or --project" in result.output
        result = cli("users", "revoke", "roles@example.org", *args)
        assert result.exit_code == 2 and "give exactly one of --section or --project" in result.output


def test_revoke_removes_the_role_from_the_list(cli):
    assert cli("users", "grant", "roles@example.org", "--project", "72").exit_code == 0
    assert "roles-other" in _row_of(cli("users", "list").output, "roles@example.org")
    assert cli("users", "revoke", "roles@example.org", "--project", "roles-other").exit_code == 0
    assert "roles-other" not in _row_of(cli("users", "list").output, "roles@example.org")
    missing = cli("users", "revoke", "roles@example.org", "--project", "roles-other")
    assert missing.exit_code == 1 and "has no such role" in missing.output
