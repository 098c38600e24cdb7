"""The compiled row builder (xolap.xapi.compiled) agrees with the converters it inlines, at their type boundaries."""

from __future__ import annotations

import orjson
import pytest

from xolap.xapi import fields as spec
from xolap.xapi.rows import BUILD_ROW_SOURCE, CONVERTERS, Rejected, _Invalid, invalid_reason, map_statement, to_text

BASE = {"actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "v"}, "object": {"id": "o"}, "timestamp": "2024-01-01T00:00:00Z"}
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
    for raw in values:
        try:
            want: object = CONVERTERS[kind](raw)
        except _Invalid:
            want = Rejected(invalid_reason(field, field.sources[0]))
        try:
            got: object = map_statement(_statement_with(column, raw))[column]
        except Rejected as exc:
            got = exc
        if isinstance(want, Rejected):
            assert isinstance(got, Rejected) and str(got) == str(want), raw
        else:
            assert got == want and type(got) is type(want), raw


def test_scores_as_integers_become_floats():
    statement = dict(BASE, result={"score": {"raw": 3, "max": 4.0, "scaled": "0.75"}})
    row = map_statement(orjson.dumps(statement))
    assert (row["score"], row["out_of"], row["scaled_score"]) == (3.0, 4.0, 0.75)
    assert type(row["score"]) is float


def test_text_of_arrays_and_objects_normalizes_whole_floats_only():
    assert to_text([1, 2]) == "[1,2]"
    assert to_text([1.0, 2.5, "x.y"]) == '[1,2.5,"x.y"]'
    assert to_text({"e": [True, None]}) == '{"e":[true,null]}'
    assert to_text([2**64]) == "[18446744073709551616]"


def test_generated_source_reads_every_field_path():
    keys = {key for field in spec.FIELDS for source in field.sources for key in source.path}
    assert BUILD_ROW_SOURCE.startswith("def build_row(line, *, source_file, source_etag, source_line):")
    assert BUILD_ROW_SOURCE.count(".get(") >= len(keys)
