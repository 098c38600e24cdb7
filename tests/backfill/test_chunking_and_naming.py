"""Pure parts: chunk planning and globs, key time filters, dedup tokens, input validation, s3() URLs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xolap.backfill.chunk_sql import settings_clause
from xolap.backfill.chunking import Chunk, chunk_glob, dedup_token, key_filter_reason, key_time, plan_chunks
from xolap.backfill.naming import BackfillInputError, check_globs, clickhouse_settings, data_format, target_table
from xolap.backfill.s3paths import object_url, parse_s3_url, redact, s3_function
from xolap.config import load_settings

KEY = "xapi/section/42/video/2026-01-31T09-05-07.123456Z_5f0c.jsonl"


def test_plan_chunks_is_deterministic_and_per_bucket():
    entries = [("b2", "k/1"), ("b1", "x/3"), ("b1", "x/1"), ("b1", "x/2"), ("b1", "x/1")]
    chunks = plan_chunks(entries, 2)
    assert chunks == [Chunk(0, "b1", ("x/1", "x/2")), Chunk(1, "b1", ("x/3",)), Chunk(2, "b2", ("k/1",))]
    assert plan_chunks(list(reversed(entries)), 2) == chunks
    assert dedup_token(1, 2, chunks[0]) == dedup_token(1, 2, plan_chunks(entries, 2)[0]) != dedup_token(1, 3, chunks[0])
    with pytest.raises(ValueError):
        plan_chunks(entries, 0)


def test_chunk_glob_uses_the_common_directory():
    assert chunk_glob(["a/b/c1.jsonl"]) == "a/b/c1.jsonl"
    assert chunk_glob(["a/b/c1.jsonl", "a/b/c2.jsonl"]) == "a/b/{c1.jsonl,c2.jsonl}"
    assert chunk_glob(["a/b/c1.jsonl", "a/d/c2.jsonl"]) == "a/{b/c1.jsonl,d/c2.jsonl}"
    assert chunk_glob(["x/1", "y/2"]) == "{x/1,y/2}"


def test_key_time_and_filters():
    assert key_time(KEY) == datetime(2026, 1, 31, 9, 5, 7, 123456, tzinfo=UTC)
    assert key_time("xapi/2026-01-31T09-05-07Z_b.jsonl") == datetime(2026, 1, 31, 9, 5, 7, tzinfo=UTC)
    assert key_time("xapi/readme.txt") is None
    start, end = datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert key_filter_reason(KEY, prefix="xapi/", date_from=start, date_to=end) is None
    assert key_filter_reason(KEY, prefix="other/", date_from=None, date_to=None) == "prefix"
    assert key_filter_reason(KEY, prefix=None, date_from=end, date_to=None) == "before date range"
    assert key_filter_reason(KEY, prefix=None, date_from=None, date_to=start) == "after date range"
    assert (
        key_filter_reason("x/no-time.jsonl", prefix=None, date_from=start, date_to=None)
        == "no timestamp in the file name"
    )
    assert (
        key_filter_reason("x/a,b.jsonl", prefix=None, date_from=None, date_to=None) == "unsupported characters in key"
    )


def test_validation_names_the_field():
    assert target_table(None, "xolap") == "xolap.raw_events" and target_table("t2", "xolap") == "xolap.t2"
    assert target_table("other.t", "xolap") == "other.t"
    for bad in ("a.b.c", "t;drop", "1abc", "a b"):
        with pytest.raises(BackfillInputError, match="target_table"):
            target_table(bad, "xolap")
    assert data_format("parquet") == "Parquet"
    assert clickhouse_settings({"max_threads": "4", "s3_max_connections": 8, "use_cache": True}) == {
        "max_threads": 4,
        "s3_max_connections": 8,
        "use_cache": 1,
    }
    with pytest.raises(BackfillInputError, match="insert_deduplication_token"):
        clickhouse_settings({"insert_deduplication_token": "x"})
    with pytest.raises(BackfillInputError, match="must be a number"):
        clickhouse_settings({"max_threads": [1]})
    assert check_globs("a/**/b-{1..9}-{x,y}?.jsonl")
    for bad, reason in (
        ("a/{1..x}", "range"),
        ("a/{}", "empty"),
        ("a/}", "without"),
        ("a/{{b}}", "nested"),
        ("a/'x", "quotes"),
    ):
        with pytest.raises(BackfillInputError, match=reason):
            check_globs(bad)
    assert settings_clause({"a": 1, "b": "x'y"}) == " SETTINGS a = 1, b = 'x\\'y'"


def test_s3_urls_and_credentials():
    moto = load_settings(
        s3_endpoint_url="http://127.0.0.1:9000/", aws_access_key_id="AK", aws_secret_access_key="SECRET"
    )
    assert parse_s3_url("s3://bucket/a/**").bucket == "bucket"
    assert parse_s3_url("http://127.0.0.1:9000/bucket/a/b.jsonl").key == "a/b.jsonl"
    assert parse_s3_url("https://bkt.s3.us-east-1.amazonaws.com/a/b").bucket == "bkt"
    with pytest.raises(BackfillInputError, match="s3://"):
        parse_s3_url("ftp://x/y")
    with pytest.raises(BackfillInputError, match="bucket"):
        parse_s3_url("s3://b/x")
    assert object_url(moto, "bucket", "a/b") == "http://127.0.0.1:9000/bucket/a/b"
    aws = load_settings(aws_region="eu-west-1")
    assert object_url(aws, "bucket", "a/b") == "https://bucket.s3.eu-west-1.amazonaws.com/a/b"
    assert s3_function(moto, "u", "Parquet") == "s3('u', 'AK', 'SECRET', 'Parquet')"
    assert s3_function(aws, "u", "LineAsString", "line String") == "s3('u', 'LineAsString', 'line String')"
    assert redact(moto, "failed with SECRET in it") == "failed with **** in it"
