"""Hostile input files: huge lines and gzip bombs cost bounded time and memory in both engines, and the good
lines and files around them still go in."""

from __future__ import annotations

import gzip
import io
import time
import zlib
from pathlib import Path

import orjson
import pytest

from timing import collector_on_new_objects_only
from xolap.generator.generate import generate
from xolap.ingest import pipeline
from xolap.ingest.limits import IngestLimits, OversizeLine
from xolap.ingest.paths import ingest_paths
from xolap.ingest.pipeline import DecompressionLimitError, ingest_bytes, read_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
TORUS = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()


def _count(client, settings, table: str = "raw_events FINAL") -> int:
    return client.query(f"SELECT count() FROM `{settings.clickhouse_database}`.{table}").result_rows[0][0]


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory) -> Path:
    """About 1 MB of gzip holding one line of 1 GiB (the issue's file)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.jsonl.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a" * (1 << 20)
    with path.open("wb") as out:
        out.write(packer.compress(b'{"actor": "'))
        for _ in range(1024):
            out.write(packer.compress(block))
        out.write(packer.compress(b'"}\n'))
        out.write(packer.flush())
    assert path.stat().st_size < 2 * 1024 * 1024
    return path


def test_splitting_a_huge_line_takes_linear_time(monkeypatch):
    """A 32 MiB line read 16 KiB at a time: re-copying the pending partial line on every read is 2,048 copies
    of up to 32 MiB (tens of seconds); joining the pieces once is 32 MiB of copying."""
    monkeypatch.setattr(pipeline, "READ_CHUNK", 16 * 1024)
    line = b'{"x":"' + b"y" * (32 * 1024 * 1024) + b'"}'
    with collector_on_new_objects_only():
        started = time.thread_time()  # this thread's CPU: the copying done, not how busy the machine is (3.8 s wall)
        got = list(
            read_lines(
                io.BytesIO(TORUS[0] + b"\n" + line + b"\n" + TORUS[1]),
                "big.jsonl",
                IngestLimits(max_line_bytes=64 << 20),
            )
        )
        spent = time.thread_time() - started
    assert spent < 3, f"{spent:.1f} s CPU"
    assert [n for n, _ in got] == [1, 2, 3] and got[1][1] == line and got[2][1] == TORUS[1]


@pytest.mark.parametrize("chunk", [5, 7, 1 << 20])
def test_a_line_over_the_limit_is_its_head_and_size_the_others_are_intact(monkeypatch, chunk):
    monkeypatch.setattr(pipeline, "READ_CHUNK", chunk)
    long = b'{"big": "' + b"z" * 3000 + b'"}'
    data = b"\n".join([TORUS[0], long, b"", long + b"\r", TORUS[1][:50], TORUS[2]]) + b"\n" + long
    limit = max(len(line) for line in TORUS[:3]) + 5
    got = list(read_lines(data, "f.jsonl", IngestLimits(max_line_bytes=limit)))
    assert [n for n, _ in got] == [1, 2, 3, 4, 5, 6]
    assert got[0][1] == TORUS[0] and got[3][1] == TORUS[1][:50] and got[4][1] == TORUS[2]
    for _number, line in (got[1], got[2], got[5]):
        assert isinstance(line, OversizeLine) and line.startswith(b'{"big": "zzz') and line.size >= len(long)
        assert line.reason == f"line is {line.size:,} bytes, over the limit of {limit:,}"


def test_an_oversize_line_is_a_line_error_with_its_reason_and_the_file_goes_in(ch_db):
    client, settings = ch_db
    settings = settings.model_copy(update={"ingest_max_line_bytes": 4096})
    data = b"\n".join([TORUS[0], b'{"pad": "' + b"p" * 10_000 + b'"}', TORUS[1], TORUS[2]]) + b"\n"
    report = ingest_bytes(client, settings, data, source_file="s3://b/k.jsonl", ingest_path="test")
    assert (report.rows, report.rejected) == (3, 1)
    error = report.errors[0]
    assert (error.source_file, error.source_line, error.reason) == (
        "s3://b/k.jsonl",
        2,
        "line is 10,011 bytes, over the limit of 4,096",
    )
    stored = client.query(
        f"SELECT source_line, reason, length(raw_line) FROM `{settings.clickhouse_database}`.ingest_errors"
    ).result_rows
    assert stored == [(2, "line is 10,011 bytes, over the limit of 4,096", 10_011)]


def test_gzip_expanding_past_the_size_limit_is_refused_naming_the_file():
    data = gzip.compress(b"\n".join(TORUS) + b"\n" + b" " * (3 << 20))
    limits = IngestLimits(max_decompressed_bytes=2 << 20)
    with pytest.raises(
        DecompressionLimitError, match=r"^s3://b/k\.jsonl\.gz: refused: gzip content expands past 2,097,152 bytes"
    ):
        list(read_lines(data, "s3://b/k.jsonl.gz", limits))
    assert len(list(read_lines(data, "ok", IngestLimits()))) == len(TORUS)


def test_gzip_expanding_past_the_ratio_is_refused():
    data = gzip.compress(b"\n".join(TORUS) + b"\n" + b"\n" * (8 << 20))
    with pytest.raises(DecompressionLimitError, match=r"expands more than 100x"):
        list(read_lines(data, "k.jsonl.gz", IngestLimits(ratio_floor_bytes=1 << 20)))
    statements = [orjson.dumps(g.statement) for g in generate(1, 5000)]
    normal = gzip.compress(b"\n".join(statements))  # generated Torus statements: about 20x
    assert len(list(read_lines(normal, "k.jsonl.gz", IngestLimits(ratio_floor_bytes=1 << 20)))) == len(statements)


@pytest.mark.parametrize("engine", ["python", "sql"])
def test_a_gzip_bomb_is_refused_quickly_and_the_other_files_go_in(ch_db, tmp_path, gzip_bomb, engine):
    client, settings = ch_db
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(TORUS) + b"\n")
    started = time.perf_counter()
    summary = ingest_paths(client, settings, [str(gzip_bomb), str(good)], use_sql=engine == "sql")
    assert time.perf_counter() - started < 30
    assert (summary.files, summary.rows) == (1, len(TORUS))
    assert [f.source_file for f in summary.failures] == [str(gzip_bomb)]
    assert "refused: gzip content expands more than 100x" in summary.failures[0].message
    assert _count(client, settings) == len(TORUS)


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_sql_engine_rejects_an_oversize_line_like_the_python_engine(ch_db, tmp_path, gzipped):
    client, settings = ch_db
    settings = settings.model_copy(update={"ingest_max_line_bytes": 4096})
    data = b"\n".join([TORUS[0], b"", b'{"pad": "' + b"p" * 10_000 + b'"}', TORUS[1], TORUS[2]]) + b"\n"
    path = tmp_path / ("f.jsonl.gz" if gzipped else "f.jsonl")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    reports = {}
    for engine in ("sql", "python"):
        summary = ingest_paths(client, settings, [str(path)], use_sql=engine == "sql")
        reports[engine] = (
            summary.rows,
            summary.rejected,
            [(e.source_line, e.reason) for e in summary.errors],
            summary.failures,
        )
    assert reports["sql"] == reports["python"] == (3, 1, [(2, "line is 10,011 bytes, over the limit of 4,096")], [])
    assert _count(client, settings) == 3


@pytest.mark.parametrize("scan_chunk", [3, 16, 1000])
def test_the_oversize_scan_agrees_with_the_line_lengths(monkeypatch, tmp_path, scan_chunk):
    import random

    from xolap.ingest import files

    monkeypatch.setattr(files, "SCAN_CHUNK", scan_chunk)
    rng = random.Random(7)
    path = tmp_path / "lines.jsonl"
    for _ in range(300):
        lengths = [rng.choice([0, 1, 5, 39, 40, 41, 80]) for _ in range(rng.randint(1, 12))]
        data = b"\n".join(b"x" * n for n in lengths) + rng.choice([b"", b"\n"])
        path.write_bytes(data)
        assert files.has_oversize_line(path, False, IngestLimits(max_line_bytes=40)) == (max(lengths) > 40), lengths


def test_the_etl_refuses_a_bomb_once_and_rejects_an_oversize_line(ch_db, aws_settings):
    """Through the ETL Lambda: a gzip bomb is a preparation failure naming the file (to the DLQ when configured);
    a line over XOLAP_INGEST_MAX_LINE_BYTES is a line error and the object's other lines go in."""
    import json
    import uuid

    from xolap.ingest.aws_clients import aws_client
    from xolap.ingest.etl.batching import EtlLimits
    from xolap.ingest.etl.handler import EtlProcessor

    client, ch_settings = ch_db
    settings = aws_settings.model_copy(
        update={
            "clickhouse_database": ch_settings.clickhouse_database,
            "ingest_max_line_bytes": 4096,
            "ingest_max_decompressed_bytes": 1 << 20,
        }
    )
    s3 = aws_client(settings, "s3")
    bucket = f"hostile-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="section/1/x/bomb.jsonl.gz", Body=gzip.compress(b"\n".join(TORUS) + b"\n" + b" " * (4 << 20))
    )
    s3.put_object(
        Bucket=bucket,
        Key="section/1/x/long.jsonl",
        Body=b"\n".join([TORUS[0], b'{"p": "' + b"p" * 9000 + b'"}', TORUS[1]]),
    )

    def record(key: str) -> dict:
        event = {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
                }
            ]
        }
        return {
            "messageId": key,
            "receiptHandle": "rh",
            "body": json.dumps(event),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
            "awsRegion": "us-east-1",
        }

    processor = EtlProcessor(settings, client, s3=s3, sqs=aws_client(settings, "sqs"), limits=EtlLimits())
    report = processor.process_records([record("section/1/x/bomb.jsonl.gz"), record("section/1/x/long.jsonl")])
    assert report.rows == 2 and report.rejected == 1 and report.failed == ["section/1/x/bomb.jsonl.gz"]
    bomb = report.outcomes[0]
    assert f"s3://{bucket}/section/1/x/bomb.jsonl.gz: refused: gzip content expands past 1,048,576 bytes" in bomb.reason
    db = settings.clickhouse_database
    errors = client.query(
        f"SELECT source_line, reason FROM `{db}`.ingest_errors WHERE source_file LIKE '%long.jsonl'"
    ).result_rows
    assert errors == [(2, "line is 9,009 bytes, over the limit of 4,096")]
    assert _count(client, settings) == 2
