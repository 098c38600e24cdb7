"""`xolap query`: guard + executor from the command line, exit codes 0 / 1 / 2, table / JSON / CSV output, stdin."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
import typer
from typer.testing import CliRunner

from xolap.analytics.query_cli import make_query_command

COLUMNS = ["user_id", "section_id", "project_id", "timestamp", "event_type", "verb_id", "event_hash", "score"]


def add_scopes(runtime) -> None:
    """Sections 1-3 (slugs sec-1…) of projects 10 and 20 (proj-10, proj-20), as `xolap scopes import` makes them."""
    from xolap.store.models import Project, Section

    with runtime.sessions() as session:
        session.add_all([Project(id=10, slug="proj-10", title="P10"), Project(id=20, slug="proj-20", title="P20")])
        session.flush()
        session.add_all(
            [
                Section(id=sid, slug=f"sec-{sid}", title=f"S{sid}", project_id=pid)
                for sid, pid in ((1, 10), (2, 10), (3, 20))
            ]
        )
        session.commit()


@pytest.fixture()
def cli(runtime):
    client, settings = runtime.clickhouse(), runtime.settings
    add_scopes(runtime)
    rows = []
    for section, project in ((1, 10), (2, 10), (3, 20)):
        for i in range(section * 2):
            rows.append(
                [
                    f"s{section}-u{i}",
                    section,
                    project,
                    datetime(2026, 10, 1, 12, i),
                    "video",
                    "v",
                    f"h{section}-{i}",
                    float(i),
                ]
            )
    client.insert(f"`{settings.clickhouse_database}`.raw_events", rows, column_names=COLUMNS)
    app = typer.Typer()
    app.command()(make_query_command(lambda: settings, lambda _settings: client))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), input=stdin)

    return invoke


def test_section_table_output(cli):
    result = cli("--section", "2", "SELECT user_id FROM raw_events WHERE section_id = 3 OR 1 ORDER BY user_id")
    assert result.exit_code == 0, result.stderr
    assert "s2-u0" in result.stdout and "s2-u3" in result.stdout
    assert "s3-" not in result.stdout and "s1-" not in result.stdout
    assert "4 rows in" in result.stderr


def test_a_section_or_project_by_slug_is_the_same_as_by_id(cli):
    by_id = cli("--section", "2", "--format", "json", "SELECT count() AS n FROM raw_events")
    by_slug = cli("--section", "sec-2", "--format", "json", "SELECT count() AS n FROM raw_events")
    assert by_id.exit_code == by_slug.exit_code == 0, by_slug.stderr
    assert json.loads(by_id.stdout)["rows"] == json.loads(by_slug.stdout)["rows"] == [[4]]
    project = cli("--project", "proj-20", "--format", "json", "SELECT count() AS n FROM raw_events")
    assert project.exit_code == 0 and json.loads(project.stdout)["rows"] == [[6]]


@pytest.mark.parametrize(
    ("option", "ref"),
    [
        ("--section", "4508"),
        ("--section", "no-such-section"),
        ("--project", "99"),
        ("--project", "sec-1"),
        ("--section", "proj-10"),
    ],
)
def test_an_unknown_section_or_project_exits_2_never_an_empty_result(cli, option, ref):
    result = cli(option, ref, "SELECT count() AS n FROM raw_events")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"no {option[2:]} with id or slug {ref!r}" in result.stderr


def test_project_json_output(cli):
    result = cli(
        "--project",
        "10",
        "--format",
        "json",
        "SELECT section_id, count() AS n FROM raw_events GROUP BY section_id ORDER BY section_id",
    )
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["columns"] == [{"name": "section_id", "type": "Nullable(UInt64)"}, {"name": "n", "type": "UInt64"}]
    assert body["rows"] == [[1, 2], [2, 4]]
    assert body["truncated"] is False


def test_admin_csv_output_and_truncation(cli):
    result = cli(
        "--admin", "--format", "csv", "--max-rows", "5", "SELECT user_id, score FROM raw_events ORDER BY user_id"
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["user_id", "score"]
    assert len(rows) == 1 + 5
    assert "truncated at the limit of 5 rows" in result.stderr


def test_sql_from_stdin(cli):
    result = cli("--section", "1", "--format", "json", "-", stdin="SELECT count() AS n FROM raw_events\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == [[2]]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE raw_events", "only SELECT"),
        ("SELECT * FROM system.tables", "database-qualified"),
        ("SELECT * FROM numbers(5)", "table function"),
        ("SELECT 1; SELECT 2", "exactly one"),
    ],
)
def test_guard_rejection_exits_2_with_reason(cli, sql, reason):
    result = cli("--section", "1", sql)
    assert result.exit_code == 2
    assert result.stderr.startswith("refused:") and reason in result.stderr
    assert result.stdout == ""


def test_admin_is_guarded_too(cli):
    result = cli("--admin", "SELECT * FROM system.one")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("SELECT 1",),
        ("--section", "1", "--project", "2", "SELECT 1"),
        ("--admin", "--section", "1", "SELECT 1"),
        ("--section", "1", "--format", "xml", "SELECT 1"),
    ],
)
def test_bad_options_exit_2(cli, args):
    """Bad input on the command line is refused with exit 2, as the README says and `xolap analytics run` does."""
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error:")


def test_query_errors_exit_1(cli):
    result = cli("--section", "1", "SELECT no_such_column FROM raw_events")
    assert result.exit_code == 1
    assert "error (invalid)" in result.stderr and "no_such_column" in result.stderr
    result = cli(
        "--admin",
        "--timeout",
        "1",
        "SELECT count() FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c WHERE sleepEachRow(0) = 0",
    )
    assert result.exit_code == 2  # sleepEachRow is refused by the guard before anything runs


def test_unavailable_clickhouse_exits_1(runtime):
    settings = runtime.settings

    def no_client(_settings):
        raise RuntimeError("cannot reach ClickHouse at 127.0.0.1:1")

    app = typer.Typer()
    app.command()(make_query_command(lambda: settings, no_client))
    result = CliRunner().invoke(app, ["--section", "1", "SELECT 1"])
    assert result.exit_code == 1
    assert "cannot reach ClickHouse" in result.stderr
