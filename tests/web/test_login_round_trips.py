"""A login's trips to Postgres: one transaction of few statements, so a login waits on the database (and, on a busy
machine, for a CPU after each answer) as little as it can; the flags it reads in one query mean what is_enabled says."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from xolap.store import accounts, flags
from xolap.store.models import Project, Section
from xolap.web.app import create_app

MAX_STATEMENTS = 7  # lock, throttle counts, user, session row, roles, the user's sections, their flags


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture()
def world(runtime):
    with runtime.sessions() as session:
        project = Project(id=7, slug="mechanics", title="Mechanics")
        session.add(project)
        session.flush()
        for section_id, slug in ((71, "mech-a"), (72, "mech-b")):
            session.add(Section(id=section_id, slug=slug, title=slug.upper(), project_id=7))
        session.flush()
        teacher = accounts.create_user(session, "teacher@example.org", password="teacher-pass-1")
        accounts.grant(session, teacher, section=session.get(Section, 71))
        author = accounts.create_user(session, "author@example.org", password="author-pass-1")
        accounts.grant(session, author, project=project)
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.SECTION_DASHBOARD, True)
        session.commit()
    return runtime, create_app(runtime)


def sign_in(client: TestClient, email: str, password: str, token: str | None = None):
    token = token or csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}, follow_redirects=False
    )


def test_a_login_is_one_transaction_of_few_statements(world):
    runtime, app = world
    engine = runtime.sessions.kw["bind"]
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)  # the visitor's page first: its own work is not counted
    statements: list[str] = []
    checkouts: list[int] = []
    main = threading.get_ident()

    def on_statement(_conn, _cursor, statement, *_args):
        if threading.get_ident() != main:  # the route runs on a worker thread; the test's own reads are not counted
            statements.append(" ".join(statement.split())[:80])

    def on_checkout(*_args):
        if threading.get_ident() != main:
            checkouts.append(1)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        response = sign_in(client, "teacher@example.org", "teacher-pass-1", token)
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine.pool, "checkout", on_checkout)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/sections/mech-a/analytics"
    assert len(checkouts) == 1, "\n".join(
        statements
    )  # one connection, one transaction: no second session for the landing page
    assert len(statements) <= MAX_STATEMENTS, statements
    assert client.get("/account", headers={"Accept": "application/json"}).status_code == 200  # signed in


def test_the_landing_page_follows_each_flag_as_is_enabled_reads_it(world):
    runtime, app = world
    cases = [  # (the section's own row, the global row, analytics): every way to be on or off, once
        (None, True, True),
        (False, True, True),
        (True, False, True),
        (None, None, True),
        (True, True, False),
    ]
    for own_row, global_row, analytics in cases:
        with runtime.sessions() as session:
            flags.set_flag(session, flags.ANALYTICS, analytics)
            if global_row is None:
                flags.clear_flag(session, flags.SECTION_DASHBOARD, "global", 0)
            else:
                flags.set_flag(session, flags.SECTION_DASHBOARD, global_row)
            if own_row is None:
                flags.clear_flag(session, flags.SECTION_DASHBOARD, "section", 71)
            else:
                flags.set_flag(session, flags.SECTION_DASHBOARD, own_row, "section", 71)
            session.commit()
            expected = flags.is_enabled(session, flags.ANALYTICS) and flags.is_enabled(
                session, flags.SECTION_DASHBOARD, "section", 71
            )
        landed = sign_in(TestClient(app), "teacher@example.org", "teacher-pass-1")
        case = (own_row, global_row, analytics)
        assert landed.status_code == 303, case
        assert landed.headers["location"] == ("/sections/mech-a/analytics" if expected else "/"), case


def test_enabled_flags_answers_as_is_enabled_for_every_scope_in_one_query(runtime):
    with runtime.sessions() as session:
        session.add(Project(id=8, slug="optics", title="Optics"))
        session.flush()
        session.add(Section(id=81, slug="opt-a", title="A", project_id=8))
        session.add(Section(id=82, slug="opt-b", title="B", project_id=8))
        session.flush()
        flags.set_flag(session, flags.SECTION_DASHBOARD, True)
        flags.set_flag(session, flags.SECTION_DASHBOARD, False, "section", 81)
        flags.set_flag(session, flags.PROJECT_DASHBOARD, True, "project", 8)
        flags.set_flag(session, flags.ANALYTICS, False)
        wanted = [
            (flags.ANALYTICS, "global", 0),
            (flags.BULK_INGEST, "global", 0),
            (flags.SECTION_DASHBOARD, "section", 81),
            (flags.SECTION_DASHBOARD, "section", 82),
            (flags.SECTION_DASHBOARD, "section", 99),
            (flags.PROJECT_DASHBOARD, "project", 8),
            (flags.PROJECT_DASHBOARD, "project", 9),
            (flags.PROJECT_DASHBOARD, "global", 0),
        ]
        statements: list[str] = []
        engine = runtime.sessions.kw["bind"]

        def count(*_args):
            statements.append("x")

        event.listen(engine, "before_cursor_execute", count)
        try:
            found = flags.enabled_flags(session, wanted)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert found == {key: flags.is_enabled(session, *key) for key in wanted}
        assert found[(flags.SECTION_DASHBOARD, "section", 82)] and not found[(flags.SECTION_DASHBOARD, "section", 81)]
        assert len(statements) == 1
        assert flags.enabled_flags(session, []) == {}


def test_a_new_session_record_holds_its_database_made_times_without_another_read(runtime):
    from xolap.store import sessions as session_records

    with runtime.sessions() as session:
        user = accounts.create_user(session, "reader@example.org", password="reader-pass-1")
        statements: list[str] = []
        engine = runtime.sessions.kw["bind"]

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement.split()[0])

        event.listen(engine, "before_cursor_execute", count)
        try:
            record, _sid = session_records.create(session, user, user_agent="test", client_address="10.0.0.1")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        session.commit()
    assert statements == ["INSERT"]  # the INSERT returns what the database made: no refresh
    # read after the session closed (a detached record would raise on an attribute never loaded)
    assert record.id > 0 and record.created_at is not None and record.last_seen_at is not None
    assert record.expires_at > record.created_at
