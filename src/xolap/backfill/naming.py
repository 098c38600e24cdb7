"""Validation of what an operator types into a backfill: target table, data format, ClickHouse settings, S3 pattern.

Every check raises BackfillInputError naming the field, the value and what is expected.
"""

from __future__ import annotations

import re
from typing import Any

FORMATS = ("JSONAsString", "JSONEachRow", "Parquet")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE_RE = re.compile(rf"^{_IDENT}(?:\.{_IDENT})?$")
_SETTING_RE = re.compile(r"^[a-z_][a-z0-9_]{0,99}$")
_RANGE_RE = re.compile(r"^-?\d+\.\.-?\d+$")
# Settings a backfill may not change: they would break the worker's own guarantees or the engine's safety.
FORBIDDEN_SETTINGS = frozenset(
    {"readonly", "insert_deduplication_token", "insert_deduplicate", "allow_ddl", "log_queries"}
)


class BackfillInputError(ValueError):
    """An invalid backfill parameter; the message names the field and the reason."""


def target_table(value: str | None, database: str) -> str:
    """`db.table` or `table` (qualified with `database`); default `<database>.raw_events`."""
    if not value:
        return f"{database}.raw_events"
    value = value.strip()
    if not _TABLE_RE.match(value):
        raise BackfillInputError(
            f"target_table: {value!r} is not a table name (expected db.table or table, letters/digits/_)"
        )
    return value if "." in value else f"{database}.{value}"


def quoted_table(value: str) -> str:
    """`db`.`table` for SQL (the value was validated by target_table)."""
    if not _TABLE_RE.match(value):
        raise BackfillInputError(f"target_table: {value!r} is not a table name")
    return ".".join(f"`{part}`" for part in value.split("."))


def data_format(value: str | None) -> str:
    value = value or "JSONAsString"
    for known in FORMATS:
        if value.lower() == known.lower():
            return known
    raise BackfillInputError(f"format: {value!r} is not supported (use one of {', '.join(FORMATS)})")


def clickhouse_settings(values: dict[str, Any] | None) -> dict[str, Any]:
    """Validated settings: lower-case identifiers, scalar values (int, float, bool, short string)."""
    out: dict[str, Any] = {}
    for name, value in (values or {}).items():
        if not isinstance(name, str) or not _SETTING_RE.match(name):
            raise BackfillInputError(
                f"clickhouse_settings: {name!r} is not a setting name (lower-case letters, digits, _)"
            )
        if name in FORBIDDEN_SETTINGS:
            raise BackfillInputError(
                f"clickhouse_settings: {name!r} is managed by the backfill worker and cannot be set"
            )
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, str):
            if len(value) > 200 or "\n" in value:
                raise BackfillInputError(f"clickhouse_settings: value of {name!r} is too long or has a newline")
            if re.fullmatch(r"-?\d+", value):
                value = int(value)
        elif not isinstance(value, (int, float)):
            raise BackfillInputError(
                f"clickhouse_settings: value of {name!r} must be a number, boolean or string, got {type(value).__name__}"
            )
        out[name] = value
    return out


def check_globs(pattern: str, field: str = "s3_pattern") -> str:
    """Accept `*`, `**`, `?`, `{a,b}` and `{1..9}`; reject unbalanced or nested braces and bad ranges."""
    depth, start = 0, -1
    for i, char in enumerate(pattern):
        if char == "{":
            if depth:
                raise BackfillInputError(f"{field}: nested '{{' at position {i} in {pattern!r}")
            depth, start = 1, i
        elif char == "}":
            if not depth:
                raise BackfillInputError(f"{field}: '}}' without '{{' at position {i} in {pattern!r}")
            depth = 0
            body = pattern[start + 1 : i]
            if not body:
                raise BackfillInputError(f"{field}: empty '{{}}' at position {start} in {pattern!r}")
            if ".." in body and "," not in body and not _RANGE_RE.match(body):
                raise BackfillInputError(f"{field}: range {{{body}}} must be {{N..M}} with integers")
    if depth:
        raise BackfillInputError(f"{field}: '{{' at position {start} is never closed in {pattern!r}")
    if "'" in pattern or "\\" in pattern or any(ord(c) < 32 for c in pattern):
        raise BackfillInputError(f"{field}: quotes, backslashes and control characters are not allowed in {pattern!r}")
    return pattern
