"""Torus parity (issue 12, issue 10): the parity corpus maps to Torus's row in both engines, and the engines agree.

tests/fixtures/parity/corpus.jsonl holds Torus's statement shapes and one line per edge class; expected.json the
value Torus's ETL writes for the columns each line is about. Both the Python row builder and the ClickHouse SQL
mapping run over it; every column, warning and experiment attribution must be identical between them.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import struct
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.files import ingest_local_file_sql
from xolap.ingest.pipeline import ingest_bytes, map_lines, read_lines
from xolap.xapi import attributions, torus_json, torus_spellings
from xolap.xapi.sql import STAGED_COLUMNS, quote, staged_select_sql

PARITY = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
CORPUS = PARITY / "corpus.jsonl"
EXPECTED = json.loads((PARITY / "expected.json").read_text())

# Torus's raw_events DDL (priv/clickhouse/migrations: 20260326213833_initialize + 20260820021911 enrollment_id), in order.
TORUS_RAW_EVENTS = [
    "user_id", "home_page", "section_id", "project_id", "publication_id", "enrollment_id", "timestamp", "event_type",
    "verb_id", "page_id", "content_element_id", "video_url", "video_time", "video_length", "video_progress",
    "video_played_segments", "video_seek_from", "video_seek_to", "activity_attempt_guid", "activity_attempt_number",
    "page_attempt_guid", "page_attempt_number", "part_attempt_guid", "part_attempt_number", "activity_id",
    "activity_revision_id", "part_id", "page_sub_type", "score", "out_of", "scaled_score", "success", "completion",
    "response", "feedback", "hints_requested", "attached_objectives", "session_id", "inserted_at", "event_hash",
    "event_version", "source_file", "source_etag", "source_line",
]  # fmt: skip


def _python_engine(path: Path = CORPUS) -> dict[int, dict]:
    """line → {'row': {column: value} | None, 'reason', 'warnings', 'attributions'} from the Python row builder."""
    batch = map_lines(read_lines(path.read_bytes(), "corpus.jsonl"), source_file="corpus.jsonl", source_etag="e1")
    out: dict[int, dict] = {}
    for row in batch.table.to_pylist():
        row["timestamp"] = int(row["timestamp"].timestamp() * 1000)
        out[row["source_line"]] = {"row": row, "reason": "", "warnings": [], "attributions": []}
    for error in batch.errors:
        out[error.source_line] = {"row": None, "reason": error.reason, "warnings": [], "attributions": []}
    for warning in batch.warnings:
        out[warning.source_line]["warnings"].append(warning.reason)
    for found in batch.attributions:
        out[found[attributions.COLUMN_NAMES.index("source_line")]]["attributions"].append(found)
    return out


def _sql_engine(client, path: Path = CORPUS) -> dict[int, dict]:
    """The same from the ClickHouse mapping (staged_select_sql over the file; the corpus has no blank lines)."""
    source = f"file({quote(str(path))}, 'LineAsString', 'line String')"
    cols = ["row_number", *STAGED_COLUMNS, "reason", "warnings", "attributions"]
    result = client.query(f"SELECT {', '.join(cols)} FROM ({staged_select_sql(source)}) ORDER BY row_number")
    out: dict[int, dict] = {}
    for values in result.result_rows:
        got = dict(zip(cols, values, strict=False))
        line = got["row_number"] + 1
        if got["reason"]:
            out[line] = {"row": None, "reason": got["reason"], "warnings": [], "attributions": []}
            continue
        row = {c: got[c] for c in STAGED_COLUMNS}
        row.update(source_file="corpus.jsonl", source_etag="e1", source_line=line)
        row["timestamp"] = int(row["timestamp"].replace(tzinfo=UTC).timestamp() * 1000)
        found = []
        for att in got["attributions"]:
            scope = [att[3 + n] if att[3 + n] is not None else row[c] for n, c in enumerate(attributions.SCOPE_COLUMNS)]
            found.append([row["event_hash"], attributions.attribution_hash(row["event_hash"], att[0]), "corpus.jsonl", "e1", line,
                          row["event_type"], row["timestamp"], *scope, att[1], att[2], *att[3 + len(scope):]])  # fmt: skip
        out[line] = {"row": row, "reason": "", "warnings": list(got["warnings"]), "attributions": found}
    return out


@pytest.fixture(scope="module")
def python_engine() -> dict[int, dict]:
    return _python_engine()


def _expected_value(column: str, value):
    if column == "timestamp":
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    return value


def _check_expected(engine: dict[int, dict], name: str) -> None:
    assert sorted(engine) == [e["line"] for e in EXPECTED], name
    for expect in EXPECTED:
        got = engine[expect["line"]]
        where = f"{name} line {expect['line']}"
        if "rejected" in expect:
            assert got["row"] is None and got["reason"].startswith(expect["rejected"]), (where, got["reason"])
            continue
        assert got["row"] is not None, (where, got["reason"])
        for column, value in expect.get("columns", {}).items():
            assert got["row"][column] == _expected_value(column, value), (where, column, got["row"][column])
        assert got["warnings"] == expect.get("warnings", []), where
        if "attributions" in expect:
            triples = [[a[attributions.COLUMN_NAMES.index(c)] for c in ("attribution_hash", "experiment_role", "attribution_type")]
                       for a in got["attributions"]]  # fmt: skip
            want = [
                [attributions.attribution_hash(got["row"]["event_hash"], k), r, t] for k, r, t in expect["attributions"]
            ]
            assert triples == want, where


def test_python_engine_gives_torus_row_for_every_corpus_line(python_engine):
    _check_expected(python_engine, "python")


def test_sql_engine_gives_torus_row_for_every_corpus_line(ch_db):
    client, _settings = ch_db
    _check_expected(_sql_engine(client), "sql")


def test_both_engines_identical_on_every_column_warning_and_attribution(ch_db, python_engine):
    client, _settings = ch_db
    sql = _sql_engine(client)
    assert sorted(sql) == sorted(python_engine)
    for line, want in python_engine.items():
        got = sql[line]
        if want["row"] is not None:
            diff = {c: (want["row"][c], got["row"][c]) for c in MAPPED_COLUMN_NAMES if want["row"][c] != got["row"][c]}
            assert not diff, (line, diff)
        assert (got["reason"], got["warnings"], got["attributions"]) == (
            want["reason"],
            want["warnings"],
            want["attributions"],
        ), line


def _assert_same(python: dict[int, dict], sql: dict[int, dict]) -> None:
    assert sorted(sql) == sorted(python)
    for line, want in python.items():
        got = sql[line]
        if want["row"] is not None and got["row"] is not None:
            diff = {c: (want["row"][c], got["row"][c]) for c in MAPPED_COLUMN_NAMES if want["row"][c] != got["row"][c]}
            assert not diff, (line, diff)
        assert (got["reason"], got["warnings"], got["attributions"]) == (
            want["reason"],
            want["warnings"],
            want["attributions"],
        ), line


def test_hostile_shapes_map_alike_and_never_crash_the_python_engine(ch_db, tmp_path):
    """Nesting at the parsers' depth limit (with and without an integer beyond 64 bits), a byte-order mark,
    NUL characters, escaped keys: the same row or the same rejection in both engines."""
    client, _settings = ch_db
    head = b'{"actor":{"account":{"name":%s}},"verb":{"id":"v"},"object":{},"timestamp":"2024-01-01T00:00:00Z",'
    lines = [
        head % b'"1"' + b'"result":{"response":' + b"[" * 1022 + b"]" * 1022 + b"}}",
        head % b'"1"' + b'"result":{"response":' + b"[" * 1023 + b"]" * 1023 + b"}}",
        head % b"12345678901234567890123" + b'"result":{"response":' + b"[" * 1015 + b"]" * 1015 + b"}}",
        b"\xef\xbb\xbf" + head % b'"1"' + b'"result":{}}',
        head % b'"a\\u0000b"' + b'"result":{"response":"\\u0000"}}',
        head % b'"1"' + b'"time\\u0073tamp":"2025-01-01T00:00:00Z","result":{}}',
        head % b"-0" + b'"result":{"score":{"raw":-0.0,"max":1E400}}}',
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    python = _python_engine(path)
    _assert_same(python, _sql_engine(client, path))
    assert [python[n]["reason"] for n in (2, 4, 7)] == ["not valid JSON"] * 3
    assert python[3]["row"]["user_id"] == "12345678901234567890123"
    assert python[6]["row"]["timestamp"] == int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)


def test_corpus_is_what_make_corpus_writes(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, str(PARITY / "make_corpus.py")], cwd=tmp_path, check=True)
    for name in ("corpus.jsonl", "expected.json"):
        assert (tmp_path / name).read_bytes() == (PARITY / name).read_bytes(), name


# -- Torus's JSON spelling: the SQL form gives Python's json.dumps bytes on random values --------------------------------


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 7, 2**63 - 1, -(2**63), 2**64 - 1, 10**25])
    if kind == 2:  # any finite double, by its bits
        while True:
            value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(value):
                return value
    if kind == 3:
        return rng.choice([0.5, 1.0, 1e-05, 1e-4, 1e16, 1e21, 9.5e20, 123456.789, 0.1 + 0.2, -2.5e-300, 5e-324])
    if kind in (4, 5):
        alphabet = 'ab "\\/\n\t\x01\x7fé€😀\u2028,:[]{}'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}{rng.choice(['', 'é', ' '])}": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}


def test_torus_spelling_is_the_same_in_both_engines_on_random_values(ch_db, tmp_path):
    client, _settings = ch_db
    rng = random.Random(12)
    values = [_random_value(rng) for _ in range(400)]
    path = tmp_path / "values.jsonl"
    path.write_bytes(b"\n".join(json.dumps({"v": v}).encode() for v in values) + b"\n")
    source = f"file({quote(str(path))}, 'LineAsString', 'line String')"
    spelled = torus_json.dumps_sql("JSONExtractRaw(line, 'v')")
    got = [r[0] for r in client.query(f"SELECT {spelled} FROM {source}").result_rows]
    for line, sql_text in zip(path.read_bytes().splitlines(), got, strict=False):
        assert sql_text == torus_json.dumps(torus_json.loads(line)["v"]), line


def test_torus_spelling_matches_json_dumps_where_the_value_is_exact():
    value = {"t": "Café ✓", "n": [1, 2.5, None, True], "e": 1e22, "s": 1e-05}
    assert torus_json.dumps(value) == json.dumps(value)  # Torus's ETL: json.dumps with its defaults
    assert torus_json.dumps({"whole": 1.0}) == '{"whole": 1}'  # the measured exception (docs/torus-compatibility.md)


# -- raw_events column order and Torus's own Parquet insert ---------------------------------------------------------------


def test_raw_events_columns_are_in_torus_ddl_order_then_xolap_columns(ch_db):
    client, settings = ch_db
    names = [r[0] for r in client.query(
        "SELECT name FROM system.columns WHERE database = {d:String} AND table = 'raw_events' ORDER BY position",
        parameters={"d": settings.clickhouse_database}).result_rows]  # fmt: skip
    assert names[: len(TORUS_RAW_EVENTS)] == TORUS_RAW_EVENTS
    assert names[len(TORUS_RAW_EVENTS) :] == ["statement_id", "object_id", "object_type", "object_name"]


def test_torus_parquet_insert_with_its_column_list_still_goes_in(ch_db):
    """Torus's Lambda: INSERT INTO raw_events (<its columns>) FORMAT Parquet; xolap's inserts by name are unaffected."""
    client, settings = ch_db
    db = settings.clickhouse_database
    columns = [c for c in TORUS_RAW_EVENTS if c not in ("inserted_at", "event_version")]
    line = CORPUS.read_bytes().splitlines()[4]
    row = map_lines(read_lines(line, "x"), source_file="s3://b/k.jsonl", source_etag="e").table.select(columns)
    buffer = io.BytesIO()
    pq.write_table(row, buffer)
    client.raw_insert(f"`{db}`.raw_events", column_names=columns, insert_block=buffer.getvalue(), fmt="Parquet")
    got = client.query(
        f"SELECT event_type, feedback, page_sub_type, video_played_segments, event_hash FROM `{db}`.raw_events"
    ).result_rows
    assert got == [("part_attempt", '{"id": "fb1"}', None, None, hashlib.sha256(line).hexdigest())]


# -- experiment_attributions from every ingest path -------------------------------------------------------------------------


def _attribution_rows(client, db: str) -> list[tuple]:
    cols = ", ".join(attributions.COLUMN_NAMES)
    return client.query(
        f"SELECT {cols} FROM `{db}`.experiment_attributions FINAL ORDER BY source_line, attribution_hash"
    ).result_rows


@pytest.mark.parametrize("engine", ["python", "sql"])
def test_ingest_paths_write_experiment_attributions_with_torus_columns(ch_db, engine):
    client, settings = ch_db
    db = settings.clickhouse_database
    if engine == "python":
        report = ingest_bytes(
            client, settings, CORPUS.read_bytes(), source_file="s3://b/corpus.jsonl", source_etag="e1", ingest_path="t"
        )
    else:
        report = ingest_local_file_sql(
            client, settings, CORPUS, ingest_path="t", source_file="s3://b/corpus.jsonl", source_etag="e1"
        )
    assert report.rejected == 2 and report.warnings == sum(len(e.get("warnings", [])) for e in EXPECTED)
    rows = _attribution_rows(client, db)
    by_line: dict[int, list[tuple]] = {}
    for r in rows:
        by_line.setdefault(r[attributions.COLUMN_NAMES.index("source_line")], []).append(r)
    assert sum(len(e.get("attributions", [])) for e in EXPECTED) == len(rows) == 7
    reward = next(r for r in rows if r[attributions.COLUMN_NAMES.index("experiment_role")] == "reward")
    named = dict(zip(attributions.COLUMN_NAMES, reward, strict=False))
    assert (named["enrollment_id"], named["section_id"], named["reward_value"], named["reward_source"]) == (
        505,
        2001,
        1.0,
        "activity_attempt:full_credit",
    )
    assert (named["experiment_id"], named["condition_code"], named["assignment_scope"], named["raw_event_type"]) == (
        101,
        "a",
        "intervention",
        "part_attempt",
    )
    hashes = {h for (h,) in client.query(f"SELECT event_hash FROM `{db}`.raw_events").result_rows}
    assert {r[0] for r in rows} <= hashes  # every attribution hangs off a stored event
    stored = client.query(
        f"SELECT severity, count() FROM `{db}`.ingest_errors GROUP BY severity ORDER BY severity"
    ).result_rows
    assert stored == [("error", 2), ("warning", report.warnings)]


def test_python_and_sql_paths_store_the_same_attribution_rows(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    ingest_bytes(client, settings, CORPUS.read_bytes(), source_file="f", source_etag="e1", ingest_path="t")
    python = _attribution_rows(client, db)
    client.command(f"TRUNCATE TABLE `{db}`.experiment_attributions")
    ingest_local_file_sql(client, settings, CORPUS, ingest_path="t", source_file="f", source_etag="e1")
    assert _attribution_rows(client, db) == python and len(python) == 7


def test_only_rejected_lines_make_the_ingest_exit_code_3(ch_db, tmp_path):
    from xolap.ingest.paths import EXIT_OK, EXIT_REJECTED, ingest_paths

    client, settings = ch_db
    lines = CORPUS.read_bytes().splitlines()
    warned_only = tmp_path / "warned.jsonl"
    warned_only.write_bytes(
        b"\n".join(line for e, line in zip(EXPECTED, lines, strict=False) if "rejected" not in e) + b"\n"
    )
    summary = ingest_paths(client, settings, [str(warned_only)])
    assert summary.warnings > 0 and summary.rejected == 0 and summary.exit_code == EXIT_OK
    summary = ingest_paths(client, settings, [str(CORPUS)])
    assert summary.rejected == 2 and summary.exit_code == EXIT_REJECTED
    assert orjson.loads(orjson.dumps(summary.as_dict(5)))["warnings"] == summary.warnings


def test_etl_lambda_path_writes_the_same_attributions_and_warnings(ch_db, aws_settings):
    """The ETL (S3 notification → SQS → EtlProcessor) stores what the other paths store for the parity corpus."""
    import uuid

    from xolap.ingest.aws_clients import aws_client
    from xolap.ingest.etl.batching import EtlLimits
    from xolap.ingest.etl.handler import EtlProcessor

    client, ch_settings = ch_db
    db = ch_settings.clickhouse_database
    s3, sqs = aws_client(aws_settings, "s3"), aws_client(aws_settings, "sqs")
    bucket = f"lrs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    settings = aws_settings.model_copy(update={"clickhouse_database": db})
    key = "section/2001/attempt_evaluated/corpus.jsonl"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=CORPUS.read_bytes())["ETag"].strip('"')
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, "eTag": etag}}}  # fmt: skip
    message = {"messageId": "m-1", "receiptHandle": "rh", "body": json.dumps({"Records": [record]}),
               "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}  # fmt: skip
    report = EtlProcessor(settings, client, s3=s3, sqs=sqs, limits=EtlLimits()).process_records([message])
    assert report.failed == [] and report.rejected == 2
    etl_rows = _attribution_rows(client, db)
    assert len(etl_rows) == 7 and {r[2] for r in etl_rows} == {f"s3://{bucket}/{key}"}
    stored = client.query(
        f"SELECT severity, count() FROM `{db}`.ingest_errors GROUP BY severity ORDER BY severity"
    ).result_rows
    assert stored == [("error", 2), ("warning", sum(len(e.get("warnings", [])) for e in EXPECTED))]
    client.command(f"TRUNCATE TABLE `{db}`.experiment_attributions")
    ingest_bytes(
        client, settings, CORPUS.read_bytes(), source_file=f"s3://{bucket}/{key}", source_etag=etag, ingest_path="t"
    )
    assert _attribution_rows(client, db) == etl_rows


def test_health_counts_rejected_lines_not_warnings(ch_db):
    from xolap.analytics.health import ingest_freshness

    client, settings = ch_db
    report = ingest_bytes(client, settings, CORPUS.read_bytes(), source_file="f", source_etag=None, ingest_path="t")
    assert report.warnings > 0
    assert ingest_freshness(client, settings)["rejected_lines_24h"] == report.rejected == 2


def test_a_line_ingested_by_both_engines_is_read_once(ch_db):
    """Issue 10: when the engines mapped a line differently (duplicate keys, a 10^25 id) one hash landed in two
    monthly partitions and FINAL reads returned it twice. Both paths into one table: every hash is read once."""
    client, settings = ch_db
    db = settings.clickhouse_database
    ingest_bytes(client, settings, CORPUS.read_bytes(), source_file="f", source_etag="e1", ingest_path="t")
    ingest_local_file_sql(client, settings, CORPUS, ingest_path="t", source_file="f", source_etag="e1")
    stored, final, hashes = client.query(
        f"SELECT (SELECT count() FROM `{db}`.raw_events), (SELECT count() FROM `{db}`.raw_events FINAL), "
        f"(SELECT uniqExact(event_hash) FROM `{db}`.raw_events)"
    ).result_rows[0]
    assert stored == 2 * hashes and final == hashes == len(EXPECTED) - 2


def test_duplicate_key_inside_json_text_is_the_one_known_engine_difference(ch_db, tmp_path):
    """docs/torus-compatibility.md: a key duplicated inside an object stored as JSON text is written once (the last
    value, as Torus's json.loads keeps it) by the Python engine and twice by the SQL engine (ClickHouse has no
    recursive function to rebuild an object at any depth, and its JSON type sorts keys). Asserted so that either
    engine changing shows here; every other column, and duplicates among the fields read, agree."""
    client, _settings = ch_db
    head = (
        b'{"actor":{"account":{"name":"u1"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},'
        b'"object":{"id":"o"},"timestamp":"2024-01-01T00:00:00Z",'
    )
    ext = b"http://oli.cmu.edu/extensions/feedback"
    lines = [
        head + b'"result":{"score":{"raw":1,"raw":3},"extensions":{"%s":{"a":1,"b":{"x":1,"x":2},"a":2}}}}' % ext,
        head + b'"result":{"extensions":{"%s":[{"k":"first","k":"last"}]}}}' % ext,
    ]
    path = tmp_path / "duplicates.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    python, sql = _python_engine(path), _sql_engine(client, path)
    assert (
        python[1]["row"]["feedback"]
        == '{"a": 2, "b": {"x": 2}}'
        == json.dumps(json.loads(lines[0])["result"]["extensions"][ext.decode()])
    )
    assert sql[1]["row"]["feedback"] == '{"a": 1, "b": {"x": 1, "x": 2}, "a": 2}'
    assert (python[2]["row"]["feedback"], sql[2]["row"]["feedback"]) == (
        '[{"k": "last"}]',
        '[{"k": "first", "k": "last"}]',
    )
    assert python[1]["row"]["score"] == sql[1]["row"]["score"] == 3  # a duplicated field read by the mapping: last wins
    for line in (1, 2):
        same = {c for c in MAPPED_COLUMN_NAMES if python[line]["row"][c] == sql[line]["row"][c]}
        assert set(MAPPED_COLUMN_NAMES) - same == {"feedback"}, line


def test_response_input_falls_through_when_falsy_like_torus_in_both_engines(ch_db, tmp_path):
    """Torus's Lambda stores `response.get("input") or json.dumps(response)`: a falsy input ("", 0, 0.0, false, [],
    {}, null), in any JSON spelling, gives the whole object as JSON text; a truthy one gives the input. Whole floats
    are written as integers (the documented spelling limit: Torus writes 0.0)."""
    client, _settings = ch_db
    line = CORPUS.read_text().splitlines()[4]
    cases = [
        ('{"input":""}', '{"input": ""}'),
        ('{"input":"","files":[]}', '{"input": "", "files": []}'),
        ('{"input":0}', '{"input": 0}'),
        ('{"input":-0}', '{"input": 0}'),
        ('{"input":0.0}', '{"input": 0}'),
        ('{"input":-0.0}', '{"input": 0}'),
        ('{"input":0e5}', '{"input": 0}'),
        ('{"input":false}', '{"input": false}'),
        ('{"input":[ ]}', '{"input": []}'),
        ('{"input":{ }}', '{"input": {}}'),
        ('{"input":null,"a":1}', '{"input": null, "a": 1}'),
        ('{"input":" "}', " "),
        ('{"input":"0"}', "0"),
        ('{"input":1}', "1"),
        ('{"input":"H2O"}', "H2O"),
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text(
        "\n".join(line.replace('"response":{"input":"H2O"}', '"response":' + raw) for raw, _ in cases) + "\n"
    )
    python, sql = _python_engine(path), _sql_engine(client, path)
    _assert_same(python, sql)
    assert [python[n + 1]["row"]["response"] for n in range(len(cases))] == [want for _, want in cases]
    assert not any(python[n + 1]["warnings"] for n in range(len(cases)))


def test_attribution_algorithm_falls_back_to_assigned_by_policy_like_torus_in_both_engines(ch_db, tmp_path):
    """Torus's Lambda writes `algorithm or assigned_by_policy` (its condition-assigned statements carry both; a
    falsy algorithm falls through, the fallback taken as it is)."""
    client, _settings = ch_db
    line = CORPUS.read_text().splitlines()[4]
    cases = [
        ({"algorithm": "thompson", "assigned_by_policy": "weighted_random"}, "thompson"),
        ({"assigned_by_policy": "weighted_random"}, "weighted_random"),
        ({"algorithm": "", "assigned_by_policy": "weighted_random"}, "weighted_random"),
        ({"algorithm": None, "assigned_by_policy": "weighted_random"}, "weighted_random"),
        ({"algorithm": 0, "assigned_by_policy": "weighted_random"}, "weighted_random"),
        ({"algorithm": "", "assigned_by_policy": ""}, None),  # an empty string is NULL (Torus's _safe_str)
        ({"algorithm": ""}, None),
        ({"assigned_by_policy": None}, None),
        ({}, None),
    ]
    lines = []
    for extra, _want in cases:
        att = {"key": "k-1", "role": "assignment", "attribution_type": "assignment", **extra}
        ext = json.dumps({ATTRIBUTIONS_KEY: [att]}, separators=(",", ":"))[1:-1]
        lines.append(
            line.replace(
                '"http://oli.cmu.edu/extensions/section_id"', ext + ',"http://oli.cmu.edu/extensions/section_id"', 1
            )
        )
    path = tmp_path / "algorithms.jsonl"
    path.write_text("\n".join(lines) + "\n")
    python, sql = _python_engine(path), _sql_engine(client, path)
    _assert_same(python, sql)
    column = attributions.COLUMN_NAMES.index("algorithm")
    assert [python[n + 1]["attributions"][0][column] for n in range(len(cases))] == [want for _, want in cases]
    assert not any(python[n + 1]["warnings"] for n in range(len(cases)))


ATTRIBUTIONS_KEY = "http://oli.cmu.edu/extensions/experiment_attributions"


def test_attribution_strings_are_stripped_like_torus_in_both_engines(ch_db, tmp_path):
    """Torus's Lambda writes every attribution string through `_safe_str`: Python's str.strip() (every Unicode
    whitespace character), an empty result NULL; the attribution_hash is taken over the stripped key. Characters
    inside the value and characters that are not whitespace (zero-width and Mongolian vowel separator, BOM) stay."""
    client, _settings = ch_db
    line = CORPUS.read_text().splitlines()[4]
    all_spaces = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    cases = [
        ({"condition_code": " b "}, "condition_code", "b"),
        ({"condition_code": ""}, "condition_code", None),
        ({"policy_version": "  "}, "policy_version", None),
        ({"reward_source": all_spaces + "a b" + all_spaces}, "reward_source", "a b"),
        (
            {"disposition": "\u180e\ufeff\u200bx\u200b\ufeff\u180e"},
            "disposition",
            "\u180e\ufeff\u200bx\u200b\ufeff\u180e",
        ),
        ({"experiment_uuid": "\u3000u-1\u2003"}, "experiment_uuid", "u-1"),
        ({"assignment_key": 12}, "assignment_key", "12"),
        ({"algorithm": " ", "assigned_by_policy": " w "}, "algorithm", None),
        ({"intervention_key": "\x85k\xa0"}, "intervention_key", "k"),
    ]
    lines = []
    for extra, _column, _want in cases:
        att = {"key": "k-1", "role": "assignment", "attribution_type": "assignment", **extra}
        ext = json.dumps({ATTRIBUTIONS_KEY: [att]}, separators=(",", ":"))[1:-1]
        lines.append(
            line.replace(
                '"http://oli.cmu.edu/extensions/section_id"', ext + ',"http://oli.cmu.edu/extensions/section_id"', 1
            )
        )
    spaced_key = {"key": "\t k-1 \u2028", "role": "assignment", "attribution_type": "assignment"}
    ext = json.dumps({ATTRIBUTIONS_KEY: [spaced_key]}, separators=(",", ":"))[1:-1]
    lines.append(
        line.replace(
            '"http://oli.cmu.edu/extensions/section_id"', ext + ',"http://oli.cmu.edu/extensions/section_id"', 1
        )
    )
    path = tmp_path / "strings.jsonl"
    path.write_text("\n".join(lines) + "\n")
    python, sql = _python_engine(path), _sql_engine(client, path)
    _assert_same(python, sql)
    got = [python[n + 1]["attributions"][0][attributions.COLUMN_NAMES.index(c)] for n, (_e, c, _w) in enumerate(cases)]
    assert got == [want for _e, _c, want in cases]
    last = python[len(cases) + 1]
    hash_column = attributions.COLUMN_NAMES.index("attribution_hash")
    assert last["attributions"][0][hash_column] == attributions.attribution_hash(last["row"]["event_hash"], "k-1")
    assert not any(python[n + 1]["warnings"] for n in range(len(cases) + 1))


def test_attribution_whitespace_is_what_python_str_strip_removes():
    assert torus_spellings.WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
