"""An S3 object the SQS worker has already ingested, delivered again (its message's visibility timed out while a big
object was still being inserted, or the delete was lost), records its rejected lines once: its rows were dropped by
the insert token and event_hash, but its ingest_errors rows had no token and were written again on every
delivery, so the admin console listed each bad line once per delivery."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "ingest"))

from test_etl_lambda import (  # noqa: E402
    count,
    etl_env,  # noqa: F401 - the fixture
    jsonl,
    page_viewed,
    processor,
    put,
    s3_event_body,
    sqs_record,
)


def test_a_redelivered_object_records_its_rejected_lines_once(etl_env):  # noqa: F811
    env = etl_env
    key = "section/42/page_viewed/redelivered-with-bad-lines.jsonl"
    put(env, key, jsonl([page_viewed(i) for i in range(6)]) + b"{not json\n[1,2]\n")
    record = sqs_record(s3_event_body(env["bucket"], key), "visibility-timed-out")
    proc = processor(env)
    first = proc.process_records([record])
    second = proc.process_records([record])  # the same message, delivered again
    assert first.failed == second.failed == []
    db = env["settings"].clickhouse_database
    errors = env["client"].query(f"SELECT source_line, reason FROM `{db}`.ingest_errors ORDER BY 1").result_rows
    assert [line for line, _reason in errors] == [7, 8]
    assert count(env) == 6


def test_another_version_of_the_object_records_its_rejected_lines(etl_env):  # noqa: F811
    """A new upload under the same key (another ETag) is another object: its bad lines are recorded again."""
    env = etl_env
    key = "section/42/page_viewed/uploaded-twice.jsonl"
    for version in range(2):
        etag = put(env, key, jsonl([page_viewed(i + 10 * version) for i in range(3)]) + b"{not json\n")
        proc = processor(env)
        report = proc.process_records([sqs_record(s3_event_body(env["bucket"], key, etag), f"v{version}")])
        assert report.failed == []
    db = env["settings"].clickhouse_database
    assert env["client"].query(f"SELECT count() FROM `{db}`.ingest_errors").result_rows == [(2,)]
