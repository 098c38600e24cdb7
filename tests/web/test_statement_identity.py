"""One statement, one row: the same 100 statements through every ingest path (files through both engines, a folder,
gzip, an S3 object, the ETL Lambda, the backfill's SQL, and the statements API as pretty-printed single objects, an
array and loosely spaced JSONL) are stored once; a file line keeps the hash of its bytes as stored (Torus's rule)."""

from __future__ import annotations

import gzip
import json
import random
import uuid

import orjson
import pytest
from fastapi.testclient import TestClient

from xolap.generator.generate import generate
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.etl.batching import EtlLimits
from xolap.ingest.etl.handler import EtlProcessor
from xolap.ingest.paths import ingest_paths
from xolap.web.app import create_app
from xolap.xapi.identity import statement_line
from xolap.xapi.rows import line_hash
from xolap.xapi.sql import insert_select_sql, quote

STATEMENTS = [orjson.dumps(g.statement) for g in generate(3, 100)]  # compact, as Torus writes its bundles


def loosen(line: bytes, after: bytes = b" ") -> bytes:
    """The same JSON text with whitespace around every structural character outside strings."""
    assert b'\\"' not in line
    parts = line.split(b'"')
    for i in range(0, len(parts), 2):
        part = parts[i]
        for char in (b":", b",", b"{", b"["):
            part = part.replace(char, char + after)
        for char in (b"}", b"]"):
            part = part.replace(char, after + char)
        parts[i] = part
    return b'"'.join(parts)


def jsonl(lines: list[bytes], end: bytes = b"\n") -> bytes:
    return b"".join(line + end for line in lines)


def _counts(runtime) -> tuple[int, int, int]:
    db = runtime.settings.clickhouse_database
    query = f"SELECT count(), uniqExact(event_hash) FROM `{db}`.raw_events FINAL"
    final, distinct = runtime.clickhouse().query(query).result_rows[0]
    raw = runtime.clickhouse().query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0]
    return final, distinct, raw


