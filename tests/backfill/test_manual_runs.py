"""Manual S3-pattern backfills: dry run, real run through the procrastinate worker, idempotent retry, failures,
and the transactional enqueue of run + job."""

from __future__ import annotations

import pytest
from bf_support import count_events, raw_rows, statement, upload_bundles
from sqlalchemy import func, select, text

from xolap.backfill import runner, service
from xolap.backfill.models import BackfillRun
from xolap.backfill.naming import BackfillInputError
from xolap.store.db import session_scope


def test_dry_run_counts_objects_rows_bytes_without_writing(bf_runtime, s3, bucket, drain):
    keys = upload_bundles(s3, bucket, "xapi/", files=3, lines=40)
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**/*.jsonl", dry_run=True)
    assert run["status"] == "pending" and run["job_id"]
    drain()
    done = service.get_run(bf_runtime, "manual", run["id"])
    sizes = sum(s3.head_object(Bucket=bucket, Key=k)["ContentLength"] for k in keys)
    assert (done["status"], done["objects"], done["rows_read"], done["bytes_read"]) == ("completed", 3, 120, sizes)
    assert done["started_at"] and done["finished_at"]
    assert count_events(bf_runtime) == 0


def test_real_run_inserts_every_event_once_and_retry_is_idempotent(bf_runtime, s3, bucket, drain):
    upload_bundles(s3, bucket, "xapi/", files=4, lines=25)
    s3.put_object(Bucket=bucket, Key="xapi/other/bad.jsonl", Body=b"\n" + statement(999_000) + b"\n\n{not json\n")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/{{section,other}}/**.jsonl")
    drain()
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert done["status"] == "completed", done["error"]
    assert done["rows_written"] == 101 and done["rows_read"] >= 102 and done["bytes_written"] > 0
    assert done["metadata"]["rejected_lines"] == 1 and done["progress"] == 1.0
    assert count_events(bf_runtime) == 101
    db = bf_runtime.settings.clickhouse_database
    reason = (
        bf_runtime.clickhouse().query(f"SELECT source_file, source_line, reason FROM `{db}`.ingest_errors").result_rows
    )
    assert (
        reason and reason[0][0].endswith("other/bad.jsonl") and reason[0][1] == 2
    )  # 2nd non-empty line (4th physical)
    lines = (
        bf_runtime.clickhouse()
        .query(f"SELECT DISTINCT source_line FROM `{db}`.raw_events WHERE source_file LIKE '%bad.jsonl'")
        .result_rows
    )
    assert lines == [(1,)]

    # Running the same backfill again (a retry after a crash) must not make any event visible twice.
    runner.execute_manual_run(bf_runtime, run["id"])  # completed: nothing to do
    again = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/{{section,other}}/**.jsonl")
    drain()
    assert service.get_run(bf_runtime, "manual", again["id"])["status"] == "completed"
    assert raw_rows(bf_runtime) >= 101 and count_events(bf_runtime) == 101


def test_glob_ranges_and_alternatives(bf_runtime, s3, bucket, drain):
    for i in range(1, 5):
        s3.put_object(Bucket=bucket, Key=f"g/part-{i}.jsonl", Body=statement(i) + b"\n")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/g/part-{{1..3}}.jsonl")
    drain()
    assert service.get_run(bf_runtime, "manual", run["id"])["rows_written"] == 3


def test_missing_object_fails_with_a_descriptive_error_and_can_be_retried(bf_runtime, s3, bucket, drain):
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/nothing/here.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"], final_attempt=True) == "failed"
    failed = service.get_run(bf_runtime, "manual", run["id"])
    assert "404" in failed["error"] and "nothing/here.jsonl" in failed["error"] and "testing" not in failed["error"]
    s3.put_object(Bucket=bucket, Key="nothing/here.jsonl", Body=statement(1) + b"\n")
    service.retry_run(bf_runtime, "manual", run["id"])
    drain()
    assert service.get_run(bf_runtime, "manual", run["id"])["status"] == "completed"
    assert count_events(bf_runtime) == 1


def test_clickhouse_error_fails_the_run(bf_runtime, s3, bucket):
    upload_bundles(s3, bucket, "x/", files=1, lines=3)
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/x/**", target_table="no_such_table")
    with pytest.raises(Exception):  # noqa: B017 - whatever the engine raises for a missing table
        runner.execute_manual_run(bf_runtime, run["id"], final_attempt=False)  # will be retried: re-raises
    assert service.get_run(bf_runtime, "manual", run["id"])["status"] == "pending"
    assert runner.execute_manual_run(bf_runtime, run["id"], final_attempt=True) == "failed"
    error = service.get_run(bf_runtime, "manual", run["id"])["error"]
    assert "no_such_table" in error and "UNKNOWN_TABLE" in error


def test_invalid_input_is_refused_naming_the_field(bf_runtime):
    with pytest.raises(BackfillInputError, match="target_table"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl", target_table="x; DROP TABLE y")
    with pytest.raises(BackfillInputError, match="clickhouse_settings"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl", clickhouse_settings={"Max-Threads": 1})
    with pytest.raises(BackfillInputError, match="readonly"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl", clickhouse_settings={"readonly": 1})
    with pytest.raises(BackfillInputError, match="never closed"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/{a,b.jsonl")
    with pytest.raises(BackfillInputError, match="format"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl", format="CSV")
    assert service.list_runs(bf_runtime) == []


def test_run_and_job_commit_or_roll_back_together(bf_runtime, monkeypatch):
    import xolap.backfill.service as svc

    def broken_publish(*args, **kwargs):
        raise RuntimeError("simulated failure after the job was deferred")

    monkeypatch.setattr(svc, "publish", broken_publish)
    with pytest.raises(RuntimeError, match="simulated"):
        service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl")
    with session_scope(bf_runtime.settings) as session:
        assert session.scalar(select(func.count()).select_from(BackfillRun)) == 0
        assert session.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar() == 0
    monkeypatch.undo()
    run = service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl")
    with session_scope(bf_runtime.settings) as session:
        job = session.execute(text("SELECT task_name, lock, args->>'run_id' FROM procrastinate_jobs")).one()
    assert job == ("xolap.backfill.manual_run", f"backfill-run-{run['id']}", str(run["id"]))
