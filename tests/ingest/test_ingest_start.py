"""What an ingest checks when it starts: the database is migrated (else one clear line), and staging tables a
killed SQL ingest left behind are dropped (never one a running ingest uses)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from xolap.ingest import files
from xolap.ingest.cli import ingest_app
from xolap.ingest.files import ingest_local_file_sql
from xolap.ingest.paths import ingest_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
runner = CliRunner()


def _tables(client, database: str) -> set[str]:
    rows = client.query(f"SELECT name FROM system.tables WHERE database = '{database}'").result_rows
    return {name for (name,) in rows}


def test_stale_stage_tables_are_dropped_when_an_ingest_starts(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    for name in ("_ingest_stage_killed1", "_ingest_stage_killed2", "_ingest_stage_running", "keep_me"):
        client.command(f"CREATE TABLE `{db}`.`{name}` (x UInt8) ENGINE = Memory")
    files._ACTIVE_STAGES.add((db, "_ingest_stage_running"))
    try:
        summary = ingest_paths(client, settings, [str(FIXTURES / "torus_statements.jsonl")], use_sql=True)
    finally:
        files._ACTIVE_STAGES.discard((db, "_ingest_stage_running"))
    assert summary.rows == 11 and summary.failures == []
    left = {name for name in _tables(client, db) if name.startswith("_ingest_stage_") or name == "keep_me"}
    assert left == {"_ingest_stage_running", "keep_me"}


def test_an_unmigrated_database_is_one_line_not_a_file_error(ch_db):
    client, settings = ch_db
    bare = settings.model_copy(update={"clickhouse_database": f"{settings.clickhouse_database}_bare"})
    path = str(FIXTURES / "torus_statements.jsonl")
    result = runner.invoke(ingest_app, [path], obj={"client": client, "settings": bare})
    assert result.exit_code == 1
    output = result.output.strip()
    assert (
        output
        == f"error: ClickHouse database '{bare.clickhouse_database}' is not set up (no raw_events, ingest_errors): run `xolap ch migrate` first"
    )
    assert "Traceback" not in output and "torus_statements" not in output
    summary = ingest_paths(client, bare, [path])  # the server's path: a failure naming no file
    assert summary.exit_code == 1 and [(f.source_file, "xolap ch migrate" in f.message) for f in summary.failures] == [
        ("", True)
    ]


def test_serve_start_up_drops_stale_stage_tables(runtime):
    from xolap.serve import STARTUP_HOOKS

    client, db = runtime.clickhouse(), runtime.settings.clickhouse_database
    client.command(f"CREATE TABLE `{db}`.`_ingest_stage_killed` (x UInt8) ENGINE = Memory")
    for hook in STARTUP_HOOKS:
        hook(runtime)
    assert not any(name.startswith("_ingest_stage_") for name in _tables(client, db))


def test_a_failed_sql_ingest_leaves_no_stage_name_reserved(ch_db):
    """An SQL ingest that fails once it has named its staging table (here: its database is gone) no longer keeps that
    name from drop_stale_stages: it did, for the life of the process, so a table left by the failure stayed too."""
    client, settings = ch_db
    gone = settings.model_copy(update={"clickhouse_database": f"{settings.clickhouse_database}_gone"})
    try:
        ingest_local_file_sql(client, gone, FIXTURES / "torus_statements.jsonl", ingest_path="test")
    except Exception:
        pass
    else:
        raise AssertionError("an ingest into a missing database succeeded")
    assert not [name for database, name in files._ACTIVE_STAGES if database == gone.clickhouse_database]