def test_the_same_statements_through_every_path_are_stored_once(runtime, aws_settings, tmp_path):
    settings = aws_settings.model_copy(update={"clickhouse_database": runtime.settings.clickhouse_database})
    runtime.settings = runtime.settings.model_copy(update={"s3_endpoint_url": aws_settings.s3_endpoint_url})
    client = runtime.clickhouse()
    half = len(STATEMENTS) // 2
    compact = tmp_path / "compact.jsonl"
    compact.write_bytes(jsonl(STATEMENTS))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(jsonl(STATEMENTS[:half]))
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(jsonl(STATEMENTS[half:], b"\r\n")))
    zipped = tmp_path / "compact.jsonl.gz"
    zipped.write_bytes(gzip.compress(jsonl(STATEMENTS)))
    runs = [
        ([str(compact)], False),
        ([str(compact)], True),
        ([str(folder)], None),
        ([str(zipped)], True),
        ([str(zipped)], False),
    ]
    for paths, use_sql in runs:
        summary = ingest_paths(client, settings, paths, use_sql=use_sql)
        assert (summary.rows, summary.rejected, summary.failures) == (100, 0, []), (paths, use_sql)
    assert _counts(runtime)[:2] == (100, 100)

    s3 = aws_client(settings, "s3")
    bucket = f"identity-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="cli/compact.jsonl", Body=jsonl(STATEMENTS))
    assert ingest_paths(client, settings, [f"s3://{bucket}/cli/compact.jsonl"]).rows == 100

    key = "section/1/page_viewed/bundle.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(STATEMENTS, b"\r\n"))
    processor = EtlProcessor(settings, client, s3=s3, sqs=aws_client(settings, "sqs"), limits=EtlLimits())
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
            }
        ]
    }
    record = {
        "messageId": "m1",
        "receiptHandle": "rh",
        "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }
    report = processor.process_records([record])
    assert report.failed == [] and report.rows == 100

    api = TestClient(create_app(runtime))
    auth = {"Authorization": f"Bearer {runtime.admin_token}"}
    pretty = [orjson.dumps(orjson.loads(s), option=orjson.OPT_INDENT_2) for s in STATEMENTS]
    for body in pretty[:half]:
        assert api.post("/api/v1/statements", content=b"\n" + body + b"\n", headers=auth).json()["accepted"] == 1
    array = b"[\n" + b" ,\n".join(pretty[half:]) + b"\n]"
    assert api.post("/api/v1/statements", content=array, headers=auth).json()["accepted"] == len(STATEMENTS) - half
    assert (
        api.post(
            "/api/v1/statements", content=orjson.dumps([orjson.loads(s) for s in STATEMENTS]), headers=auth
        ).json()["accepted"]
        == 100
    )
    lines = jsonl([loosen(s) for s in STATEMENTS])
    assert (
        api.post("/api/v1/statements", content=lines, headers=auth | {"Content-Type": "application/x-ndjson"}).json()[
            "accepted"
        ]
        == 100
    )

    backfill_file = tmp_path / "bundle.jsonl"  # the backfill reads each object's text with JSONAsString
    backfill_file.write_bytes(jsonl(STATEMENTS))
    db = runtime.settings.clickhouse_database
    source = f"file({quote(str(backfill_file))}, 'JSONAsString', 'line String')"
    client.command(insert_select_sql(f"`{db}`.raw_events", source, source_file_expr="'backfill'"))

    final, distinct, raw = _counts(runtime)
    assert (final, distinct) == (100, 100) and raw >= 100  # each path reported its 100 rows inserted (above)
    hashes = {row[0] for row in client.query(f"SELECT event_hash FROM `{db}`.raw_events").result_rows}
    import hashlib

    assert hashes == {hashlib.sha256(s).hexdigest() for s in STATEMENTS}  # Torus's compact lines keep their hash


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([True, False, None])
    if kind == 1:
        return rng.choice([0, -7, 12345678901234, 1.5, -0.25, 1e-7, 3e20])
    if kind in (2, 3, 4, 5):
        alphabet = [
            " ",
            ",",
            ":",
            "{",
            "}",
            "[",
            "]",
            '"',
            "\\",
            "\t",
            "\n",
            "é",
            "x",
            "1",
            "e",
            "l",
            "t",
            "/",
            "\u2028",
        ]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind in (6, 7):
        return {
            _random_value(rng, 3) if isinstance(_random_value(rng, 3), str) else f"k{i}": _random_value(rng, depth + 1)
            for i in range(rng.randrange(4))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _formats(value) -> list[bytes]:
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return [
        compact,
        json.dumps(value, separators=(", ", ": "), ensure_ascii=False).encode(),
        json.dumps(value, separators=(" ,", " : "), ensure_ascii=True).encode(),
        (" " + json.dumps(value, indent=2, ensure_ascii=False) + "\t").encode(),
        json.dumps(value, indent="\t", separators=(" ,\r\n", ":\t")).encode(),
    ]


def test_statement_line_removes_only_the_whitespace_outside_strings():
    """Random JSON (strings full of structural characters, quotes and escapes) in many formats: the API's line is
    the whitespace-free text, the same for every format with the same escapes, and a compact text is left alone."""
    rng = random.Random(11)
    for _ in range(300):
        value = {"id": _random_value(rng), "actor": _random_value(rng), "n": _random_value(rng)}
        formats = _formats(value)
        assert statement_line(formats[0]) is formats[0]
        for text in formats:
            expected = json.dumps(
                json.loads(text), separators=(",", ":"), ensure_ascii=b"\\u00e9" in text or b"\\u2028" in text
            ).encode()
            assert statement_line(text) == expected, text


# Torus's own ETL fixture writes its attribution objects with ", " between keys: Torus hashes the line as it is.
TORUS_SPACED = (
    b'{"timestamp":"2026-07-14T12:00:00Z","result":{"score":{"max":1,"min":0,"raw":1.0}},"context":{"extensions":'
    b'{"http://oli.cmu.edu/extensions/experiment_attributions":[{"role":"reward", "experiment_id":101, "key":"k"}],'
    b'"http://oli.cmu.edu/extensions/part_attempt_guid":"part-guid","http://oli.cmu.edu/extensions/part_id":"part-1",'
    b'"http://oli.cmu.edu/extensions/activity_id":606,"http://oli.cmu.edu/extensions/publication_id":3001,'
    b'"http://oli.cmu.edu/extensions/section_id":2001,"http://oli.cmu.edu/extensions/project_id":1001}},'
    b'"object":{"definition":{"name":{"en-US":"Part 1"},"type":"http://adlnet.gov/expapi/activities/question"},'
    b'"id":"https://proton.oli.cmu.edu/parts/part-1"},"verb":{"display":{"en-US":"completed"},'
    b'"id":"http://adlnet.gov/expapi/verbs/completed"},"actor":{"objectType":"Agent","account":{"name":"123",'
    b'"homePage":"https://proton.oli.cmu.edu"}}}'
)


@pytest.mark.parametrize("use_sql", [False, True])
def test_a_file_line_keeps_the_hash_of_its_bytes_as_torus_does(runtime, tmp_path, use_sql):
    path = tmp_path / "torus.jsonl"
    path.write_bytes(TORUS_SPACED + b"\n")
    summary = ingest_paths(runtime.clickhouse(), runtime.settings, [str(path)], use_sql=use_sql)
    assert (summary.rows, summary.rejected) == (1, 0)
    db = runtime.settings.clickhouse_database
    stored = runtime.clickhouse().query(f"SELECT event_hash FROM `{db}`.raw_events").result_rows
    assert stored == [(line_hash(TORUS_SPACED),)] and line_hash(TORUS_SPACED) != line_hash(statement_line(TORUS_SPACED))


@pytest.mark.parametrize("body", [b'{"a": tru e}', b'{"actor" : 1, "verb" : {"id" : "x"}}  \n {"b": nul l}'])
def test_identity_never_turns_a_bad_line_into_a_good_one(runtime, body):
    api = TestClient(create_app(runtime))
    answer = api.post("/api/v1/statements", content=body, headers={"Authorization": f"Bearer {runtime.admin_token}"})
    assert answer.status_code == 422 and answer.json()["accepted"] == 0
