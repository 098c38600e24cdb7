"""The Python path reads a line's experiment attributions from the statement it already parsed: each line is parsed
once (a line with a \\u escape or attributions was parsed twice), with the same attribution rows and warnings as the
line-level rule (attributions.statement_rows) on every shape of the extension."""

from __future__ import annotations

import json

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.pipeline import map_lines
from xolap.xapi import attributions, torus_json
from xolap.xapi.fields import ATTRIBUTIONS_PATH, OLI
from xolap.xapi.rows import build_row

KEY = OLI + "experiment_attributions"
GOOD = {"role": "assignment", "key": "k1", "experiment_id": 7, "condition_code": "B", "section_id": "12"}


def _statement(extensions: dict, **extra: object) -> dict:
    return {
        "id": "s",
        "actor": {"account": {"name": "u1", "homePage": "https://h"}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {"id": "https://x/page/1", "definition": {"type": OLI + "types/page", "name": {"en-US": "Café"}}},
        "context": {"extensions": {OLI + "section_id": 3, OLI + "page_id": 1, **extensions}},
        "timestamp": "2024-05-01T12:00:00.123Z",
        **extra,
    }


SHAPES = {
    "none": orjson.dumps(_statement({})),
    "non-ascii escaped, no attributions": json.dumps(_statement({})).encode(),
    "one attribution": orjson.dumps(_statement({KEY: [GOOD]})),
    "escaped key": json.dumps(_statement({KEY: [GOOD]})).replace("experiment_", "\\u0065xperiment_").encode(),
    "escaped slashes": json.dumps(_statement({KEY: [GOOD]})).replace("/", "\\/").encode(),
    "null": orjson.dumps(_statement({KEY: None})),
    "not an array": orjson.dumps(_statement({KEY: {"role": "assignment"}})),
    "empty array": orjson.dumps(_statement({KEY: []})),
    "bad items": orjson.dumps(_statement({KEY: [1, {"role": "nope", "key": "k"}, {"role": "exposure"}, GOOD]})),
    "bad values": orjson.dumps(_statement({KEY: [GOOD | {"experiment_id": "x", "reward_value": [1]}]})),
    "too many": orjson.dumps(_statement({KEY: [GOOD] * (attributions.MAX_PER_STATEMENT + 1)})),
    "named elsewhere": orjson.dumps(_statement({}, result={"extensions": {KEY: [GOOD]}})),
    "named in a value": orjson.dumps(_statement({OLI + "feedback": KEY})),
    "duplicate context, last wins": orjson.dumps(_statement({KEY: [GOOD]}))[:-1] + b', "context": {}}',
    "big integer beside": orjson.dumps(_statement({KEY: [GOOD]}))[:-1] + b', "n": 123456789012345678901234}',
    "rejected line": orjson.dumps({"actor": {}, "verb": {}, "object": {}, "context": {"extensions": {KEY: [GOOD]}}}),
}


def test_the_attributions_path_is_the_one_attributions_reads():
    assert ATTRIBUTIONS_PATH == attributions.PATH


@pytest.mark.parametrize("name", list(SHAPES))
def test_rows_and_warnings_are_those_of_the_line_level_rule(name):
    line = SHAPES[name]
    batch = map_lines([(1, line)], source_file="f.jsonl", source_etag="e")
    expected_rows: list = []
    expected_warnings: list[str] = []
    try:
        row = build_row(line, source_file="f.jsonl", source_etag="e", source_line=1, warnings=expected_warnings)
    except Exception:
        assert batch.errors and not batch.attributions and not batch.warnings
        return
    expected_rows = attributions.statement_rows(
        line, dict(zip(MAPPED_COLUMN_NAMES, row, strict=True)), expected_warnings
    )
    assert batch.attributions == expected_rows
    assert [w.reason for w in batch.warnings] == expected_warnings
    assert batch.table.num_rows == 1


def test_each_line_is_parsed_once(monkeypatch):
    calls = []
    real = torus_json.loads

    def counting(line: bytes) -> object:
        calls.append(line)
        return real(line)

    decode = build_row.__globals__["_decode"]  # the typed decode of the parts the mapping reads (read_shape)

    def counting_decode(line: bytes) -> object:
        calls.append(line)
        return decode(line)

    monkeypatch.setitem(build_row.__globals__, "_loads", counting)  # the row builder's own reference
    monkeypatch.setitem(build_row.__globals__, "_decode", counting_decode)
    monkeypatch.setattr(torus_json, "loads", counting)  # everyone else's
    lines = [(number, line) for number, line in enumerate(SHAPES.values(), start=1)]
    batch = map_lines(lines, source_file="f.jsonl", source_etag=None)
    assert sorted(calls) == sorted(line for _, line in lines)  # by one decoder or the other, once
    assert len(batch.attributions) == 6  # one attribution, escaped key and slashes, bad items, bad values, big integer
