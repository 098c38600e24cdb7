"""Query results as JSON, NDJSON and CSV, produced piece by piece so a web response or a file can stream them."""

from __future__ import annotations

import csv
import io
import ipaddress
import math
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from xolap.analytics.executor import QueryResult

CSV_BATCH_ROWS = 1000


def json_value(value: Any) -> Any:
    """A JSON-safe form of one ClickHouse value (Decimal as string to keep precision, NaN/inf as null)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(json_value(key)): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_value(item) for item in value]
    return str(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=json_value)


def _meta(result: QueryResult) -> dict[str, Any]:
    return {
        "columns": [{"name": name, "type": type_} for name, type_ in zip(result.columns, result.types, strict=False)],
        "truncated": result.truncated,
        "row_count": len(result.rows),
        "elapsed_ms": round(result.elapsed_ms, 3),
        "rows_read": result.rows_read,
        "bytes_read": result.bytes_read,
        "tag": result.tag,
    }


def to_json(result: QueryResult) -> dict[str, Any]:
    """The whole result as one JSON-ready dict: columns (name, type), rows (lists), truncated, row_count, elapsed_ms,
    rows_read, bytes_read (None when the engine does not report them), tag."""
    return {**_meta(result), "rows": [[json_value(value) for value in row] for row in result.rows]}


def iter_json(result: QueryResult) -> Iterator[bytes]:
    """The same document as to_json, as byte chunks: the header, then one chunk per row, then the footer."""
    head = _dumps(_meta(result))
    yield head[:-1] + b',"rows":['
    for index, row in enumerate(result.rows):
        yield (b"," if index else b"") + _dumps([json_value(value) for value in row])
    yield b"]}"


def iter_ndjson(result: QueryResult) -> Iterator[bytes]:
    """One JSON object per row and line, keyed by column name."""
    for row in result.rows:
        yield _dumps({name: json_value(value) for name, value in zip(result.columns, row, strict=False)}) + b"\n"


# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection), and the numbers that merely start so.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet would run as a formula, with a leading `'` so it shows as text (xAPI text such as an
    activity's name or a learner's response reaches exports as written); plain numbers are kept."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_value(value: Any) -> Any:
    """A CSV cell: NULL as empty, arrays/maps/tuples as JSON text, booleans as true/false, text a spreadsheet
    would run as a formula behind a `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, set)):
        return spreadsheet_text(_dumps(json_value(value)).decode())
    jsonable = json_value(value)
    if isinstance(jsonable, str):
        return spreadsheet_text(jsonable)
    return "" if jsonable is None else jsonable


def iter_csv(result: QueryResult, *, header: bool = True) -> Iterator[str]:
    """RFC 4180 CSV text in chunks of CSV_BATCH_ROWS rows, with a header line of column names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow([spreadsheet_text(column) for column in result.columns])
    for index, row in enumerate(result.rows, start=1):
        writer.writerow([csv_value(value) for value in row])
        if index % CSV_BATCH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
