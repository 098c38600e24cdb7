"""ETL building blocks without servers: notification parsing, limits from env, insert splitting, tokens, time budget."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from xolap.ingest.etl.batching import EtlLimits, TimeBudget, deduplication_token, segment_identity, split_for_insert
from xolap.ingest.etl.notifications import BadNotification, S3ObjectRef, parse_notification


def s3_event(bucket: str, key: str, event_name: str = "ObjectCreated:Put", etag: str = "abc123") -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": event_name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 12, "eTag": etag},
                },
            }
        ]
    }


def test_raw_s3_event_with_url_encoded_key():
    body = json.dumps(s3_event("lrs", "section/42/video/2026-01-31T09-05-07.1Z_a+b%2Bc%3D.jsonl"))
    assert parse_notification(body) == [
        S3ObjectRef("lrs", "section/42/video/2026-01-31T09-05-07.1Z_a b+c=.jsonl", "abc123", 12)
    ]


def test_sns_wrapped_event():
    envelope = {"Type": "Notification", "MessageId": "m", "Message": json.dumps(s3_event("lrs", "a%20b.jsonl"))}
    assert [r.key for r in parse_notification(json.dumps(envelope))] == ["a b.jsonl"]


def test_bucket_key_body_is_literal():
    assert parse_notification(b'{"bucket": "lrs", "key": "x+y.jsonl"}') == [S3ObjectRef("lrs", "x+y.jsonl")]


def test_eventbridge_object_created():
    body = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "lrs"}, "object": {"key": "k.jsonl", "etag": "e1"}},
    }
    assert parse_notification(json.dumps(body)) == [S3ObjectRef("lrs", "k.jsonl", "e1", None)]


def test_test_event_and_removals_name_nothing():
    assert parse_notification(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "lrs"})) == []
    assert parse_notification(json.dumps(s3_event("lrs", "k", event_name="ObjectRemoved:Delete"))) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "message body is not JSON"),
        ("[1]", "must be a JSON object, got list"),
        ('{"hello": 1}', "not an S3 notification \\(top-level fields: hello\\)"),
        ('{"bucket": "lrs"}', "body: missing or empty 'key'"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "Records\\[0\\]: no 's3' section"),
        (
            '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {}}}]}',
            "Records\\[0\\].s3.object: missing or empty 'key'",
        ),
        ('{"Type": "Notification", "Message": "{oops"}', "SNS Message is not JSON"),
    ],
)
def test_bad_notifications_say_why(body, reason):
    with pytest.raises(BadNotification, match=reason):
        parse_notification(body)


def test_limits_from_env_and_validation():
    limits = EtlLimits.from_env(
        {"XOLAP_ETL_MAX_ROWS_PER_INSERT": "10_000", "XOLAP_ETL_MIN_REMAINING_MS": "0", "OTHER": "x"}
    )
    assert limits.max_rows_per_insert == 10_000 and limits.min_remaining_ms == 0
    assert limits.max_bytes_per_insert == 16 * 1024 * 1024
    with pytest.raises(ValueError, match="XOLAP_ETL_MAX_ROWS_PER_INSERT must be an integer, got 'many'"):
        EtlLimits.from_env({"XOLAP_ETL_MAX_ROWS_PER_INSERT": "many"})
    with pytest.raises(ValueError, match="XOLAP_ETL_MAX_BYTES_PER_INSERT must be an integer >= 1"):
        EtlLimits(max_bytes_per_insert=0)


def test_split_respects_row_and_byte_caps():
    table = pa.table({"payload": pa.array(["x" * 100] * 1000)})
    pieces = list(split_for_insert(table, max_rows=300, max_bytes=10**9))
    assert [(o, t.num_rows) for o, t in pieces] == [(0, 300), (300, 300), (600, 300), (900, 100)]
    per_row = table.nbytes / 1000
    by_bytes = list(split_for_insert(table, max_rows=10**6, max_bytes=int(per_row * 250)))
    assert all(t.nbytes <= per_row * 250 + 8 for _, t in by_bytes)
    assert sum(t.num_rows for _, t in by_bytes) == 1000 and len(by_bytes) >= 4
    assert list(split_for_insert(table.slice(0, 0), 10, 10)) == []


def test_tokens_are_deterministic_and_distinct():
    one = [segment_identity("s3://b/k", "e1", 1, 100)]
    a = deduplication_token(one, 0, 100)
    assert a == deduplication_token([segment_identity("s3://b/k", "e1", 1, 100)], 0, 100)
    others = {
        deduplication_token([segment_identity("s3://b/k", "e2", 1, 100)], 0, 100),  # new object version
        deduplication_token([segment_identity("s3://b/k2", "e1", 1, 100)], 0, 100),
        deduplication_token([segment_identity("s3://b/k", "e1", 101, 200)], 0, 100),
        deduplication_token(one, 50, 50),  # another slice
        deduplication_token(one + [segment_identity("s3://b/j", "e", 1, 5)], 0, 100),  # combined with another object
    }
    assert a not in others and len(others) == 5


def test_time_budget_sources():
    class Context:
        def get_remaining_time_in_millis(self):
            return 1234

    assert TimeBudget.from_context(Context()).remaining_ms() == 1234
    assert TimeBudget.from_context(None).allows(10**9)
    assert not TimeBudget(lambda: 100).allows(101)
