"""The Python mapping's speed-ups keep its output: the prebuilt JSON encoder spells every value as json.dumps does,
and rows are tuples of plain values (the garbage collector stops tracking them: no collection passes over a batch)."""

from __future__ import annotations

import gc
import json
import sys

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import torus_json
from xolap.xapi.fields import OLI
from xolap.xapi.rows import build_row, map_statement, to_text

VALUES = [
    {"content": "Try again"},
    [123],
    ["h", "h"],
    [],
    {},
    {"e": [True, None, False], "é": "😀", 'k"q': "a\\b\n\t\u0001"},
    [1.0, 2.5, -0.0, 1e22, 1.5e-7, 0.00001, 1e16, 123456789.125],
    {"nested": {"deeper": [{"a": [1, {"b": "c"}]}]}},
    [10**20, -(2**63), 2**64 - 1],
    "plain",
    "ünïcödé \u2028 \U0001f600",
    12,
    3.25,
    True,
    None,
    {"z": 1, "a": 2, "m": [3]},  # keys in their order, never sorted
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_dumps_spells_every_value_as_json_dumps_with_its_defaults(value):
    assert torus_json.dumps(value) == json.dumps(torus_json.normalized(value))


def test_dumps_of_parsed_lines_matches_json_dumps():
    line = orjson.dumps({"a": [1.5, {"b": "ö", "c": [None, 2.0]}], "d": "x" * 300, "e": {"f": -1e-9}})
    parsed = torus_json.loads(line)
    assert torus_json.dumps(parsed) == json.dumps(torus_json.normalized(parsed))
    assert to_text(parsed["a"]) == '[1.5, {"b": "\\u00f6", "c": [null, 2]}]'


def test_a_failed_deep_value_leaves_later_values_spelled_alike():
    deep: object = "leaf"
    for _ in range(sys.getrecursionlimit() + 100):
        deep = [deep]
    spelled = torus_json.dumps(deep)  # too deep for the C encoder: spelled without recursion
    assert spelled.startswith("[[[") and spelled.endswith('"leaf"' + "]" * (sys.getrecursionlimit() + 100))
    for value in VALUES:  # the encoder that gave up on the deep value spells the next ones unchanged
        assert torus_json.dumps(value) == json.dumps(torus_json.normalized(value))


def _line(**extensions: object) -> bytes:
    return orjson.dumps(
        {
            "actor": {"account": {"name": "u1", "homePage": "https://h"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "o", "definition": {"type": "http://adlnet.gov/expapi/activities/question"}},
            "result": {
                "score": {"raw": 1.0},
                "response": {"input": ["a", 1.0]},
                "extensions": {OLI + "feedback": {"content": "é"}},
            },
            "context": {"extensions": {OLI + k: v for k, v in extensions.items()}},
            "timestamp": "2024-05-01T12:00:00.123Z",
        }
    )


def test_rows_are_tuples_the_garbage_collector_stops_tracking():
    row = build_row(_line(section_id=3, attached_objectives=[1, 2.0]), source_file="f", source_etag=None, source_line=1)
    assert type(row) is tuple and len(row) == len(MAPPED_COLUMN_NAMES)
    gc.collect()
    assert not gc.is_tracked(row)  # a list would stay tracked: every collection pass would walk the whole batch


def test_text_columns_through_the_row_builder_keep_torus_spelling():
    row = map_statement(_line(attached_objectives=[1, 2.0, "x"]))
    assert row["attached_objectives"] == '[1, 2, "x"]'
    assert row["feedback"] == '{"content": "\\u00e9"}'
    assert row["response"] == '["a", 1]'
