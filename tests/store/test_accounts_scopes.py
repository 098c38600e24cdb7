"""Sections and projects: created from event ids (never renaming admin-set ones), imported from CSV/JSON with
per-row errors, and the `xolap users|flags|scopes` CLI against a real Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from support import xolap_cli
from xolap.store import flags
from xolap.store.db import session_scope
from xolap.store.models import Membership, Project, Section, User
from xolap.store.scopes_sync import import_scopes, parse_scopes, sync_scopes


def insert_events(runtime, rows: list[tuple[int | None, int | None]]) -> None:
    db = runtime.settings.clickhouse_database
    values = ", ".join(
        f"({'NULL' if s is None else s}, {'NULL' if p is None else p}, now64(3), 'page_viewed', 'v', 'h{i}')"
        for i, (s, p) in enumerate(rows)
    )
    runtime.clickhouse().command(
        f"INSERT INTO `{db}`.raw_events (section_id, project_id, timestamp, event_type, verb_id, event_hash) VALUES {values}"
    )


def scopes(runtime) -> tuple[dict, dict]:
    with runtime.sessions() as session:
        sections = {s.id: (s.slug, s.title, s.project_id) for s in session.execute(select(Section)).scalars()}
        projects = {p.id: (p.slug, p.title) for p in session.execute(select(Project)).scalars()}
    return sections, projects


def test_sync_creates_scopes_from_events_and_keeps_admin_names(runtime):
    insert_events(runtime, [(11, 7), (11, 7), (12, 7), (None, 8), (13, None)])
    counts = sync_scopes(runtime)
    assert counts["sections_created"] == 3 and counts["projects_created"] == 2
    sections, projects = scopes(runtime)
    assert sections[11] == ("section-11", "Section 11", 7) and sections[13] == ("section-13", "Section 13", None)
    assert projects == {7: ("project-7", "Project 7"), 8: ("project-8", "Project 8")}
    with runtime.sessions() as session:
        session.get(Section, 11).slug, session.get(Section, 11).title = "physics-a", "Physics A"
        session.commit()
    insert_events(runtime, [(13, 8), (14, 8)])
    counts = sync_scopes(runtime)
    assert counts == {
        "sections_seen": 4,
        "projects_seen": 2,
        "sections_created": 1,
        "projects_created": 0,
        "sections_linked": 1,
    }
    sections, _ = scopes(runtime)
    assert sections[11] == ("physics-a", "Physics A", 7) and sections[13][2] == 8 and 14 in sections


def test_csv_import_keeps_good_rows_and_names_bad_ones(pg_settings):
    data = (
        "kind,id,slug,title,project_id\n"
        "project,7,physics,Physics,\n"
        "section,11,phys-a,Physics A,7\n"
        "section,x,bad,,\n"
        "section,12,Bad Slug,,\n"
        "lesson,13,,,\n"
        "section,14,phys-b,,99\n"
    )
    rows, errors = parse_scopes(data, "names.csv")
    assert errors == [
        "names.csv:4: id: not an integer ('x')",
        "names.csv:5: slug: 'Bad Slug' must be lowercase letters, digits, '-' or '_' (max 200)",
        "names.csv:6: kind: must be 'section' or 'project' (got 'lesson')",
    ]
    with session_scope(pg_settings) as session:
        result = import_scopes(session, rows, "names.csv")
        assert result.errors == ["names.csv:7: project_id: no project 99 (import it first or in the same file)"]
        assert (result.created, result.updated) == (2, 0)
        assert session.get(Section, 11).project_id == 7 and session.get(Project, 7).title == "Physics"
        session.add(Section(id=20, slug="section-20", title="Section 20"))
        session.flush()
        rows, errors = parse_scopes(
            '[{"kind": "section", "id": 20, "title": "Chem"}, {"kind": "section", "id": 21, "slug": "phys-a"}]',
            "names.json",
        )
        result = import_scopes(session, rows, "names.json")
        assert errors == [] and result.updated == 1
        assert result.errors == ["names.json:2: slug: 'phys-a' is already used by section 11"]
        assert (session.get(Section, 20).slug, session.get(Section, 20).title) == ("section-20", "Chem")


def test_json_import_reports_syntax_errors_with_line(pg_settings):
    rows, errors = parse_scopes('[{"kind": "section",\n "id": }]', "bad.json")
    assert rows == [] and errors[0].startswith("bad.json:2: invalid JSON")


@pytest.fixture()
def cli(pg_settings, monkeypatch):
    yield from xolap_cli(pg_settings, monkeypatch)


def test_cli_users_flags_scopes(cli, pg_settings, tmp_path):
    names = tmp_path / "names.csv"
    names.write_text("kind,id,slug,title,project_id\nproject,7,physics,Physics,\nsection,11,phys-a,A,7\n")
    assert cli("scopes", "import", str(names)).exit_code == 0
    result = cli("users", "add", "Ada@example.org", "--admin", "--password", "correct horse")
    assert result.exit_code == 0, result.output
    assert cli("users", "add", "ada@example.org", "--password", "correct horse").exit_code == 1
    assert cli("users", "add", "bob@example.org", input="pass word 1\npass word 1\n").exit_code == 0
    assert cli("users", "grant", "bob@example.org", "--section", "phys-a").exit_code == 0
    assert cli("users", "grant", "bob@example.org", "--project", "7").exit_code == 0
    missing = cli("users", "grant", "bob@example.org", "--section", "nope")
    assert missing.exit_code == 2 and "no section with id or slug 'nope'" in missing.output
    token = cli("users", "token", "bob@example.org", "--name", "nb")
    assert token.exit_code == 0 and token.output.strip().startswith("xolap_")
    assert cli("flags", "enable", "clickhouse-olap").exit_code == 0
    assert cli("flags", "enable", "instructor_dashboard_analytics", "--section", "phys-a").exit_code == 0
    bad = cli("flags", "enable", "clickhouse-olap", "--section", "11")
    assert bad.exit_code == 1 and "cannot be set per section" in bad.output
    assert "instructor_dashboard_analytics" in cli("flags", "list").output
    with session_scope(pg_settings) as session:
        bob = session.execute(select(User).where(User.email == "bob@example.org")).scalar_one()
        roles = {(m.role, m.section_id, m.project_id) for m in session.execute(select(Membership)).scalars()}
        assert roles == {("instructor", 11, None), ("author", None, 7)} and bob.password_hash
        assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)
        assert not flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 12)
    assert cli("users", "revoke", "bob@example.org", "--project", "physics").exit_code == 0
    assert "bob@example.org" in cli("users", "list").output


def test_background_sync_runs_at_start_and_stops(runtime):
    import threading

    from xolap.store.scopes_sync import start_scope_sync

    insert_events(runtime, [(21, 9)])
    stop = threading.Event()
    thread = start_scope_sync(runtime, stop)
    import time

    deadline = time.time() + 20
    while time.time() < deadline and 21 not in scopes(runtime)[0]:
        time.sleep(0.2)
    stop.set()
    thread.join(timeout=10)
    assert scopes(runtime)[0][21] == ("section-21", "Section 21", 9) and not thread.is_alive()
