"""The Python interpretation of the field specs: one raw JSONL line → one raw_events row, or a rejection reason.

The SQL path (xolap.xapi.sql) interprets the same specs; tests/xapi/test_parity.py proves both give identical rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import fields as spec
from xolap.xapi.fields import Field, Source

_MAX_U64 = 2**64 - 1
_MAX_U32 = 2**32 - 1
_MAX_STRING_INT = 10**spec.MAX_STRING_INT_DIGITS
_WHOLE_FLOAT_LIMIT = 1e21  # ClickHouse writes whole floats below this as integers
_DIGITS_RE = re.compile(r"[0-9]+")
NUMBER_PATTERN = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
TIMESTAMP_PATTERN = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()

EXPECTED: dict[str, str] = {
    "string": "a string",
    "text": "a value",
    "uint64": "an unsigned integer (UInt64)",
    "uint32": "an unsigned integer (UInt32)",
    "float64": "a number",
    "bool": "true or false",
    "count": "an unsigned integer or an array",
    "response": "a value",
    "lang_map": "a language map or a string",
    "timestamp": "an ISO 8601 date-time with seconds (e.g. 2024-05-01T12:00:00.000Z)",
}


class Rejected(Exception):
    """The line cannot become a row; the message names the field and the reason."""


class _Invalid(Exception):
    pass


def line_hash(line: bytes) -> str:
    """event_hash: lowercase hex SHA-256 of the line's bytes (without its line terminator)."""
    return hashlib.sha256(line).hexdigest()


def reason_for(field: Field, source: Source, problem: str) -> str:
    label = source.label
    where = field.column if label == field.column else f"{field.column} ({label})"
    return f"{where}: {problem}"


def missing_reason(field: Field) -> str:
    return reason_for(field, field.sources[0], "missing")


def invalid_reason(field: Field, source: Source) -> str:
    return reason_for(field, source, f"expected {EXPECTED[field.kind]}")


# --- value kinds (each mirrors a branch in xolap.xapi.sql) ---------------------------------------------------------


def _whole(value: Any) -> Any:
    """A whole float becomes an int (ClickHouse cannot tell 1.0 from 1 once parsed)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _WHOLE_FLOAT_LIMIT:
        return int(value)
    return value


def _normalized(value: Any) -> Any:
    if isinstance(value, float):
        return _whole(value)
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = _whole(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _MAX_STRING_INT:
        return str(value)
    raise _Invalid


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = _normalized(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits inside an array/object
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _to_uint(limit: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, str):
            if value == "":
                return None
            if not _DIGITS_RE.fullmatch(value):
                raise _Invalid
            value = int(value)
        value = _whole(value)
        if isinstance(value, int) and 0 <= value <= limit:
            return value
        raise _Invalid

    return convert


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value == "":
            return None
        if _NUMBER_RE.fullmatch(value):
            return float(value)
    raise _Invalid


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Invalid


_to_u32 = _to_uint(_MAX_U32)


def _to_count(value: Any) -> int | None:
    if isinstance(value, list):
        if len(value) > _MAX_U32:
            raise _Invalid
        return len(value)
    return _to_u32(value)


def _to_response(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("input") is not None:
        return to_text(value["input"])
    return to_text(value)


def _to_lang_map(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise _Invalid
    for key in ("en-US", "en"):
        if key in value:
            chosen = value[key]
            return None if chosen is None else to_text(chosen)
    for chosen in value.values():
        return None if chosen is None else to_text(chosen)
    return None


def parse_timestamp(value: Any) -> int:
    """UTC epoch milliseconds of an ISO 8601 date-time; fractions beyond milliseconds are cut, not rounded."""
    if not isinstance(value, str):
        raise _Invalid
    match = _TIMESTAMP_RE.fullmatch(value)
    if not match:
        raise _Invalid
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    if not (spec.MIN_YEAR <= int(year) <= spec.MAX_YEAR) or int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        raise _Invalid
    if sign and (int(off_h) > 23 or int(off_m) > 59):
        raise _Invalid
    try:
        date = datetime(int(year), int(month), int(day))
    except ValueError:
        raise _Invalid from None
    seconds = (date.toordinal() - _EPOCH_ORDINAL) * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds -= offset if sign == "+" else -offset
    millis = int((fraction or "")[:3].ljust(3, "0"))
    return seconds * 1000 + millis


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "text": to_text,
    "uint64": _to_uint(_MAX_U64),
    "uint32": _to_u32,
    "float64": _to_float,
    "bool": _to_bool,
    "count": _to_count,
    "response": _to_response,
    "lang_map": _to_lang_map,
    "timestamp": parse_timestamp,
}


def timestamp_to_datetime(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


# --- the row builder ---------------------------------------------------------------------------------------------

def classify(verb_id: str | None, object_type: str | None) -> str:
    """Torus's event_type rule (fields.EVENT_TYPE_RULES)."""
    for event_type, verbs, wanted_type in spec.EVENT_TYPE_RULES:
        if verb_id in verbs and (wanted_type is None or object_type == wanted_type):
            return event_type
    return spec.UNKNOWN_EVENT_TYPE


