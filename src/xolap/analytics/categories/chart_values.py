"""A category query's rows as plain JSON values (ISO dates, floats, None for NaN/inf), converted column by column.

json_value converts one value of any type by looking at it. json_rows gives the same answer for a whole result, but
decides once per column from its ClickHouse type what the column's values need: integers, strings and booleans are
already plain, so they are passed as they are instead of being inspected value by value; floats, dates, and maps,
arrays and unnamed tuples of those get a direct conversion; every other type (decimals, UUIDs, named tuples, which
may come back as dicts, ...) goes through json_value. The Python work per answer holds the GIL, so under concurrent
dashboards it is paid serially.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

Convert = Callable[[Any], Any]

# Types whose values clickhouse-connect returns as int, str or bool (or None when Nullable): already plain JSON.
_PLAIN_TYPES = frozenset(
    [f"{sign}Int{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64, 128, 256)] + ["String", "Bool"]
)
_FLOAT_TYPES = frozenset(["Float32", "Float64", "BFloat16"])
_DAY_TYPES = frozenset(["Date", "Date32"])
_UNNAMED_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\(.*\))?", re.S)  # 'Date', 'Decimal(18, 2)'; not 'd Date'


def json_value(value: Any) -> Any:
    """A ClickHouse result value as plain JSON (ISO dates, floats, None for NaN/inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (UUID, bytes)):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def _finite(value: Any) -> Any:
    return value if value is None or math.isfinite(value) else None


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


# The ISO text of days (Date, Date32), remembered: an answer names the same few hundred days again and again (activity
# over time's cells, every heatmap page's day map) and every answer names the days of the one before, while
# date.isoformat() costs ~0.6 us a call (0.3-1.5 ms of an answer's Python, holding the GIL). Days are few (65,536 is
# 179 years of them); past the bound the text is made each time.
DAY_TEXT_ENTRIES = 65_536
_day_texts: dict[date, str] = {}


def day_text(day: date | None) -> str | None:
    """A day's ISO text (as date.isoformat() gives it), remembered; None stays None."""
    if day is None:
        return None
    text = _day_texts.get(day)
    if text is None:
        text = day.isoformat()
        if len(_day_texts) < DAY_TEXT_ENTRIES:
            _day_texts[day] = text
    return text


def _arguments(type_name: str, wrapper: str) -> str | None:
    """The text inside `wrapper(...)` when type_name is exactly that, else None."""
    if type_name.startswith(wrapper + "(") and type_name.endswith(")"):
        return type_name[len(wrapper) + 1 : -1]
    return None


def _split_top_level(arguments: str) -> list[str]:
    """Type arguments split at commas outside parentheses and quotes: 'Date, Map(String, UInt8)' -> two parts."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(arguments):
        if char == "'" and (index == 0 or arguments[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(arguments[start:index].strip())
            start = index + 1
    parts.append(arguments[start:].strip())
    return parts


def converter(type_name: str) -> Convert | None:
    """How to make one value of a column of ClickHouse type `type_name` plain JSON; None when it already is."""
    type_name = type_name.strip()
    for wrapper in ("Nullable", "LowCardinality"):
        inner = _arguments(type_name, wrapper)
        if inner is not None:
            return converter(inner)  # every conversion below passes None through
    if type_name in _PLAIN_TYPES:
        return None
    if type_name in _FLOAT_TYPES:
        return _finite
    if type_name in _DAY_TYPES:
        return day_text
    if type_name == "DateTime" or type_name.startswith(("DateTime(", "DateTime64(")):
        return _iso
    inner = _arguments(type_name, "Map")
    if inner is not None:
        parts = _split_top_level(inner)
        if len(parts) == 2:  # keys become str(key) as json_value makes them, whatever their type (a day: its text)
            key = day_text if parts[0] in _DAY_TYPES else str
            values = converter(parts[1])
            if values is None:
                return lambda value: None if value is None else {key(k): v for k, v in value.items()}
            return lambda value: None if value is None else {key(k): values(v) for k, v in value.items()}
    inner = _arguments(type_name, "Tuple")
    if inner is not None:
        parts = _split_top_level(inner)
        if all(_UNNAMED_ELEMENT.fullmatch(part) for part in parts):  # a named tuple may come back as a dict
            return _tuple_converter([converter(part) for part in parts])
    inner = _arguments(type_name, "Array")
    if inner is not None:
        items = converter(inner)
        if items is None:
            return lambda value: None if value is None else list(value)
        return lambda value: None if value is None else [items(item) for item in value]
    return json_value


def _tuple_converter(elements: list[Convert | None]) -> Convert:
    """A tuple as a list, only the elements that need it converted (a day in (day, event_type, events): one call)."""
    width = len(elements)
    converted = [(index, convert) for index, convert in enumerate(elements) if convert is not None]

    def convert_tuple(value: Any) -> Any:
        if value is None or len(value) != width:
            return json_value(value)
        items = list(value)
        for index, convert in converted:
            items[index] = convert(items[index])
        return items

    return convert_tuple


def json_rows(columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name (a later duplicate name wins), each value as json_value would give it."""
    converters = [converter(type_name) for type_name in types]
    if len(converters) != len(columns):  # no types to go by: inspect every value
        converters = [json_value] * len(columns)
    if not any(converters):
        return [dict(zip(columns, row, strict=False)) for row in rows]
    pairs = list(zip(columns, converters, strict=True))
    return [
        {
            column: value if convert is None else convert(value)
            for (column, convert), value in zip(pairs, row, strict=False)
        }
        for row in rows
    ]
