"""Category rows converted per column type (chart_values.json_rows) equal the value-by-value json_value conversion."""

from __future__ import annotations

import math

import pytest

from xolap.analytics.categories.chart_values import converter, json_rows, json_value
from xolap.analytics.executor import run

# One column per ClickHouse type a category may answer with (and some no category uses today), values chosen at the
# edges: NaN and infinities, NULLs inside maps and arrays, invalid UTF-8, the largest integers.
TYPED_COLUMNS = {
    "u8": "toUInt8(255)",
    "i64": "toInt64(-9223372036854775808)",
    "u64": "toUInt64(18446744073709551615)",
    "i128": "toInt128(-170141183460469231731687303715884105728)",
    "u256": "toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935')",
    "text": "'plain'",
    "bad_utf8": "unhex('ff61')",
    "low_card": "toLowCardinality('lc')",
    "low_card_null": "CAST(NULL, 'LowCardinality(Nullable(String))')",
    "null_text": "CAST(NULL, 'Nullable(String)')",
    "flag": "true",
    "null_flag": "CAST(NULL, 'Nullable(Bool)')",
    "f64": "1.5",
    "nan": "nan",
    "inf": "inf",
    "minus_inf": "-inf",
    "null_f64": "CAST(NULL, 'Nullable(Float64)')",
    "nullable_nan": "CAST(nan, 'Nullable(Float64)')",
    "f32": "toFloat32(2.5)",
    "day": "toDate('2026-01-02')",
    "day32": "toDate32('1960-05-06')",
    "null_day": "CAST(NULL, 'Nullable(Date)')",
    "moment": "toDateTime('2026-01-02 03:04:05', 'UTC')",
    "moment64": "toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC')",
    "day_views": "map(toDate('2026-01-01'), toUInt64(3), toDate('2026-01-08'), toUInt64(4))",
    "float_map": "map('a', nan, 'b', 0.25)",
    "nullable_map": "map(1, CAST(NULL, 'Nullable(Float64)'), 2, 1.0)",
    "moment_keys": "map(toDateTime('2026-01-02 03:04:05', 'UTC'), 1)",
    "nested_map": "map('x', map('y', toUInt8(1)))",
    "array_map": "map('k', [1.5, inf])",
    "ints": "[1, 2]",
    "floats": "[nan, 1.0]",
    "null_floats": "[CAST(NULL, 'Nullable(Float64)'), 2.0]",
    "days": "[toDate('2026-01-01')]",
    "cells": "[(toDate('2026-01-01'), 'page_viewed', toUInt64(5))]",
    "named_tuple": "CAST((toDate('2026-01-01'), 'x'), 'Tuple(d Date, s String)')",
    "tuple": "(toDate('2026-01-01'), nan, toDecimal32(2.5, 1), [inf], map(toDate('2026-01-02'), 1), CAST(NULL, 'Nullable(Float64)'))",
    "nested_tuples": "[((toDate('2026-01-01'), 1.5), 'x')]",
    "named_in_array": "[CAST((toDate('2026-01-01'), 1), 'Tuple(day Date, n UInt8)')]",
    "decimal": "toDecimal64(1.25, 2)",
    "uuid": "toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')",
    "fixed": "toFixedString('ab', 3)",
    "enum": "CAST('b', 'Enum8(\\'a\\' = 1, \\'b\\' = 2)')",
    "empty_map": "CAST(map(), 'Map(String, UInt8)')",
    "empty_array": "CAST([], 'Array(Float64)')",
}


def value_by_value(columns, rows):
    return [{column: json_value(value) for column, value in zip(columns, row, strict=False)} for row in rows]


def same(left, right) -> bool:
    """Equal, of the same Python types (True is not 1, 1.0 is not 1) and key order, NaN where NaN."""
    return repr(left) == repr(right)


