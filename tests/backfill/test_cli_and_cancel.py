"""`xolap backfill` commands in local mode (no server holds the data dir), and cancelling a manual run kills its
running ClickHouse query."""

from __future__ import annotations

import gzip
import json
import threading
import time

from bf_support import local_cli, statement, upload_bundles
from typer.testing import CliRunner

from xolap.backfill import chunk_sql, runner, service


def test_cli_run_list_show_watch_retry(bf_runtime, s3, bucket, drain, monkeypatch):
    from xolap.cli import app
    from xolap.config import get_settings

    local_cli(bf_runtime.settings, monkeypatch)
    upload_bundles(s3, bucket, "xapi/", files=2, lines=3)
    cli = CliRunner()
    try:
        created = cli.invoke(app, ["backfill", "run", f"s3://{bucket}/xapi/**", "--setting", "max_threads=2", "--json"])
        assert created.exit_code == 0, created.output
        run = json.loads(created.output)
        assert run["clickhouse_settings"] == {"max_threads": 2} and run["status"] == "pending"
        drain()
        listed = json.loads(cli.invoke(app, ["backfill", "list", "--json"]).output)
        assert [(r["id"], r["status"], r["rows_written"]) for r in listed] == [(run["id"], "completed", 6)]
        shown = cli.invoke(app, ["backfill", "show", f"manual:{run['id']}"])
        assert shown.exit_code == 0 and "completed" in shown.output
        watched = cli.invoke(app, ["backfill", "watch", f"m:{run['id']}"])
        assert watched.exit_code == 0, watched.output
        assert "→ pending" in watched.output and "→ completed" in watched.output
        refused = cli.invoke(app, ["backfill", "retry", f"manual:{run['id']}"])
        assert refused.exit_code == 1 and "only failed or cancelled" in refused.output
        bad = cli.invoke(app, ["backfill", "show", "nonsense"])
        assert bad.exit_code == 1 and "manual:ID" in bad.output
    finally:
        get_settings.cache_clear()


def test_cancel_kills_the_running_query(bf_runtime, s3, bucket):
    body = gzip.compress(b"\n".join(statement(i) for i in range(120_000)) + b"\n")
    s3.put_object(Bucket=bucket, Key="big/one.jsonl.gz", Body=body)
    run = service.create_manual_run(
        bf_runtime, s3_pattern=f"s3://{bucket}/big/*.jsonl.gz", options={"record_rejected": False}
    )
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(runner.execute_manual_run(bf_runtime, run["id"])))
    worker.start()
    deadline = time.time() + 30
    while time.time() < deadline and not chunk_sql.running_queries(
        bf_runtime.clickhouse(), f"backfill-run-{run['id']}"
    ):
        time.sleep(0.05)
    cancelled = service.cancel(bf_runtime, "manual", run["id"])
    worker.join(60)
    assert cancelled["killed_queries"] == 1 and outcome == ["cancelled"]
    final = service.get_run(bf_runtime, "manual", run["id"])
    assert final["status"] == "cancelled" and final["finished_at"]
    assert chunk_sql.running_queries(bf_runtime.clickhouse(), f"backfill-run-{run['id']}") == []
