"""The compiled row builder (xolap.xapi.compiled) agrees with the converters it inlines, at their type boundaries."""

from __future__ import annotations

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import fields as spec
from xolap.xapi import torus_json
from xolap.xapi.rows import (
    BUILD_ROW_SOURCE,
    CONVERTERS,
    _Invalid,
    build_row,
    invalid_reason,
    map_statement,
    to_text,
    warning_text,
)

BASE = {
    "actor": {"mbox": "mailto:a@example.org"},
    "verb": {"id": "v"},
    "object": {"id": "o"},
    "timestamp": "2024-01-01T00:00:00Z",
}
OLI = spec.OLI

# (column, kind, raw values crossing the inlined fast path and the converter fallback)
CASES = [
    ("section_id", "uint64", [0, 2**64 - 1, 2**64, -1, 3.0, "12", "", True, 1.5]),
    ("page_attempt_number", "uint32", [0, 2**32 - 1, 2**32, -1, "7", 2.0, False]),
    ("hints_requested", "count", [0, 2**32 - 1, 2**32, [1, 2, 3], [], "4", True]),
    ("session_id", "string", ["s", "", 12, 2.0, 10**18, True, [1]]),
    ("attached_objectives", "text", ["t", [1, 2], [1.0, 2.5], {"a.b": 1}, {"k": 2**64}, [True, None], 5.0]),
]


def _statement_with(column: str, raw: object) -> bytes:
    statement = orjson.loads(orjson.dumps(BASE))
    statement["context"] = {"extensions": {OLI + column: raw}}
    try:
        return orjson.dumps(statement)
    except TypeError:  # integers beyond 64 bits
        import json

        return json.dumps(statement).encode()


@pytest.mark.parametrize(("column", "kind", "values"), CASES)
def test_inlined_fast_paths_give_what_the_converter_gives(column, kind, values):
    field = spec.FIELDS_BY_COLUMN[column]
    for value in values:
        line = _statement_with(column, value)
        raw = torus_json.loads(line)["context"]["extensions"][OLI + column]  # as both engines read it
        want_warnings: list[str] = []
        try:
            want: object = CONVERTERS[kind](raw)
        except _Invalid:  # an optional field: stored NULL, with a warning naming field and value
            want = None
            want_warnings = [warning_text(invalid_reason(field, field.sources[0]), raw)]
        warnings: list[str] = []
        got = build_row(line, source_file=None, source_etag=None, source_line=1, warnings=warnings)[
            MAPPED_COLUMN_NAMES.index(column)
        ]
        assert got == want and type(got) is type(want), value
        assert warnings == want_warnings, value


LANG_MAPS = [
    "plain",
    "",
    {"en-US": "Page"},
    {"en-US": ""},
    {"en": "Page", "en-US": "US"},
    {"en-US": None, "en": "x"},
    {"en-US": 1.0},
    {"en-US": ["a"]},
    {"en-US": {"b": 1}},
    {"en": "only en"},
    {"fr": "Bonjour", "de": "Hallo"},
    {"fr": None},
    {},
    {"EN-US": "case"},
    ["a"],
    5,
    True,
]


@pytest.mark.parametrize("value", LANG_MAPS, ids=range(len(LANG_MAPS)))
def test_inlined_language_maps_give_what_the_converter_gives(value):
    statement = orjson.loads(orjson.dumps(BASE))
    statement["object"]["definition"] = {"name": value}
    field = spec.FIELDS_BY_COLUMN["object_name"]
    raw = torus_json.loads(orjson.dumps(statement))["object"]["definition"]["name"]
    want_warnings: list[str] = []
    try:
        want: object = CONVERTERS["lang_map"](raw)
    except _Invalid:
        want = None
        want_warnings = [warning_text(invalid_reason(field, field.sources[0]), raw)]
    warnings: list[str] = []
    row = build_row(orjson.dumps(statement), source_file=None, source_etag=None, source_line=1, warnings=warnings)
    got = row[MAPPED_COLUMN_NAMES.index("object_name")]
    assert got == want and type(got) is type(want)
    assert warnings == want_warnings


def test_scores_as_integers_become_floats():
    statement = dict(BASE, result={"score": {"raw": 3, "max": 4.0, "scaled": "0.75"}})
    row = map_statement(orjson.dumps(statement))
    assert (row["score"], row["out_of"], row["scaled_score"]) == (3.0, 4.0, 0.75)
    assert type(row["score"]) is float


def test_text_of_arrays_and_objects_is_torus_json_dumps_with_whole_floats_as_integers():
    assert to_text([1, 2]) == "[1, 2]"
    assert to_text([1.0, 2.5, "x.y"]) == '[1, 2.5, "x.y"]'
    assert to_text({"e": [True, None], "é": "😀"}) == '{"e": [true, null], "\\u00e9": "\\ud83d\\ude00"}'
    assert to_text([1.5e-7, 1e22, 0.00001]) == "[1.5e-07, 1e+22, 1e-05]"  # Python's float repr


def test_generated_source_reads_every_field_path():
    keys = {key for field in spec.FIELDS for source in field.sources for key in source.path}
    arguments = "(line, *, source_file, source_etag, source_line, warnings=_DISCARD, attributed=None):"
    parsed, typed = BUILD_ROW_SOURCE.split("\ndef build_row" + arguments)  # dicts of torus_json.loads; read Structs
    assert parsed.startswith("def _build_row_parsed" + arguments)
    assert parsed.count(".get(") >= len(keys)
    assert typed.count("raw = ") == parsed.count("raw = ")  # the same reads, as attributes
