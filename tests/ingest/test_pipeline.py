"""The shared pipeline: reading JSONL(.gz), mapping to Arrow, writing raw_events and ingest_errors."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest import pipeline
from xolap.ingest.pipeline import (
    ARROW_SCHEMA,
    EventWriter,
    NotJsonlError,
    batch_token,
    ingest_bytes,
    map_lines,
    read_lines,
)
from xolap.xapi.identity import statement_hash
from xolap.xapi.rows import line_hash

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
TORUS = (FIXTURES / "torus_statements.jsonl").read_bytes()


def test_read_lines_numbers_non_empty_lines_and_strips_line_endings():
    data = b'\n{"a":1}\r\n   \n{"b":2}\n\t\n{"c":3}'
    assert list(read_lines(data, "x")) == [(1, b'{"a":1}'), (2, b'{"b":2}'), (3, b'{"c":3}')]


@pytest.mark.parametrize("last", [False, True])
def test_a_blank_line_is_one_of_ascii_whitespace_only(last):
    """Blank as bytes.strip() sees it (split_lines tests it without copying the line): every other byte makes a
    line, which the mapping then rejects as not JSON with its number."""
    kept = [bytes([b]) for b in range(1, 128) if b not in b" \t\n\r\x0b\x0c"] + ["\x85\xa0".encode()]
    blank = [b" \t\x0b\x0c", b"\x0b", b"\x0c \r"]
    lines = [*blank, *kept] if last else [*kept, *blank]
    got = [line for _, line in read_lines(b"\n".join(lines), "x")]
    assert got == [line[:-1] if line.endswith(b"\r") else line for line in kept]


def test_read_lines_from_stream_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(pipeline, "READ_CHUNK", 7)
    lines = TORUS.splitlines()
    got = list(read_lines(io.BytesIO(TORUS), "x"))
    assert [line for _, line in got] == lines and [n for n, _ in got] == list(range(1, len(lines) + 1))


@pytest.mark.parametrize("as_stream", [False, True])
def test_gzip_is_detected_by_magic_bytes(as_stream):
    data = gzip.compress(TORUS)
    source = io.BytesIO(data) if as_stream else data
    assert [line for _, line in read_lines(source, "bundle.jsonl.gz")] == TORUS.splitlines()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"PAR1\x00\x01\x02binary\x00" * 10, "binary content"),
        (gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, mtime=0), "gzip content is binary"),
        (b"\x1f\x8b\x08\x00garbage that is not deflate" * 5, "broken gzip stream"),
        (bytes(range(128, 256)) * 40, "binary content"),
    ],
)
def test_not_jsonl_files_get_one_clear_error_naming_the_file(data, words):
    with pytest.raises(NotJsonlError) as caught:
        list(read_lines(data, "s3://bucket/weird.jsonl"))
    assert str(caught.value).startswith("s3://bucket/weird.jsonl: not a JSONL file") and words in str(caught.value)


def test_truncated_gzip_is_not_jsonl():
    data = gzip.compress(TORUS * 50)[:-200]
    with pytest.raises(NotJsonlError, match="broken gzip"):
        list(read_lines(data, "cut.jsonl.gz"))


def test_text_that_is_not_json_is_line_errors_not_a_file_error():
    batch = map_lines(read_lines(b"hello\nworld\n", "notes.txt"), source_file="notes.txt", source_etag=None)
    assert [(e.source_line, e.reason) for e in batch.errors] == [(1, "not valid JSON"), (2, "not valid JSON")]


def test_map_lines_builds_a_table_typed_to_raw_events():
    batch = map_lines(read_lines(TORUS, "t"), source_file="s3://b/t.jsonl", source_etag="etag9")
    assert batch.table.schema == ARROW_SCHEMA and batch.table.column_names == list(MAPPED_COLUMN_NAMES)
    assert batch.table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert batch.lines == batch.table.num_rows == 11 and batch.errors == []
    first = TORUS.splitlines()[0]  # written with spaces after ':' and ',': a file line is hashed as stored (Torus)
    assert batch.table.column("event_hash").to_pylist()[0] == line_hash(first) != statement_hash(first)
    assert set(batch.table.column("source_etag").to_pylist()) == {"etag9"}


def test_batch_token_is_deterministic_and_content_based():
    a = map_lines(read_lines(TORUS, "t"), source_file="t", source_etag=None).table
    b = map_lines(read_lines(TORUS, "t"), source_file="t", source_etag=None).table
    assert batch_token(a) == batch_token(b) != batch_token(a.slice(0, 5))


def test_ingest_bytes_writes_rows_with_provenance(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    data = gzip.compress(b"\n" + TORUS.replace(b"\n", b"\r\n", 2))
    report = ingest_bytes(
        client, settings, data, source_file="s3://xb/section/12/video/a.jsonl.gz", source_etag="e-1", ingest_path="etl"
    )
    assert (report.rows, report.rejected, report.errors) == (11, 0, [])
    rows = client.query(
        f"SELECT source_line, source_file, source_etag, event_hash, event_type FROM `{db}`.raw_events ORDER BY source_line"
    ).result_rows
    assert [r[0] for r in rows] == list(range(1, 12))
    assert {(r[1], r[2]) for r in rows} == {("s3://xb/section/12/video/a.jsonl.gz", "e-1")}
    assert rows[0][3] == line_hash(TORUS.splitlines()[0])
    assert [r[4] for r in rows][:5] == ["video"] * 4 + ["part_attempt"]
    titles = client.query(f"SELECT kind, title FROM `{db}`.content_titles FINAL ORDER BY kind, title").result_rows
    assert ("page", "Stoichiometry") in titles and ("video", "Intro to Chemistry") in titles


def test_event_writer_inserts_in_bounded_batches(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    table = map_lines(read_lines(TORUS, "t"), source_file="t", source_etag=None).table
    calls = []
    original = client.insert_arrow

    def spy(name, piece, **kwargs):
        calls.append((piece.num_rows, kwargs["settings"]["insert_deduplication_token"]))
        return original(name, piece, **kwargs)

    client.insert_arrow = spy
    try:
        assert EventWriter(client, settings, "test", batch_rows=4).write(table) == 11
    finally:
        del client.insert_arrow
    assert [n for n, _ in calls] == [4, 4, 3] and len({t for _, t in calls}) == 3
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == 11


def test_reingesting_the_same_file_counts_each_event_once(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    for _ in range(2):
        ingest_bytes(client, settings, TORUS, source_file="f.jsonl", ingest_path="test")
    assert client.query(f"SELECT count() FROM `{db}`.raw_events FINAL").result_rows[0][0] == 11


def test_a_latin1_line_is_a_line_error_not_a_file_error():
    data = (
        TORUS.splitlines()[0] + b"\n" + '{"name": "Jürgen"}'.encode("latin-1") + b"\n" + TORUS.splitlines()[1] + b"\n"
    )
    batch = map_lines(read_lines(data, "mixed.jsonl"), source_file="mixed.jsonl", source_etag=None)
    assert batch.table.num_rows == 2 and [(e.source_line, e.reason) for e in batch.errors] == [(2, "not valid JSON")]


def test_a_retried_batch_is_not_inserted_twice(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(f"SYSTEM STOP MERGES `{db}`.raw_events")
    table = map_lines(read_lines(TORUS, "t"), source_file="s3://b/t.jsonl", source_etag=None).table
    writer = EventWriter(client, settings, "test")
    writer.write(table)
    writer.write(table)  # a retry after a timeout: same lines, same token
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == 11
    other = map_lines(read_lines(TORUS, "t"), source_file="s3://b/copy.jsonl", source_etag=None).table
    writer.write(other)  # the same lines from another file are a different batch (ReplacingMergeTree collapses them)
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == 22
