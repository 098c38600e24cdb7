"""The bytes a statement is hashed as (event_hash), the same whichever path brought it in.

A statement's identity is the SHA-256 of its JSON text with the insignificant whitespace removed: every space,
tab, CR and LF outside a string goes; strings, numbers, escapes and key order stay exactly as the producer wrote
them. A compact line (Torus writes its bundles with one compact JSON object per line) is unchanged, so it keeps
the hash Torus's own ETL gives it (sha256 of the raw line); the same statement pretty-printed in an API body, with
spaces inside a JSONL line, or as an element of a JSON array hashes to the same value and is stored once.

`statement_line` is the Python form, `statement_line_sql` the ClickHouse form (the same regular expressions,
re2 syntax); tests/ingest/test_statement_identity.py checks that they agree. Only the hash uses this text:
validation and the stored raw_line of a rejected line still see the line exactly as received.
"""

from __future__ import annotations

import hashlib
import json
import re

# Maximal runs of JSON strings (escapes included) and characters that are neither a quote nor JSON whitespace: the
# runs of a line joined are the line without the whitespace outside its strings (re2 and Python syntax).
_RUNS = r'(?:"[^"\\]*(?:\\[\s\S][^"\\]*)*"|[^" \t\n\r]+)+'
_WHITESPACE = b" \t\n\r"
# Where whitespace outside strings can stand in valid JSON (RFC 8259: only at the ends and around structural
# characters): after { [ or before } ]; between a key's closing quote and ':' or after '":'; before ','; after ','
# that follows a value's last character and before the next value or key. A line without a match is compact, so
# ClickHouse keeps it as it is; prose inside strings rarely matches ("Unit 1: Matter" does not).
_W = r"[ \t\n\r]"
_LOOSE = "|".join(
    [f"^{_W}", f"{_W}$", rf"[{{\[]{_W}", rf"{_W}[}}\]]", f'"{_W}+:', f'":{_W}', f"{_W},", rf'["}}\]0-9el],{_W}+["{{\[0-9tfn-]']
)
_RUNS_RE = re.compile(_RUNS.encode())


def statement_line(line: bytes) -> bytes:
    """The statement's identity text: `line` without whitespace outside strings (`line` itself when compact).

    Fast path: without an escaped quote, splitting on '"' alternates outside / inside strings, so the outside
    parts are the even ones (about 5 us for a 1.3 KB Torus line); with one, the regular expression decides."""
    if b'\\"' in line:
        runs = _RUNS_RE.findall(line)
        return line if len(runs) == 1 and len(runs[0]) == len(line) else b"".join(runs)
    parts = line.split(b'"')
    outside = parts[0::2]
    if not any(len(part.translate(None, _WHITESPACE)) != len(part) for part in outside):
        return line
    parts[0::2] = [part.translate(None, _WHITESPACE) for part in outside]
    return b'"'.join(parts)


def statement_hash(line: bytes) -> str:
    """event_hash: lowercase hex SHA-256 of statement_line(line)."""
    return hashlib.sha256(statement_line(line)).hexdigest()


def array_element_lines(array: bytes) -> list[bytes]:
    """The statement lines of a JSON array that orjson has already parsed: each element's own text (as written,
    escapes and numbers untouched) made compact by statement_line, in order."""
    text = array.decode("utf-8")
    decoder = json.JSONDecoder()
    lines: list[bytes] = []
    position = text.index("[") + 1
    while True:
        position = _skip_whitespace(text, position)
        if text[position] == "]":
            return lines
        _value, end = decoder.raw_decode(text, position)
        lines.append(statement_line(text[position:end].encode("utf-8")))
        position = _skip_whitespace(text, end)
        if text[position] == ",":
            position += 1


def _skip_whitespace(text: str, position: int) -> int:
    while text[position] in " \t\n\r":
        position += 1
    return position


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def statement_line_sql(line: str) -> str:
    """ClickHouse expression for statement_line of the String expression `line`."""
    return f"if(match({line}, {_literal(_LOOSE)}), arrayStringConcat(extractAll({line}, {_literal(_RUNS)})), {line})"


def statement_hash_sql(line: str) -> str:
    """ClickHouse expression for statement_hash of the String expression `line`."""
    return f"lower(hex(SHA256({statement_line_sql(line)})))"


__all__ = ["array_element_lines", "statement_hash", "statement_hash_sql", "statement_line", "statement_line_sql"]
