"""A table gone from ClickHouse (dropped by hand, a restore that missed it) while the server runs: the pages and APIs
that read it answer 503 naming the table and what to do, never a bare 500 or a dropped connection; /healthz turns
red with the reason; and everything answers again once the table is back, without a restart."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from web.test_authz import ALL_FLAGS_ON, set_flags
from xolap.clickhouse.migrations import Migrator, RenderContext, load_migrations, split_statements, tables_left_by
from xolap.component_status import board
from xolap.store import accounts
from xolap.store.models import Project, Section
from xolap.web.app import create_app

ROUTES = [
    "/api/v1/admin/analytics/health",
    "/sections/sec-a/analytics",
    "/sections/sec-a/analytics/summary",
    "/projects/proj-p/analytics/summary",
]


@pytest.fixture()
def admin_client(runtime):
    with runtime.sessions() as session:
        session.add_all(
            [
                Project(id=7, slug="proj-p", title="P"),
                Section(id=11, slug="sec-a", title="A", project_id=7),
                Section(id=12, slug="sec-b", title="B", project_id=7),
            ]
        )
        user = accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        token = accounts.create_token(session, user, "schema")[1]
        session.commit()
    set_flags(runtime, ALL_FLAGS_ON)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    client.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    yield client
    board.report("clickhouse", True)  # the board is the process's: leave it as a healthy server would


def tables(runtime) -> list[str]:
    database = runtime.settings.clickhouse_database
    rows = runtime.clickhouse().query(f"SELECT name FROM system.tables WHERE database = '{database}'").result_rows
    return sorted(row[0] for row in rows)


def recreate(runtime, names: set[str]) -> None:
    """Create the named tables again as the migrations do (what an operator's restore would)."""
    context = RenderContext(runtime.settings.clickhouse_database)
    latest: dict[str, str] = {}  # a table's last CREATE (later migrations create some rollup tables again)
    for migration in load_migrations():
        for statement in split_statements(context.render(migration.up)):
            head = statement.split("(")[0].replace("`", "")
            for name in names:
                if head.lstrip().upper().startswith("CREATE") and head.rstrip().endswith(f".{name}"):
                    latest[name] = statement
    for statement in latest.values():
        runtime.clickhouse().command(statement)


@pytest.mark.parametrize("which", ["raw_events", "rollups"])
def test_a_dropped_table_is_a_clear_503_and_a_red_health_until_it_is_back(runtime, admin_client, which):
    client = admin_client
    assert all(client.get(path).status_code == 200 for path in ROUTES)
    dropped = (
        {"raw_events"} if which == "raw_events" else {name for name in tables(runtime) if name.startswith("rollup_")}
    )
    database = runtime.settings.clickhouse_database
    for name in dropped:
        runtime.clickhouse().command(f"DROP TABLE `{database}`.`{name}` SYNC")

    answers = {path: client.get(path) for path in ROUTES}
    failing = {path: answer for path, answer in answers.items() if answer.status_code != 200}
    assert failing, "no route reads the dropped tables"
    for path, answer in failing.items():
        assert answer.status_code == 503, (path, answer.status_code, answer.text[:300])
        message = answer.json()["error"]
        assert "missing" in message and "migrat" in message and any(name in message for name in dropped), message
    health = client.get("/healthz")
    assert health.status_code == 503, health.text[:300]
    reason = health.json()["components"]["clickhouse"]["last_error"]
    assert "missing" in reason and any(name in reason for name in dropped), reason

    recreate(runtime, dropped)
    assert client.get("/healthz").status_code == 200
    assert {path: client.get(path).status_code for path in ROUTES} == dict.fromkeys(ROUTES, 200)


def test_tables_of_a_migration_not_applied_are_not_missing(ch_db):
    client, settings = ch_db
    migrator = Migrator(client, RenderContext(settings.clickhouse_database))
    assert migrator.missing_tables() == []
    reverted = migrator.down(len([m for m in load_migrations() if m.version >= 8]))  # the rollups: gone, unlogged
    left = [m for m in load_migrations() if m not in reverted]
    assert "rollup_slices" in tables_left_by(load_migrations()) - tables_left_by(left)
    assert migrator.missing_tables() == []
    client.command(f"DROP TABLE `{settings.clickhouse_database}`.raw_events SYNC")
    assert migrator.missing_tables() == ["raw_events"]
