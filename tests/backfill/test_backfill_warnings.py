"""Backfills record warnings apart from rejections: a malformed optional value keeps its row (the value NULL) and
writes one ingest_errors row with severity 'warning'; a bad line is rejected (severity 'error'). The run (manual)
and batch (inventory) records count the two apart: rejected_lines and warnings."""

from __future__ import annotations

import json

from bf_support import count_events, statement, write_csv_manifest

from xolap.backfill import runner, service

WARNING = 'success (result.success): expected true or false, got "maybe"'


def loose_statement(n: int) -> bytes:
    """A valid statement whose optional result.success is neither true nor false."""
    body = json.loads(statement(n))
    body["result"] = {"success": "maybe"}
    return json.dumps(body).encode()


def _bundle(s3, bucket: str, key: str, start: int = 0) -> None:
    """Good, good, loose (line 3), bad (line 4), good; `start` keeps the events of separate bundles apart."""
    lines = [statement(start + 1), statement(start + 2), loose_statement(start + 3), b"{not json", statement(start + 4)]
    s3.put_object(Bucket=bucket, Key=key, Body=b"\n".join(lines) + b"\n")


def _errors(runtime) -> list[tuple]:
    db = runtime.settings.clickhouse_database
    return (
        runtime.clickhouse()
        .query(f"SELECT severity, source_line, reason FROM `{db}`.ingest_errors ORDER BY source_line")
        .result_rows
    )


def test_manual_run_records_warnings_apart_from_rejections(bf_runtime, s3, bucket):
    _bundle(s3, bucket, "mixed/a.jsonl")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/mixed/*.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert done["rows_written"] == 4 and count_events(bf_runtime) == 4  # the loose line is kept
    assert (done["metadata"]["rejected_lines"], done["metadata"]["warnings"]) == (1, 1)
    assert _errors(bf_runtime) == [("warning", 3, WARNING), ("error", 4, "not valid JSON")]
    db = bf_runtime.settings.clickhouse_database
    success = bf_runtime.clickhouse().query(f"SELECT success FROM `{db}`.raw_events WHERE source_line = 3").result_rows
    assert success == [(None,)]


def test_inventory_batch_records_warnings_apart_from_rejections(bf_runtime, s3, bucket, drain):
    _bundle(s3, bucket, "inv/section/1/a.jsonl")
    _bundle(s3, bucket, "inv/section/1/b.jsonl", start=100)
    manifest = write_csv_manifest(s3, bucket, [[(bucket, "inv/section/1/a.jsonl"), (bucket, "inv/section/1/b.jsonl")]])
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=1)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed", done
    (batch,) = done["batches"]
    assert batch["rows_written"] == 8 and count_events(bf_runtime) == 8
    assert (batch["metadata"]["rejected_lines"], batch["metadata"]["warnings"]) == (2, 2)
    assert sorted(_errors(bf_runtime)) == sorted([("warning", 3, WARNING), ("error", 4, "not valid JSON")] * 2)


def test_a_manual_run_with_flagged_lines_in_one_file_of_several_keeps_every_warning(bf_runtime, s3, bucket):
    s3.put_object(Bucket=bucket, Key="some/a.jsonl", Body=b"\n".join([statement(1), statement(2)]) + b"\n")
    lines = [statement(11), loose_statement(12), statement(13), loose_statement(14)]
    s3.put_object(Bucket=bucket, Key="some/b.jsonl", Body=b"\n".join(lines) + b"\n")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/some/*.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert done["rows_written"] == 6 and (done["metadata"]["rejected_lines"], done["metadata"]["warnings"]) == (0, 2)
    assert _errors(bf_runtime) == [("warning", 2, WARNING), ("warning", 4, WARNING)]


def test_a_manual_run_without_flagged_lines_records_no_warning(bf_runtime, s3, bucket):
    lines = [statement(1), statement(2), b"{not json", statement(3)]
    s3.put_object(Bucket=bucket, Key="clean/a.jsonl", Body=b"\n".join(lines) + b"\n")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/clean/*.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert done["rows_written"] == 3 and (done["metadata"]["rejected_lines"], done["metadata"]["warnings"]) == (1, 0)
    assert _errors(bf_runtime) == [("error", 3, "not valid JSON")]
