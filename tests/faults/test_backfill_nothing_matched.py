"""A manual backfill whose pattern matches no file (a mistyped prefix) says so at once: the run lists the files its
pattern matches before it plans any INSERT, and with none it completes with 'Files matched 0' without running the
mapping's statements. Before, it ran all three (the rows, the rejected lines and the warned lines, whose 62 kB of
SQL alone cost ~6 s of CPU to plan: 18-36 s of wall clock on the shared machine) to read nothing."""

from __future__ import annotations

from bf_support import count_events, local_cli, upload_bundles

from xolap.backfill import runner, service
from xolap.backfill.chunk_sql import log_comment


def engine_now(bf_runtime):
    """ClickHouse's clock now: statements logged after it are this test's (the engine and its query log outlive a
    test, and another test's run may have had the same id)."""
    return bf_runtime.clickhouse().query("SELECT now64(6)").result_rows[0][0]


def statements_run(bf_runtime, run_id: int, since) -> list[tuple[str, str]]:
    """(log comment, query kind) of every statement the run's tag marked since `since`, as ClickHouse logged them."""
    client = bf_runtime.clickhouse()
    client.command("SYSTEM FLUSH LOGS")
    return client.query(
        "SELECT log_comment, query_kind FROM system.query_log WHERE type = 'QueryFinish' "
        "AND startsWith(log_comment, {c:String}) AND event_time_microseconds >= {since:DateTime64(6)} "
        "ORDER BY event_time_microseconds",
        parameters={"c": log_comment(f"backfill-run-{run_id}"), "since": since},
    ).result_rows


def test_a_pattern_matching_no_file_completes_without_planning_an_insert(bf_runtime, s3, bucket):
    upload_bundles(s3, bucket, "xapi/", files=2, lines=5)
    pattern = f"s3://{bucket}/xpai/**/*.jsonl"  # a mistyped prefix
    since = engine_now(bf_runtime)
    run = service.create_manual_run(bf_runtime, s3_pattern=pattern, initiated_by="test")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert (done["objects"], done["rows_read"], done["rows_written"], done["error"]) == (0, 0, 0, None)
    kinds = [kind for _, kind in statements_run(bf_runtime, run["id"], since)]
    assert "Insert" not in kinds, kinds
    assert count_events(bf_runtime) == 0


def test_a_pattern_matching_files_names_how_many_and_stores_every_line(bf_runtime, s3, bucket):
    upload_bundles(s3, bucket, "xapi/", files=3, lines=4)
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**/*.jsonl", initiated_by="test")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert (done["objects"], done["rows_written"]) == (3, 12), done
    assert count_events(bf_runtime) == 12


def test_watch_says_the_pattern_matched_no_file(bf_runtime, s3, bucket, monkeypatch):
    """`xolap backfill watch` ends as the run page does: 'completed' alone read as a success."""
    from typer.testing import CliRunner

    from xolap.cli import app
    from xolap.config import get_settings

    local_cli(bf_runtime.settings, monkeypatch)
    try:
        pattern = f"s3://{bucket}/xpai/**/*.jsonl"
        run = service.create_manual_run(bf_runtime, s3_pattern=pattern, initiated_by="test")
        assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
        watched = CliRunner().invoke(app, ["backfill", "watch", f"m:{run['id']}"])
        assert watched.exit_code == 0, watched.output
        said = " ".join(watched.output.split())
        assert "no file matched" in said.lower() and pattern in said, watched.output
    finally:
        get_settings.cache_clear()
