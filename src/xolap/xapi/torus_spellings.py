"""The loose spellings Torus's ETL accepts for ids, numbers and booleans that xolap reads the same way, in both engines.

Torus's Lambda (cloud/xapi-etl-processor: `_safe_int`, `_safe_float`, `_coerce_bool`) reads a string id with
Python's `int()`, or `int(float())` when it holds a `.`; a string number with `float()`; a boolean from
`strip().lower()` in a fixed word list, or a number's truth. xolap stores the same value for the spellings real
producers write, each read by one regular expression (its Python form here, its RE2 form in the SQL engine):

- an id or count: decimal digits with surrounding whitespace, a `+`, and a `.` followed by zeros only (` 3 `,
  `+3`, `3.0`, `3.`, `007`), or a minus zero (`-0`, `-0.0`).
- a number: `[+-]digits[.digits][e[+-]digits]` or `[+-].digits[…]` with surrounding whitespace (` 2.5 `, `+1`,
  `.5`, `3.`, `1e-1`).
- a boolean: a string whose stripped, lower-cased text is one of Torus's words; the numbers 0 and 1.

Whitespace is what Python skips there: str.strip()'s characters for words, the same less \x1c-\x1f for numbers.
Kept NULL with a warning where Torus stores a value (docs/torus-compatibility.md): a fractional id (`2001.5`, which
Torus truncates to another id, 2001), a negative one (Torus fails the whole S3 object), the words `nan`/`inf` as a
number (one such score turns every average over its section into NaN), a number other than 0 and 1 as a boolean
(Torus: its truth, so 0.5 is a success); and, to keep the SQL mapping small (its planning is most of a small
file's ingest), the spellings no producer writes: `_` between digits (`1_000`), an id with an exponent (`1.5e3`),
other scripts' digits.
"""

from __future__ import annotations

import re

# The characters Python's str.strip() (and int(), float()) remove: str.isspace() (tested against Python's).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# WHITESPACE in RE2: the Unicode separators (Zs, Zl, Zp) and the control characters str.isspace() adds.
WHITESPACE_RE2 = r"[\pZ\t-\r\x1c-\x1f\x85]"
# What int() and float() skip around a number: WHITESPACE but the separators \x1c-\x1f (measured, Python 3.11).
NUMBER_WHITESPACE = WHITESPACE.replace("\x1c\x1d\x1e\x1f", "")
NUMBER_WHITESPACE_RE2 = r"[\pZ\t-\r\x85]"

TRUE_WORDS = ("true", "1", "t", "yes", "y")
FALSE_WORDS = ("false", "0", "f", "no", "n")


def _patterns(ws: str) -> tuple[str, str]:
    """(id, number) over whitespace class `ws`: group 1 (or 2, a minus zero's 0) is what int() / float() read."""
    return (
        f"{ws}*(?:\\+?([0-9]+)|-0*(0))(?:\\.0*)?{ws}*",
        f"{ws}*([+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?){ws}*",
    )


_ID, _NUMBER = (re.compile(p, re.DOTALL) for p in _patterns("[" + re.escape(NUMBER_WHITESPACE) + "]"))
_ID_RE2, _NUMBER_RE2 = _patterns(NUMBER_WHITESPACE_RE2)


def int_of_text(text: str, limit: int) -> int | None:
    """The integer Torus reads from a string id, for the spellings above, where it is in 0..limit; None otherwise."""
    match = _ID.fullmatch(text)
    if match is None:
        return None
    value = int(match.group(1) or match.group(2))
    return value if value <= limit else None


def float_of_text(text: str) -> float | None:
    """The number Torus reads from a string number, for the spellings above (one too large is inf, as in Torus)."""
    match = _NUMBER.fullmatch(text)
    return None if match is None else float(match.group(1))


def bool_of_text(text: str) -> bool | None:
    """Torus's boolean of a string: its stripped, lower-cased text in TRUE_WORDS or FALSE_WORDS; None otherwise."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


# --- the same in ClickHouse SQL, over `raw`, a value's raw JSON text --------------------------------------------
# Each reads a JSON string only, through a lambda over a one-element array that is empty for any other value: the
# mapping evaluates every expression eagerly, and a regular expression over every row's empty text cost ~230 ns a
# row and site (54 sites: +25% CPU of the whole mapping, measured); over an empty array it costs nothing. The id
# and number forms give the text the plain path then converts (toUInt64OrNull / toFloat64OrNull, which check the
# column's range), '' where the spelling is not one of these.


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _over_string(raw: str, body: str) -> str:
    """`body` over `_ls`, the decoded text of `raw` when it is a JSON string; '' or NULL (by body's type) otherwise."""
    decoded = body.replace("_ls", "JSONExtractString(_lr)")  # decoded in the lambda: only JSON strings pay for it
    return f"arrayMap(_lr -> {decoded}, if(startsWith({raw}, '\"'), [{raw}], []))[1]"


def _captured(pattern: str, groups: str) -> str:
    """`groups` of `pattern` matching all of `_ls`, else '' (the second alternative matches anything)."""
    return f"replaceRegexpOne(_ls, {_quote('(?s)^(?:' + pattern + '|.*)$')}, {_quote(groups)})"


def int_digits_sql(raw: str) -> str:
    """String: the digits int_of_text reads from a JSON string, else ''."""
    return _over_string(raw, _captured(_ID_RE2, "\\1\\2"))


def float_text_sql(raw: str) -> str:
    """String: the number float_of_text reads from a JSON string, else ''."""
    return _over_string(raw, _captured(_NUMBER_RE2, "\\1"))


def bool_of_text_sql(raw: str) -> str:
    """Nullable(Bool): bool_of_text of a JSON string, else NULL (ClickHouse's lower() is ASCII-only, as the words
    are)."""
    word = f"lower(replaceRegexpAll(_ls, {_quote(f'^{WHITESPACE_RE2}+|{WHITESPACE_RE2}+$')}, ''))"
    true_words = ", ".join(_quote(w) for w in TRUE_WORDS)
    false_words = ", ".join(_quote(w) for w in FALSE_WORDS)
    return _over_string(raw, f"multiIf({word} IN ({true_words}), true, {word} IN ({false_words}), false, NULL)")
