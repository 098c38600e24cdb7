"""The Python interpretation of the field specs: one raw JSONL line → one raw_events row, or a rejection reason.

The SQL path (xolap.xapi.sql) interprets the same specs; tests/xapi/test_parity.py proves both give identical rows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import fields as spec
from xolap.xapi import torus_json, torus_spellings
from xolap.xapi.compiled import compile_row_builder
from xolap.xapi.fields import Field, Source

_MAX_U64 = 2**64 - 1
_MAX_U32 = 2**32 - 1
_MAX_STRING_INT = 10**spec.MAX_STRING_INT_DIGITS
_WHOLE_FLOAT_LIMIT = 1e21  # ClickHouse writes whole floats below this as integers
_DIGITS_RE = re.compile(r"[0-9]+")
NUMBER_PATTERN = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
TIMESTAMP_PATTERN = r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
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
    "timestamp": (
        f"an ISO 8601 date-time with seconds, in the years {spec.MIN_YEAR} to {spec.MAX_YEAR} (what raw_events can store;"
        " e.g. 2024-05-01T12:00:00.000Z)"
    ),
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


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = _whole(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _MAX_STRING_INT:
        return str(value)
    raise _Invalid


# Torus's spelling of small objects and arrays, remembered by their compact JSON (orjson, ~0.2 us) instead of spelled
# again (~2.5 us): such values repeat (feedback, attached objectives, responses). For values parsed from JSON the
# compact text tells them apart exactly (1 from 1.0, -0.0 from 0, key order, every string); NaN and infinities,
# which it writes as null, never come from a parse, and a key holding null is not remembered at all.
_SPELLINGS: dict[bytes, str] = {}
_MAX_SPELLINGS = 20_000
_MAX_REMEMBERED_BYTES = 512


def to_text(value: Any) -> str:
    """A text column's value (parsed from JSON): a string as it is, anything else as JSON in Torus's spelling
    (torus_json.dumps)."""
    if isinstance(value, str):
        return value
    if type(value) is dict or type(value) is list:
        try:
            key = orjson.dumps(value)
        except orjson.JSONEncodeError:  # a non-string key, a lone surrogate, too deep: spelled as it is
            return torus_json.dumps(value)
        spelled = _SPELLINGS.get(key)
        if spelled is None:
            spelled = torus_json.dumps(value)
            if len(key) <= _MAX_REMEMBERED_BYTES and b"null" not in key:
                if len(_SPELLINGS) >= _MAX_SPELLINGS:
                    _SPELLINGS.clear()
                _SPELLINGS[key] = spelled
        return spelled
    return torus_json.dumps(value)


MAX_WARNING_VALUE_CHARS = 80  # of a malformed value quoted in a warning


def quoted_value(raw: Any) -> str:
    """A malformed value as a warning names it: a scalar as JSON in Torus's spelling (long ones cut); an object or
    an array only by its kind (it may hold anything, a learner's identity too). The same in both engines."""
    if type(raw) is dict:
        return "an object"
    if type(raw) is list:
        return "an array"
    value = torus_json.dumps(raw)
    if len(value) > MAX_WARNING_VALUE_CHARS:
        value = value[:MAX_WARNING_VALUE_CHARS] + "..."
    return value


def warning_text(reason: str, raw: Any) -> str:
    """'<field (path)>: expected …, got <quoted_value(raw)>'."""
    return f"{reason}, got {quoted_value(raw)}"


def _to_uint(limit: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, str):
            if value == "":
                return None
            if not _DIGITS_RE.fullmatch(value):  # Torus's other spellings of an exact id (torus_spellings)
                lenient = torus_spellings.int_of_text(value, limit)
                if lenient is None:
                    raise _Invalid
                return lenient
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
        lenient = torus_spellings.float_of_text(value)  # Torus's float(): " 3 ", "+3", ".5", "3.", "1_0"
        if lenient is not None:
            return lenient
    raise _Invalid


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # Torus's words: "yes", " TRUE ", "0", "n", ...
        word = torus_spellings.bool_of_text(value)
        if word is not None:
            return word
    elif isinstance(value, (int, float)) and value in (0, 1):  # 0, 1, 0.0, 1.0, -0.0 (Torus: the number's truth)
        return value == 1
    raise _Invalid


_to_u32 = _to_uint(_MAX_U32)


def _to_count(value: Any) -> int | None:
    if isinstance(value, list):
        if len(value) > _MAX_U32:
            raise _Invalid
        return len(value)
    return _to_u32(value)


def _to_response(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("input"):  # Torus: `input or json.dumps(response)`
        return to_text(value["input"])
    if isinstance(value, bool):  # Torus: str() of a response that is neither a string nor an object
        return "True" if value else "False"
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


# The common shapes "YYYY-MM-DDTHH:MM:SS.fffZ" and "…SS.ffffffZ" (24 and 27 characters) are read by slicing: the
# "YYYY-MM-DDTHH:MM:" head of a value the full parser accepted in that shape is remembered with its epoch millis,
# and a value with a remembered head needs only its seconds ("SS.", 00-59) and fraction digit groups looked up.
# Any other value, or an unseen head, goes through the full parser (which remembers the head on success).
_MINUTE_STARTS: dict[str, int] = {}  # "YYYY-MM-DD?HH:MM:" → epoch milliseconds of that minute (UTC)
_MAX_MINUTE_STARTS = 100_000
_SECONDS_DOT: dict[str, int] = {f"{s:02d}.": s * 1000 for s in range(60)}  # "SS." → milliseconds
_DIGITS3: dict[str, int] = {f"{n:03d}": n for n in range(1000)}  # three ASCII digits → their value


def parse_timestamp(value: Any) -> int:
    """UTC epoch milliseconds of an ISO 8601 date-time; fractions beyond milliseconds are cut, not rounded."""
    if type(value) is str and value[-1:] == "Z":
        size = len(value)
        if size == 24 or (size == 27 and value[23:26] in _DIGITS3):
            start = _MINUTE_STARTS.get(value[:17])
            if start is not None:
                seconds = _SECONDS_DOT.get(value[17:20])
                millis = _DIGITS3.get(value[20:23])
                if seconds is not None and millis is not None:
                    return start + seconds + millis
    return _parse_timestamp_full(value)


def _parse_timestamp_full(value: Any) -> int:
    """parse_timestamp by the regular expression (every accepted shape); remembers the head of a common shape."""
    if not isinstance(value, str):
        raise _Invalid
    match = _TIMESTAMP_RE.fullmatch(value)
    if not match:
        raise _Invalid
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    day_start = _DAY_STARTS.get((year, month, day))
    if day_start is None:
        day_start = _day_start(year, month, day)
    hours, minutes, secs = int(hour), int(minute), int(second)
    if hours > 23 or minutes > 59 or secs > 59:
        raise _Invalid
    seconds = day_start + hours * 3600 + minutes * 60 + secs
    if sign:
        offset_hours, offset_minutes = int(off_h), int(off_m)
        if offset_hours > 23 or offset_minutes > 59:
            raise _Invalid
        offset = offset_hours * 3600 + offset_minutes * 60
        seconds -= offset if sign == "+" else -offset
    if fraction is None:
        return seconds * 1000
    if _zulu == "Z" and len(fraction) in (3, 6):  # a common shape: remember its head (date, hour, minute)
        if len(_MINUTE_STARTS) >= _MAX_MINUTE_STARTS:
            _MINUTE_STARTS.clear()
        _MINUTE_STARTS[value[:17]] = (seconds - secs) * 1000
    return seconds * 1000 + int(fraction[:3].ljust(3, "0"))


_DAY_STARTS: dict[tuple[str, str, str], int] = {}  # (year, month, day) digits → epoch seconds at 00:00 UTC
_MAX_DAY_STARTS = 100_000


def _day_start(year: str, month: str, day: str) -> int:
    """Epoch seconds of a valid calendar date (remembered); _Invalid outside MIN_YEAR..MAX_YEAR or not a date."""
    if not (spec.MIN_YEAR <= int(year) <= spec.MAX_YEAR):
        raise _Invalid
    try:
        date = datetime(int(year), int(month), int(day))
    except ValueError:
        raise _Invalid from None
    if len(_DAY_STARTS) >= _MAX_DAY_STARTS:
        _DAY_STARTS.clear()
    start = _DAY_STARTS[(year, month, day)] = (date.toordinal() - _EPOCH_ORDINAL) * 86400
    return start


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
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


# --- the row builder ---------------------------------------------------------------------------------------------


def classify(verb_id: str | None, object_type: str | None) -> str:
    """Torus's event_type rule (fields.EVENT_TYPE_RULES)."""
    for event_type, verbs, wanted_type in spec.EVENT_TYPE_RULES:
        if verb_id in verbs and (wanted_type is None or object_type == wanted_type):
            return event_type
    return spec.UNKNOWN_EVENT_TYPE


def parse_statement(line: bytes) -> dict:
    """The statement object of a line; Rejected when the line is not a JSON object with actor, verb and object."""
    try:
        statement = torus_json.loads(line)
    except ValueError:
        raise Rejected("not valid JSON") from None
    if type(statement) is not dict:
        raise Rejected("not a JSON object")
    for key in spec.REQUIRED_OBJECTS:
        if type(statement.get(key)) is not dict:
            raise Rejected(f"{key}: missing or not an object")
    return statement


build_row: Callable[..., tuple[Any, ...]]
build_row, BUILD_ROW_SOURCE = compile_row_builder(
    CONVERTERS, _Invalid, Rejected, invalid_reason, missing_reason, warning_text
)
build_row.__doc__ = """build_row(line, *, source_file, source_etag, source_line, warnings=None, attributed=None): the
raw_events values (a tuple in MAPPED_COLUMN_NAMES order; timestamp as UTC epoch ms) for one line, or Rejected. A
malformed optional value is stored None and its warning appended to `warnings` (a list, when given). When the line
becomes a row and its statement holds a value at fields.ATTRIBUTIONS_PATH, the parsed statement is appended to
`attributed` (a list, when given) for xolap.xapi.attributions.attribution_rows. A tuple of plain values, which the
garbage collector stops tracking: a batch of 50,000 kept rows costs no collection passes over them (~2 us a line).

Problems are reported in field-spec order (the order the SQL reason multiIf checks them). The function is generated
from the field specs at import (xolap.xapi.compiled); BUILD_ROW_SOURCE is its source. A line is read by msgspec's
typed decode (xolap.xapi.read_shape) or, when that decode cannot read it exactly alike, by torus_json.loads."""
build_row.__module__ = __name__


def map_statement(
    line: bytes | str, *, source_file: str | None = None, source_etag: str | None = None, source_line: int = 1
) -> dict[str, Any]:
    """One line as a {column: value} dict (timestamp as an aware UTC datetime); raises Rejected."""
    data = line.encode() if isinstance(line, str) else line
    row = build_row(data, source_file=source_file, source_etag=source_etag, source_line=source_line)
    out = dict(zip(MAPPED_COLUMN_NAMES, row, strict=False))
    out["timestamp"] = timestamp_to_datetime(out["timestamp"])
    return out