class _Plan:
    """The field specs compiled for speed: each distinct parent object is looked up once per statement."""

    def __init__(self) -> None:
        parents: dict[tuple[str, ...], int] = {(): 0}
        self.parent_of: list[int] = [0]
        self.parent_key: list[str] = [""]

        def parent_index(path: tuple[str, ...]) -> int:
            if path not in parents:
                up = parent_index(path[:-1])
                parents[path] = len(self.parent_of)
                self.parent_of.append(up)
                self.parent_key.append(path[-1])
            return parents[path]

        column_index = {name: i for i, name in enumerate(MAPPED_COLUMN_NAMES)}
        # (column index, converter, [(parent, key, only_for, invalid reason)], missing reason, only_for)
        self.fields: list[tuple[int, Callable[[Any], Any], list[tuple[int, str, frozenset | None, str]], str | None, frozenset | None]] = []
        for field in spec.FIELDS:
            sources = [
                (parent_index(src.path[:-1]), src.path[-1], frozenset(src.only_for) if src.only_for else None, invalid_reason(field, src))
                for src in field.sources
            ]
            missing = missing_reason(field) if field.column in spec.REQUIRED_FIELDS else None
            scope = frozenset(field.only_for) if field.only_for else None
            self.fields.append((column_index[field.column], CONVERTERS[field.kind], sources, missing, scope))
        self.verb = [f.column for f in spec.FIELDS].index("verb_id")
        self.object_type = [f.column for f in spec.FIELDS].index("object_type")
        self.event_type_column = column_index["event_type"]
        self.provenance = [column_index[c] for c in spec.PROVENANCE_COLUMNS]
        self.width = len(MAPPED_COLUMN_NAMES)

    def nodes(self, statement: dict) -> list[Any]:
        nodes: list[Any] = [statement]
        parent_of, parent_key = self.parent_of, self.parent_key
        for i in range(1, len(parent_of)):
            up = nodes[parent_of[i]]
            nodes.append(up.get(parent_key[i]) if type(up) is dict else None)
        return nodes


def _value(plan_field: tuple, nodes: list[Any], event_type: str | None) -> Any:
    _column, convert, sources, missing, scope = plan_field
    if scope is not None and event_type not in scope:
        return None
    for parent, key, only_for, reason in sources:
        node = nodes[parent]
        if type(node) is not dict:
            continue
        raw = node.get(key)
        if raw is None or (only_for is not None and event_type not in only_for):
            continue
        try:
            return convert(raw)
        except _Invalid:
            raise Rejected(reason) from None
    if missing is not None:
        raise Rejected(missing)
    return None


_PLAN = _Plan()


def parse_statement(line: bytes) -> dict:
    """The statement object of a line; Rejected when the line is not a JSON object with actor, verb and object."""
    try:
        statement = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise Rejected("not valid JSON") from None
    if type(statement) is not dict:
        raise Rejected("not a JSON object")
    for key in spec.REQUIRED_OBJECTS:
        if type(statement.get(key)) is not dict:
            raise Rejected(f"{key}: missing or not an object")
    return statement


def build_row(line: bytes, *, source_file: str | None, source_etag: str | None, source_line: int) -> list[Any]:
    """The raw_events values (MAPPED_COLUMN_NAMES order; timestamp as UTC epoch ms) for one line, or Rejected.

    Problems are reported in field-spec order (the order the SQL reason multiIf checks them)."""
    plan = _PLAN
    nodes = plan.nodes(parse_statement(line))
    row: list[Any] = [None] * plan.width
    fields = plan.fields
    # event_type needs verb and object type before the fields scoped to event types are read.
    first_error: tuple[int, str] | None = None
    decided: dict[int, Any] = {}
    for position in (plan.verb, plan.object_type):
        try:
            decided[position] = _value(fields[position], nodes, None)
        except Rejected as exc:
            decided[position] = None
            if first_error is None or position < first_error[0]:
                first_error = (position, str(exc))
    event_type = classify(decided[plan.verb], decided[plan.object_type])
    for position, plan_field in enumerate(fields):
        if first_error is not None and first_error[0] <= position:
            raise Rejected(first_error[1])
        if position in decided:
            row[plan_field[0]] = decided[position]
            continue
        try:
            row[plan_field[0]] = _value(plan_field, nodes, event_type)
        except Rejected:
            raise
    if first_error is not None:
        raise Rejected(first_error[1])
    row[plan.event_type_column] = event_type
    hash_col, file_col, etag_col, line_col = plan.provenance
    row[hash_col] = hashlib.sha256(line).hexdigest()
    row[file_col] = source_file
    row[etag_col] = source_etag
    row[line_col] = source_line
    return row


def map_statement(line: bytes | str, *, source_file: str | None = None, source_etag: str | None = None, source_line: int = 1) -> dict[str, Any]:
    """One line as a {column: value} dict (timestamp as an aware UTC datetime); raises Rejected."""
    data = line.encode() if isinstance(line, str) else line
    row = build_row(data, source_file=source_file, source_etag=source_etag, source_line=source_line)
    out = dict(zip(MAPPED_COLUMN_NAMES, row))
    out["timestamp"] = timestamp_to_datetime(out["timestamp"])
    return out
