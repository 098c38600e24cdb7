"""What a run records is true and safe: rows_written counts the target's rows only (not its materialized views'),
errors name the field and reason but never echo source rows, and a format that does not fit is refused before
anything is written."""

from __future__ import annotations

import json

import pytest
from bf_support import count_events, raw_rows, statement, upload_bundles

from xolap.backfill import runner, service
from xolap.backfill.errors import scrub

LEARNER = "Annabel Quixote-Learner"


def titled_statement(n: int) -> bytes:
    """A page view whose object has a title, so content_titles_mv writes a row for it too."""
    body = json.loads(statement(n))
    body["object"]["definition"]["name"] = {"en-US": f"Page {n % 20}"}
    return json.dumps(body).encode()


def test_rows_written_counts_target_rows_not_materialized_view_rows(bf_runtime, s3, bucket):
    lines = [titled_statement(i) for i in range(60)]
    s3.put_object(Bucket=bucket, Key="titled/a.jsonl", Body=b"\n".join(lines) + b"\n")
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/titled/*.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    db = bf_runtime.settings.clickhouse_database
    titles = bf_runtime.clickhouse().query(f"SELECT count() FROM `{db}`.content_titles").result_rows[0][0]
    assert titles > 0  # the view did write: the counter must not include those rows
    assert (done["rows_written"], raw_rows(bf_runtime), count_events(bf_runtime)) == (60, 60, 60)


def test_jsoneachrow_over_statement_files_is_refused_before_writing(bf_runtime, s3, bucket, drain):
    upload_bundles(s3, bucket, "xapi/", files=2, lines=10)
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**", format="JSONEachRow")
    # Refused on the first attempt (a permanent mismatch is not retried), with the reason.
    assert runner.execute_manual_run(bf_runtime, run["id"], final_attempt=False) == "failed"
    failed = service.get_run(bf_runtime, "manual", run["id"])
    assert (
        "event_hash" in failed["error"]
        and "JSONAsString" in failed["error"]
        and "nothing was written" in failed["error"]
    )
    assert raw_rows(bf_runtime) == 0


@pytest.mark.parametrize("fmt", ["JSONEachRow", "Parquet"])
def test_mapped_format_without_required_columns_is_refused(bf_runtime, s3, bucket, fmt):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"user_id": ["u1", "u2"], "section_id": [1, 2]})
    if fmt == "Parquet":
        sink = io.BytesIO()
        pq.write_table(table, sink)
        body = sink.getvalue()
    else:
        body = b'{"user_id":"u1","section_id":1}\n{"user_id":"u2","section_id":2}\n'
    s3.put_object(Bucket=bucket, Key=f"rows/x.{fmt.lower()}", Body=body)
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/rows/x.{fmt.lower()}", format=fmt)
    assert runner.execute_manual_run(bf_runtime, run["id"], final_attempt=False) == "failed"
    error = service.get_run(bf_runtime, "manual", run["id"])["error"]
    assert "timestamp" in error and "event_hash" in error and raw_rows(bf_runtime) == 0


def test_stored_error_never_holds_source_row_content(bf_runtime, s3, bucket, drain):
    # Rows with every required column but a section_id holding a learner's name: ClickHouse's message quotes the
    # input after the failure (`before: 'Annabel …'`).
    row = {
        "timestamp": "2026-01-01 00:00:00",
        "event_type": "page_viewed",
        "verb_id": "viewed",
        "event_hash": "h1",
        "section_id": LEARNER + " <ann.q@example.edu>",
        "user_id": "ann-quixote-7",
        "object_name": LEARNER,
    }
    s3.put_object(Bucket=bucket, Key="bad/rows.jsonl", Body=(json.dumps(row) + "\n").encode())
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/bad/rows.jsonl", format="JSONEachRow")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "failed"
    shown = [service.get_run(bf_runtime, "manual", run["id"]), *service.list_runs(bf_runtime)]
    for record in shown:
        text = json.dumps(record)
        for secret in ("Annabel", "Quixote", "example.edu", "ann-quixote", "ann.q"):
            assert secret not in text, text
    error = shown[0]["error"]
    assert "Code: 27" in error and "section_id" in error and "CANNOT_PARSE" in error  # field and reason stay


@pytest.mark.parametrize(
    "message",
    [
        "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'Ann Lee\", \"x\": 1}': (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)",
        "Code: 6. DB::Exception: Cannot parse string 'Ann Lee' as DateTime64(3): syntax error at position 0 (parsed just ''). (CANNOT_PARSE_TEXT)",
        'Code: 117. DB::Exception: Unknown field found while parsing JSONEachRow format: {"name":"Ann Lee"}: (INCORRECT_DATA)',
        'Code: 27. DB::Exception: Row 1: Column 0, name: timestamp, type: DateTime64(3), parsed text: "Ann Lee" ERROR (CANNOT_PARSE_INPUT_ASSERTION_FAILED)',
        "Code: 6. DB::Exception: Cannot parse string 'AnnLee' as UInt64: syntax error at begin of string. (CANNOT_PARSE_TEXT)",
        "Code: 27. DB::Exception: Cannot parse input: expected ',' before: 'Ann's \"x\":1}\\n': (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)",
        "Code: 6. DB::Exception: Cannot parse string 'https://example.edu/people/AnnLee' as UInt64: syntax error (CANNOT_PARSE_TEXT)",
    ],
)
def test_scrub_keeps_code_and_reason_drops_row_text(message):
    scrubbed = scrub(message)
    assert "Ann" not in scrubbed and "Lee" not in scrubbed
    assert scrubbed.startswith("Code: ") and "(" in scrubbed and scrubbed.rstrip().endswith(")")


def test_scrub_keeps_object_keys_and_table_names():
    message = "Code: 499. DB::Exception: The specified key does not exist.: while reading 'nothing/here.jsonl' in bucket 'bf-1' (S3_ERROR)"
    assert "nothing/here.jsonl" in scrub(message) and "S3_ERROR" in scrub(message)


def test_errors_stored_before_scrubbing_are_shown_without_row_content(bf_runtime):
    from xolap.backfill.models import BackfillRun
    from xolap.store.db import session_scope

    run = service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/x/*.jsonl")
    legacy = (
        f"DatabaseError: Code: 27. DB::Exception: Cannot parse input: expected '\"' before: '{LEARNER}\"}}\\n': "
        "(while reading the value of key section_id): (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"
    )
    with session_scope(bf_runtime.settings) as session:
        session.get(BackfillRun, run["id"]).error = legacy
    for shown in (service.get_run(bf_runtime, "manual", run["id"]), service.list_runs(bf_runtime)[0]):
        assert LEARNER not in shown["error"] and "section_id" in shown["error"] and "CANNOT_PARSE" in shown["error"]