def test_every_type_converts_as_json_value(ch_engine, base_settings):
    select = ", ".join(f"{expression} AS {name}" for name, expression in TYPED_COLUMNS.items())
    result = run(ch_engine, base_settings, f"SELECT {select} FROM numbers(2)")
    assert result.columns == list(TYPED_COLUMNS)
    typed = json_rows(result.columns, result.types, result.rows)
    expected = value_by_value(result.columns, result.rows)
    for column in result.columns:
        assert same([row[column] for row in typed], [row[column] for row in expected]), column
    assert typed[0]["nan"] is None and typed[0]["day"] == "2026-01-02" and typed[0]["flag"] is True
    assert typed[0]["day_views"] == {"2026-01-01": 3, "2026-01-08": 4}
    assert typed[0]["nullable_map"] == {"1": None, "2": 1.0} and typed[0]["floats"] == [None, 1.0]


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("Float64", float("nan")),
        ("Nullable(Float64)", None),
        ("Nullable(Float32)", float("-inf")),
        ("Map(String, Float64)", {"a": float("inf"), "b": 2.0}),
        ("Map(Date, Nullable(Float64))", {}),
        ("Array(Nullable(Float64))", [None, float("nan"), 1.0]),
        ("Array(Array(Float64))", [[float("nan")], []]),
        ("Array(Map(String, Float64))", [{"x": float("nan")}]),
        ("Nullable(Array(Float64))", None),
        ("Map(String, Array(Nullable(Float64)))", None),
        ("Decimal(18, 2)", None),
        ("Array(Tuple(Date, String, UInt64))", None),
        ("Tuple(Date, Float64)", None),
        ("Tuple(Float64, String)", (float("nan"), "x")),
        ("Tuple(Float64, Float64)", (1.0,)),
        ("Array(Tuple(DateTime64(3, 'UTC'), Decimal(18, 2)))", []),
    ],
)
def test_converter_passes_none_and_cleans_floats(type_name, value):
    convert = converter(type_name)
    assert convert is not None, type_name
    assert same(convert(value), json_value(value))


@pytest.mark.parametrize("type_name", ["UInt64", "Int8", "String", "LowCardinality(String)", "Nullable(Bool)"])
def test_plain_types_are_passed_as_they_are(type_name):
    assert converter(type_name) is None


def test_without_types_every_value_is_inspected():
    rows = [(float("nan"), {"k": float("inf")}), (1, None)]
    assert same(json_rows(["a", "b"], [], rows), [{"a": None, "b": {"k": None}}, {"a": 1, "b": None}])
    assert math.isnan(rows[0][0])  # the rows are not changed in place


def test_a_day_named_again_is_not_formatted_again():
    """Days (Date, Date32) in a column, a map's keys and an array's tuples come back as their ISO text, the text of
    a day named before being the one made then (activity over time and the heatmap name the same days repeatedly)."""
    from datetime import date

    days = [date(2026, 1, 2), date(1960, 5, 6)]
    columns = ["day", "day32", "day_views", "cells"]
    types = ["Date", "Nullable(Date32)", "Map(Date, UInt64)", "Array(Tuple(Date, LowCardinality(String), UInt64))"]
    rows = [(day, day, {day: 1}, [(day, "page_viewed", 2)]) for day in days] + [(days[0], None, {}, [])]
    first, second = json_rows(columns, types, rows), json_rows(columns, types, rows)
    assert first == [
        {
            "day": "2026-01-02",
            "day32": "2026-01-02",
            "day_views": {"2026-01-02": 1},
            "cells": [["2026-01-02", "page_viewed", 2]],
        },
        {
            "day": "1960-05-06",
            "day32": "1960-05-06",
            "day_views": {"1960-05-06": 1},
            "cells": [["1960-05-06", "page_viewed", 2]],
        },
        {"day": "2026-01-02", "day32": None, "day_views": {}, "cells": []},
    ]
    texts = [row["day"] for row in first + second] + [row["cells"][0][0] for row in first[:2] + second[:2]]
    assert all(text is texts[0] for text in texts if text == "2026-01-02")
    assert [key for row in first[:2] + second[:2] for key in row["day_views"]][0] is texts[0]


def test_the_remembered_day_texts_are_bounded(monkeypatch):
    from datetime import date, timedelta

    from xolap.analytics.categories import chart_values

    monkeypatch.setattr(chart_values, "_day_texts", {})
    monkeypatch.setattr(chart_values, "DAY_TEXT_ENTRIES", 3)
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(10)]
    for _ in range(2):
        assert [chart_values.day_text(day) for day in days] == [day.isoformat() for day in days]
    assert len(chart_values._day_texts) == 3
