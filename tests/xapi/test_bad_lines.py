"""Each class of bad statement gets a reason naming the field, and the good lines around it are kept."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.pipeline import ingest_bytes, map_lines, read_lines
from xolap.xapi.rows import Rejected, build_row, map_statement

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
BAD = FIXTURES / "mixed_bad_lines.jsonl"
ENTRIES = json.loads((FIXTURES / "mixed_bad_lines.expected.json").read_text())
EXPECTED = [(line, reason) for line, reason, severity in ENTRIES if severity == "error"]
WARNED = [(line, reason) for line, reason, severity in ENTRIES if severity == "warning"]


def test_each_bad_line_has_its_line_number_and_reason():
    batch = map_lines(read_lines(BAD.read_bytes(), "bad.jsonl"), source_file="bad.jsonl", source_etag=None)
    got = [(e.source_line, e.reason) for e in batch.errors]
    assert len(got) == len(EXPECTED) == 15
    for (line, reason), (want_line, want_reason) in zip(got, EXPECTED, strict=False):
        assert line == want_line
        assert reason.startswith(want_reason), (line, reason)
    assert batch.table.num_rows == 13 and batch.lines == 28
    assert batch.table.column("source_line").to_pylist() == [1, 5, *range(17, 27), 28]
    assert all(e.source_file == "bad.jsonl" for e in batch.errors)
    assert batch.errors[0].raw_line.startswith('{"actor": {"mbox"')


def test_malformed_optional_values_keep_the_row_with_a_warning_naming_field_and_value():
    batch = map_lines(read_lines(BAD.read_bytes(), "bad.jsonl"), source_file="bad.jsonl", source_etag=None)
    assert [(w.source_line, w.reason) for w in batch.warnings] == WARNED and len(WARNED) == 10
    assert {w.severity for w in batch.warnings} == {"warning"} and {e.severity for e in batch.errors} == {"error"}
    rows = {r["source_line"]: r for r in batch.table.to_pylist()}
    assert rows[17]["section_id"] is None  # only the malformed value is NULL
    assert (rows[17]["event_type"], rows[17]["user_id"], rows[17]["object_id"]) == (
        "page_viewed",
        "2001",
        "https://torus.example.edu/page/1",
    )
    assert rows[22]["success"] is None and rows[21]["score"] is None
    # the learner's identity is never quoted in a stored message
    assert [w.reason for w in batch.warnings if w.source_line == 24] == [
        "user_id (actor.account.name): expected a string"
    ]


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ({"verb": {"id": "v"}, "object": {}, "timestamp": "2024-01-01T00:00:00Z"}, "actor: missing or not an object"),
        (
            {"actor": {}, "verb": "v", "object": {}, "timestamp": "2024-01-01T00:00:00Z"},
            "verb: missing or not an object",
        ),
        (
            {"actor": {}, "verb": {"id": 1.5}, "object": {}, "timestamp": "2024-01-01T00:00:00Z"},
            "verb_id (verb.id): expected a string",
        ),
        (
            {"actor": {}, "verb": {"id": "v"}, "object": [], "timestamp": "2024-01-01T00:00:00Z"},
            "object: missing or not an object",
        ),
        ({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": None}, "timestamp: missing"),
        (
            {
                "actor": {},
                "verb": {"id": "v"},
                "object": {},
                "timestamp": "2024-01-01T00:00:00Z",
                "result": {"completion": 2},
            },
            "completion (result.completion): expected true or false, got 2",
        ),
    ],
)
def test_missing_and_wrong_typed_values_name_the_field(statement, reason):
    if reason.startswith(("completion",)):  # an optional field: the row is kept, the value NULL, with a warning
        warnings: list[str] = []
        row = build_row(orjson.dumps(statement), source_file=None, source_etag=None, source_line=1, warnings=warnings)
        assert warnings == [reason] and row[MAPPED_COLUMN_NAMES.index("completion")] is None
        return
    with pytest.raises(Rejected) as caught:
        map_statement(orjson.dumps(statement))
    assert str(caught.value) == reason


def test_first_problem_in_field_order_is_reported():
    statement = {
        "actor": {"account": {"name": 5.5}},
        "verb": {"id": 5.5},
        "object": {},
        "timestamp": "bad",
        "result": {"success": "nope"},
    }
    with pytest.raises(Rejected, match=r"^timestamp: expected"):
        map_statement(orjson.dumps(statement))
    warnings: list[str] = []
    build_row(
        orjson.dumps(dict(statement, timestamp="2024-01-01T00:00:00Z", verb={"id": "v"})),
        source_file=None,
        source_etag=None,
        source_line=1,
        warnings=warnings,
    )
    assert warnings == [
        "user_id (actor.account.name): expected a string",
        'success (result.success): expected true or false, got "nope"',
    ]


def test_ingest_keeps_good_lines_and_records_bad_ones(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    report = ingest_bytes(
        client, settings, BAD.read_bytes(), source_file="s3://b/bad.jsonl", source_etag="e1", ingest_path="test"
    )
    assert (report.rows, report.rejected, report.warnings) == (13, 15, 10)
    assert (
        client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] >= 1
    )  # identical good lines may merge
    rows = client.query(
        f"SELECT source_line, reason, ingest_path, source_file, raw_line FROM `{db}`.ingest_errors WHERE severity = 'error' "
        "ORDER BY source_line"
    ).result_rows
    warned = client.query(
        f"SELECT source_line, reason FROM `{db}`.ingest_errors WHERE severity = 'warning' ORDER BY source_line"
    ).result_rows
    assert [tuple(r) for r in warned] == WARNED
    assert [(r[0], r[1][: len(w)]) for r, (_, w) in zip(rows, EXPECTED, strict=False)] == [
        (line, w) for line, w in EXPECTED
    ]
    assert {r[2] for r in rows} == {"test"} and {r[3] for r in rows} == {"s3://b/bad.jsonl"}
    assert rows[1][4] == '["an", "array"]'
