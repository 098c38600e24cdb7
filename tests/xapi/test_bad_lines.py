"""Each class of bad statement gets a reason naming the field, and the good lines around it are kept."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from xolap.ingest.pipeline import ingest_bytes, map_lines, read_lines
from xolap.xapi.rows import Rejected, map_statement

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
BAD = FIXTURES / "mixed_bad_lines.jsonl"
EXPECTED = [(line, reason) for line, reason in json.loads((FIXTURES / "mixed_bad_lines.expected.json").read_text())]


def test_each_bad_line_has_its_line_number_and_reason():
    batch = map_lines(read_lines(BAD.read_bytes(), "bad.jsonl"), source_file="bad.jsonl", source_etag=None)
    got = [(e.source_line, e.reason) for e in batch.errors]
    assert len(got) == len(EXPECTED) == 25
    for (line, reason), (want_line, want_reason) in zip(got, EXPECTED):
        assert line == want_line
        assert reason.startswith(want_reason), (line, reason)
    assert batch.table.num_rows == 3 and batch.lines == 28
    assert batch.table.column("source_line").to_pylist() == [1, 5, 28]
    assert all(e.source_file == "bad.jsonl" for e in batch.errors)
    assert batch.errors[0].raw_line.startswith('{"actor": {"mbox"')


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ({"verb": {"id": "v"}, "object": {}, "timestamp": "2024-01-01T00:00:00Z"}, "actor: missing or not an object"),
        ({"actor": {}, "verb": "v", "object": {}, "timestamp": "2024-01-01T00:00:00Z"}, "verb: missing or not an object"),
        ({"actor": {}, "verb": {"id": 1.5}, "object": {}, "timestamp": "2024-01-01T00:00:00Z"}, "verb_id (verb.id): expected a string"),
        ({"actor": {}, "verb": {"id": "v"}, "object": [], "timestamp": "2024-01-01T00:00:00Z"}, "object: missing or not an object"),
        ({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": None}, "timestamp: missing"),
        ({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": "2024-01-01T00:00:00Z",
          "context": {"extensions": {"http://oli.cmu.edu/extensions/section_id": "12a"}}},
         "section_id (context.extensions[http://oli.cmu.edu/extensions/section_id]): expected an unsigned integer (UInt64)"),
        ({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": "2024-01-01T00:00:00Z", "result": {"completion": 1}},
         "completion (result.completion): expected true or false"),
    ],
)
def test_missing_and_wrong_typed_values_name_the_field(statement, reason):
    with pytest.raises(Rejected) as caught:
        map_statement(orjson.dumps(statement))
    assert str(caught.value) == reason


def test_first_problem_in_field_order_is_reported():
    statement = {"actor": {"account": {"name": []}}, "verb": {"id": "v"}, "object": {}, "timestamp": "bad",
                 "result": {"success": "no"}}
    with pytest.raises(Rejected, match=r"^user_id \(actor.account.name\)"):
        map_statement(orjson.dumps(statement))


def test_ingest_keeps_good_lines_and_records_bad_ones(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    report = ingest_bytes(client, settings, BAD.read_bytes(), source_file="s3://b/bad.jsonl", source_etag="e1", ingest_path="test")
    assert (report.rows, report.rejected) == (3, 25)
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] >= 1  # identical good lines may merge
    rows = client.query(
        f"SELECT source_line, reason, ingest_path, source_file, raw_line FROM `{db}`.ingest_errors ORDER BY source_line"
    ).result_rows
    assert [(r[0], r[1][: len(w)]) for r, (_, w) in zip(rows, EXPECTED)] == [(line, w) for line, w in EXPECTED]
    assert {r[2] for r in rows} == {"test"} and {r[3] for r in rows} == {"s3://b/bad.jsonl"}
    assert rows[1][4] == '["an", "array"]'
