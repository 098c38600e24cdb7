"""The SQL text columns' shortcut for simple values (a space after each separator) spells exactly what the
token-by-token spelling and the Python engine spell, and every value it must not take still gets the full spelling."""

from __future__ import annotations

import json

import pytest

from xolap.xapi import torus_json
from xolap.xapi.sql_values import QUERY_SETTINGS, object_map, quote, text_of

VALUES = [
    # simple: the shortcut's shapes
    '{"content":"Try again"}',
    "[123]",
    "[]",
    "{}",
    "[1,2,3]",
    '{"a":{"b":[true,false,null]},"c":[-5,0,7]}',
    '["a b","x-y","1e5 text","x-0","ABC","a;b","~!#$%&()*+./<=>?@[]^_`{|}"]',
    '{"Key":1,"k2":"v"}',
    "true",
    "12",
    "-7",
    "[18446744073709551615,-9223372036854775808]",
    # not simple: separators inside strings, escapes, non-ASCII, floats, exponents, -0, whitespace
    '{"a":"x,y"}',
    '["a:b"]',
    '{"k,":1,"k:":2}',
    '["a\\"b"]',
    '["a\\\\b"]',
    '["a\\/b"]',
    '["\\u00e9"]',
    '["é😀"]',
    '["\\u2028"]',
    '["a\\nb\\t"]',
    "[-0]",
    "[1,-0]",
    '{"a":-0}',
    "-0",
    "[-0.0]",
    "[1.5]",
    "[1.0]",
    "[1e22]",
    "[1E5]",
    "[2.5e-7]",
    "1.25",
    "[123456789012345678901234567890]",
    '{ "a" : [ 1 , 2 ] }',
    '[{"x":[{"y":"z,"}]}]',
]


@pytest.mark.parametrize("chunk", [VALUES], ids=["edge-values"])
def test_text_columns_spell_simple_and_other_values_as_the_python_engine(ch_db, chunk):
    client, _settings = ch_db
    lines = [f'{{"v":{value}}}' for value in chunk]
    array = ", ".join(quote(line) for line in lines)
    raw = f"{object_map('line')}['v']"
    got = client.query(f"SELECT {text_of(raw)} FROM (SELECT arrayJoin([{array}]) AS line) {QUERY_SETTINGS}").result_rows
    for line, (sql_text,) in zip(lines, got, strict=True):
        value = torus_json.loads(line.encode())["v"]
        want = value if isinstance(value, str) else torus_json.dumps(value)
        assert sql_text == want, line


def test_the_python_spelling_of_the_simple_shapes_is_the_compact_text_with_spaces():
    for value in VALUES[:12]:
        parsed = json.loads(value)
        assert torus_json.dumps(parsed) == value.replace(",", ", ").replace(":", ": "), value
