"""Readable, data-free error text for backfill records and logs: the error's kind and reason, never the source row.

ClickHouse messages quote the input they failed on (`before: '{"actor":{"name":"Ann Lee"…'`, `parsed text: "…"`,
`Row 1: Column 0, name: …, value: …`). A run's error field is shown in list/show/watch and the UI and kept, so
those fragments must not reach it: `describe` keeps the exception type, ClickHouse's code and error name, and the
message with the echoed input removed, and (for errors about the data, or of unknown kind) every quoted literal
that could be a value replaced by '…'; secrets are removed. Infrastructure errors (S3, network) keep their
literals: bucket names and causes such as 'Connection refused'.
"""

from __future__ import annotations

import re

from xolap.backfill.s3paths import redact
from xolap.config import Settings

MAX_LENGTH = 1000

# The input ClickHouse quotes around a parse failure: `before: '<text>': (while reading the value of key x)`,
# `parsed text: "<text>"`. The quoted text may itself hold quotes, so it ends where ClickHouse's next part starts.
_ECHOED_INPUT = re.compile(
    r"\b(before|parsed text):\s*(['\"]).*?\2(?=\s*:?\s*(?:\(|ERROR\b|$|,\s*\w+:))", re.IGNORECASE
)
# Whole-row dumps (`Row 1: Column 0, name: …, value: …`): cut everything from them on.
_ROW_DUMPS = re.compile(r"(?:\bRow \d+:\s*Column|\bCould not print diagnostic info\b|\bInput data\b)", re.IGNORECASE)
_UNCLOSED_ECHO = re.compile(r"\b(before|parsed text):\s*['\"].*$", re.IGNORECASE)
# A quoted literal: '…' or "…" (with backslash escapes); JSON braces outside quotes are data too.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_JSON_BLOB = re.compile(r"[{\[][^{}\[\]]{0,400}[}\]]")
_CODE_NAME = re.compile(r"\(([A-Z][A-Z0-9_]{2,})\)")
_VERSION = re.compile(r"\s*\(version [^)]*\)")
# Errors about the data itself (a value that does not parse or fit): their other quoted literals may be values too.
_DATA_ERROR_HINTS = (
    "PARSE",
    "INCORRECT_DATA",
    "CANNOT_READ",
    "TYPE_MISMATCH",
    "CONVERT",
    "VALUE",
    "JSON",
    "CANNOT_INSERT",
    "TOO_LARGE",
    "ILLEGAL",
    "INVALID",
)
# In a data error, literals kept because they name our own objects, not data: S3 keys and paths (with a '/'), db.table names, and
# the one-character punctuation ClickHouse says it expected. Every other quoted literal may be a value: replaced.
_SAFE_LITERAL = re.compile(
    r"^(?:[A-Za-z0-9_.:/=\-*{},?]*/[A-Za-z0-9_.:/=\-*{},?]*|[A-Za-z_]\w*\.[A-Za-z_]\w*|[^\w\s]{1,2})$"
)


_STRICT_SAFE_LITERAL = re.compile(r"^(?:[A-Za-z_]\w*\.[A-Za-z_]\w*|[^\w\s]{1,2})$")


def _scrub_literal(match: re.Match, strict: bool) -> str:
    """In a data error (strict) only db.table names and punctuation stay: a value may look like a path or URL."""
    inner = match.group(0)[1:-1]
    safe = (_STRICT_SAFE_LITERAL if strict else _SAFE_LITERAL).match(inner)
    return match.group(0) if len(inner) <= 300 and safe and "@" not in inner else "'…'"


def scrub(message: str) -> str:
    """The message without row content: row dumps cut, data-like quoted literals and JSON blobs replaced."""
    code_names = _CODE_NAME.findall(message)
    text = " ".join(message.split())
    cut = _ROW_DUMPS.search(text)
    if cut:
        text = text[: cut.start()].rstrip(" :,") + " …"
    text, echoes = _ECHOED_INPUT.subn(lambda m: f"{m.group(1)}: '…'", text)
    if not echoes:  # a quoted echo whose end cannot be told: drop the rest of the message
        text = _UNCLOSED_ECHO.sub(lambda m: f"{m.group(1)}: '…'", text)
    data_error = any(hint in name for name in code_names for hint in _DATA_ERROR_HINTS)
    if data_error or not code_names:
        text = _QUOTED.sub(lambda m: _scrub_literal(m, strict=data_error), text)
    text = _JSON_BLOB.sub("{…}", text)
    text = _VERSION.sub("", text)
    if code_names and code_names[-1] not in text:
        text += f" ({code_names[-1]})"
    return text


def describe(exc: BaseException, settings: Settings) -> str:
    """One readable line for a run or chunk record: `Type: reason (CODE_NAME)`, no row content, no secrets."""
    text = redact(settings, " ".join(str(exc).split())) or type(exc).__name__
    return f"{type(exc).__name__}: {scrub(text)}"[:MAX_LENGTH]
