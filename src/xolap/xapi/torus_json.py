"""JSON text spelled the way Torus's ETL writes it (Python json.dumps defaults), in Python and in ClickHouse SQL.

Torus stores non-string values of its JSON text columns (feedback, attached_objectives, response, …) as
`json.dumps(value)`: ", " and ": " separators, every non-ASCII character as a lowercase \\uXXXX escape (surrogate
pairs beyond the BMP), floats in Python's repr. `dumps` gives that spelling for a value parsed by `loads`;
`dumps_sql` gives the same bytes from the raw JSON text ClickHouse's JSON functions return for that value.

Measured limits, the same in both engines (docs/torus-compatibility.md): ClickHouse's JSON reader re-serializes
a whole float (1.0) as 1, so whole floats below 1e21 are written as integers where Torus writes 1.0; an integer
outside Int64/UInt64 reads as the string of its digits (ClickHouse's reader; Torus keeps the integer); a
duplicated key inside an object is written twice (Python keeps the last value only).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import orjson

_WHOLE_FLOAT_LIMIT = 1e21  # ClickHouse writes whole floats below this as integers
MIN_EXACT_INT, MAX_EXACT_INT = -(2**63), 2**64 - 1  # integers ClickHouse's JSON reader keeps as numbers
# A line that may hold an integer beyond 64 bits has a run of 19+ digits; found by mapping digits to "0" and
# everything else to "." (bytes.translate) then a substring search: ~1 us a line, a regex takes ~14.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= i <= 57 else 46 for i in range(256))
LONG_DIGIT_RUN = b"0" * 19


def _int_or_digits(text: str) -> int | str:
    value = int(text)
    return value if MIN_EXACT_INT <= value <= MAX_EXACT_INT else text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number is infinite as a double")
    return value


def loads(line: bytes) -> Any:
    """Parse a JSON line as both engines read it: duplicate keys keep the last value, an integer outside
    Int64/UInt64 becomes the string of its digits (orjson would make it an inexact float). Raises ValueError."""
    value = orjson.loads(line)
    if LONG_DIGIT_RUN not in line.translate(_DIGITS_AS_ZEROS):
        return value
    try:
        return _exact_loads(line)
    except RecursionError:  # orjson accepts ~1,000 levels; Python's json needs more room for them
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + 3000)
        try:
            return _exact_loads(line)
        finally:
            sys.setrecursionlimit(limit)


def _exact_loads(line: bytes) -> Any:
    return json.loads(line, parse_int=_int_or_digits, parse_float=_finite_float, parse_constant=_refuse_constant)


def normalized(value: Any) -> Any:
    """Whole floats below 1e21 as integers, everywhere in the value (ClickHouse cannot tell 1.0 from 1)."""
    if type(value) is float:
        return int(value) if value.is_integer() and abs(value) < _WHOLE_FLOAT_LIMIT else value
    if type(value) is dict:
        return {k: normalized(v) for k, v in value.items()}
    if type(value) is list:
        return [normalized(v) for v in value]
    return value


def _default_encoder() -> Callable[[Any], str]:
    """json.dumps with its defaults (", " and ": ", ASCII escapes, NaN allowed, no key sorting), as one C encoder
    made once: json.dumps builds a new one, and a closure, on every call (2.5x the time for a small object). No
    circular-reference markers: parsed JSON cannot refer to itself, and a shared marker table would keep the ids
    of a failed call's containers."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the _json accelerator
        return json.dumps
    encode = make(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    return lambda value: "".join(encode(value, 0))


_encode = _default_encoder()


def dumps(value: Any) -> str:
    """Torus's spelling of a parsed JSON value: json.dumps defaults, whole floats as integers. Values nested
    deeper than Python's recursion allows (parsers accept ~1,000 levels) are spelled without recursion."""
    try:
        return _encode(normalized(value))
    except RecursionError:
        return _dumps_flat(value)


def _dumps_flat(value: Any) -> str:
    """dumps with an explicit stack instead of recursion (the same text)."""
    out: list[str] = []
    stack: list[tuple[bool, Any]] = [(False, value)]  # (is literal text, item)
    while stack:
        literal, item = stack.pop()
        if literal:
            out.append(item)
        elif type(item) is dict or type(item) is list:
            opening, closing = ("{", "}") if type(item) is dict else ("[", "]")
            sequence: list[tuple[bool, Any]] = [(True, opening)]
            entries = item.items() if type(item) is dict else ((None, v) for v in item)
            for index, (key, child) in enumerate(entries):
                if index:
                    sequence.append((True, ", "))
                if key is not None:
                    sequence.append((True, json.dumps(key) + ": "))
                sequence.append((False, child))
            sequence.append((True, closing))
            stack.extend(reversed(sequence))
        else:
            out.append(json.dumps(normalized(item)))
    return "".join(out)


# --- ClickHouse SQL --------------------------------------------------------------------------------------------

# One token of ClickHouse's compact JSON text: a string, a punctuation mark, or a bare literal (number, true, …).
_TOKEN = r'"(?:[^"\\]|\\.)*"|[,:\[\]{}]|[^,:\[\]{}"]+'
_PLAIN_ASCII = r"^[ !#-\[\]-~]*$"  # printable ASCII without '"' and '\': written as it is


def _sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _string_sql(s: str) -> str:
    """A ClickHouse String expression `s` → Python's ensure_ascii JSON string literal."""
    # Queries run with short-circuit evaluation off (xolap.xapi.sql_values.QUERY_SETTINGS), so the per-character
    # escape is computed for every string: a plain one is handed to it as '' (no characters to spell).
    plain = f"match({s}, {_sql_literal(_PLAIN_ASCII)})"
    code_points = (
        "arrayMap(c -> multiIf(length(c) = 1, toUInt32(reinterpretAsUInt8(c)), "
        "length(c) = 2, (toUInt32(reinterpretAsUInt8(c)) - 192) * 64 + (toUInt32(reinterpretAsUInt8(substring(c, 2, 1))) - 128), "
        "length(c) = 3, (toUInt32(reinterpretAsUInt8(c)) - 224) * 4096 + (toUInt32(reinterpretAsUInt8(substring(c, 2, 1))) - 128) * 64 "
        "+ (toUInt32(reinterpretAsUInt8(substring(c, 3, 1))) - 128), "
        "(toUInt32(reinterpretAsUInt8(c)) - 240) * 262144 + (toUInt32(reinterpretAsUInt8(substring(c, 2, 1))) - 128) * 4096 "
        "+ (toUInt32(reinterpretAsUInt8(substring(c, 3, 1))) - 128) * 64 + (toUInt32(reinterpretAsUInt8(substring(c, 4, 1))) - 128)), "
        f"extractAll(if({plain}, '', {s}), '(?s).'))"
    )
    hex4 = "leftPad(lower(hex(toUInt16({v}))), 4, '0')"
    escaped = (
        "arrayStringConcat(arrayMap(p -> multiIf(p = 34, '\\\\\"', p = 92, '\\\\\\\\', p = 10, '\\\\n', p = 13, '\\\\r', "
        "p = 9, '\\\\t', p = 8, '\\\\b', p = 12, '\\\\f', p >= 32 AND p <= 126, char(p), "
        f"p < 65536, concat('\\\\u', {hex4.format(v='p')}), "
        f"concat('\\\\u', {hex4.format(v='55296 + intDiv(p - 65536, 1024)')}, '\\\\u', {hex4.format(v='56320 + ((p - 65536) % 1024)')})), "
        f"{code_points}))"
    )
    return f"if({plain}, concat('\"', {s}, '\"'), concat('\"', {escaped}, '\"'))"


def bind(names: str, values: list[str], body: str) -> str:
    """`body` with lambda parameters `names` bound to `values` (each computed once: keeps the expression small)."""
    return f"arrayMap(({names}) -> {body}, {', '.join(f'[{v}]' for v in values)})[1]"


def _float_sql(t: str) -> str:
    """ClickHouse's shortest float text `t` (e.g. 1.5e-7, 0.00001, 1e22) → Python's float repr (1.5e-07, 1e-05, 1e+22)."""
    # d: the significant digits, x: the decimal exponent of the first one (Python switches to e-notation outside -4..15)
    fixed = (
        "if(x >= 0, concat(rightPad(substring(d, 1, toUInt32(greatest(x + 1, 1))), toUInt32(greatest(x + 1, 1)), '0'), '.', "
        "if(length(d) > x + 1, substring(d, toUInt32(greatest(x + 2, 1))), '0')), "
        "concat('0.', repeat('0', toUInt32(least(greatest(-x - 1, 0), 400))), d))"
    )
    scientific = (
        "concat(substring(d, 1, 1), if(length(d) > 1, concat('.', substring(d, 2)), ''), 'e', "
        "if(x < 0, '-', '+'), if(abs(x) < 10, '0', ''), toString(abs(x)))"
    )
    digits = bind(
        "d, x",
        ["trimRight(st, '0')", "ex + toInt32(length(ip)) - 1 - (toInt32(length(al)) - toInt32(length(st)))"],
        f"concat(sg, if(x >= -4 AND x < 16, {fixed}, {scientific}))",
    )
    stripped = bind("st", ["trimLeft(al, '0')"], digits)
    parts = bind(
        "ip, al", ["splitByChar('.', m)[1]", "concat(splitByChar('.', m)[1], splitByChar('.', m)[2])"], stripped
    )
    exponent = bind("m, ex", ["pa[1]", "toInt32OrZero(replaceOne(pa[2], '+', ''))"], parts)
    return bind(
        "pa, sg",
        [f"splitByChar('e', if(startsWith({t}, '-'), substring({t}, 2), {t}))", f"if(startsWith({t}, '-'), '-', '')"],
        exponent,
    )


def dumps_sql(raw: str) -> str:
    """A ClickHouse expression: the raw JSON text `raw` (as JSONExtract*Raw returns it) in Torus's spelling."""
    token = (
        f"t -> multiIf(t = ',', ', ', t = ':', ': ', startsWith(t, '\"'), {_string_sql('JSONExtractString(t)')}, "
        f"match(t, '^-?[0-9].*[.eE]'), {_float_sql('t')}, t = '-0', '0', t)"
    )
    return f"arrayStringConcat(arrayMap({token}, extractAll({raw}, {_sql_literal(_TOKEN)})))"
