"""The ClickHouse SQL pieces shared by the xAPI mapping (xolap.xapi.sql) and the attributions' SQL: literals,
JSON objects read into Maps (last duplicate key wins), Torus's text spelling, and each field kind's conversion from
raw JSON text (the same rules as xolap.xapi.rows)."""

from __future__ import annotations

from collections.abc import Callable

from xolap.xapi import fields as spec
from xolap.xapi import rows, torus_json, torus_spellings
from xolap.xapi.rows import NUMBER_PATTERN, TIMESTAMP_PATTERN

LINE_FORMAT = "LineAsString"
# Short-circuit evaluation re-computes the shared per-level Maps inside every lazily evaluated branch (measured
# 10x slower on the reason multiIf); every expression here is safe to evaluate eagerly.
MAPPING_SETTINGS = {"short_circuit_function_evaluation": "disable"}
QUERY_SETTINGS = "SETTINGS " + ", ".join(f"{name} = '{value}'" for name, value in MAPPING_SETTINGS.items())
# A SETTINGS clause of a subquery does not reach the expressions ClickHouse evaluates for it (measured in chDB
# 26.9: a mapping SELECT wrapped as `SELECT * FROM (<mapping> SETTINGS …)` ran with short-circuit evaluation on,
# 1.7x the CPU): a statement that wraps a mapping SELECT must carry MAPPING_SETTINGS at its own top level.
DEFAULT_LINE_COLUMN = "line"


def quote(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _regex(pattern: str) -> str:
    return quote(f"^{pattern}$")


NULLISH = "('', 'null')"
OBJECT_START = quote("^[ \\t\\n\\r]*[{]")
_BLANK_LINE = quote("^[ \\t\\n\\r\\f\\v]*$")
_NUMBER = _regex(NUMBER_PATTERN)
_QUOTED_NUMBER = _regex('"' + NUMBER_PATTERN + '"')
_EMPTYISH = "('', 'null', '\"\"')"
# Raw texts Python finds falsy (absent, null, 0, "", false, [], {}): they fall through a fallback="truthy" chain.
FALSY = "('', 'null', '0', '-0', '\"\"', 'false', '[]', '{}')"


def object_map(raw: str, keys: tuple[str, ...] = ()) -> str:
    """Map key → raw value text of a JSON object's text; with duplicate keys the last one wins (as in Python).

    With keys: the object reached from that text through those keys (ClickHouse takes the FIRST of duplicate keys
    on the way: a caller makes sure each is unique, see xolap.xapi.sql._Query's skipped levels)."""
    path = "".join(f", {quote(key)}" for key in keys)
    return f"CAST(arrayReverse(JSONExtractKeysAndValuesRaw({raw}{path})), 'Map(String, String)')"


# Raw JSON text whose Torus spelling is the text with a space after each ',' and ':': compact (as ClickHouse writes
# raw values), no '.', no exponent and no -0 (number tokens spelled as they are), strings of printable ASCII without
# '"', '\\', ',' or ':' (written as they are, and holding no separator); anything else goes through dumps_sql.
_SIMPLE_JSON = _regex('(?:[-{}\\[\\],:0-9a-z]|"[ !#-+\\--9;-\\[\\]-~]*")*')
_NOT_SIMPLE_NUMBER = quote("[0-9][eE]|-0")


def text_of(raw: str) -> str:
    """A text column's value from present raw JSON: a string as it is, anything else in Torus's JSON spelling
    (evaluated eagerly, QUERY_SETTINGS: a string, or a simple value spelled by adding spaces after its separators,
    reaches the token-by-token spelling as '', which costs nothing to spell; 8% of the screen's CPU, measured)."""
    is_string = f"startsWith({raw}, '\"')"
    simple = f"(NOT {is_string} AND match({raw}, {_SIMPLE_JSON}) AND NOT match({raw}, {_NOT_SIMPLE_NUMBER}))"
    spaced = f"replaceAll(replaceAll({raw}, ',', ', '), ':', ': ')"
    rest = f"if({is_string} OR {simple}, '', {raw})"
    return f"multiIf({is_string}, JSONExtractString({raw}), {simple}, {spaced}, {torus_json.dumps_sql(rest)})"


def warning_value(raw: str) -> str:
    """The malformed value as a warning names it (rows.quoted_value): a scalar as Torus-spelled JSON, long ones
    cut; an object or an array by its kind."""
    cut = rows.MAX_WARNING_VALUE_CHARS
    body = (
        "multiIf(startsWith(_wv_raw, '{'), 'an object', startsWith(_wv_raw, '['), 'an array', "
        f"length(_wv_text) > {cut}, concat(substring(_wv_text, 1, {cut}), '...'), _wv_text)"
    )  # the raw value and its spelling each written and computed once (bound as lambda parameters)
    return torus_json.bind("_wv_raw", [raw], torus_json.bind("_wv_text", [torus_json.dumps_sql("_wv_raw")], body))


def _no_alias(name: str, expression: str) -> str:
    return f"({expression})"


def _entry_of(entries: str, key: str) -> str:
    return f"{entries}[{key}]"


def convert(
    kind: str,
    raw: str,
    alias: Callable[[str, str], str] = _no_alias,
    text: Callable[[str], str] = text_of,
    entry: Callable[[str, str], str] = _entry_of,
) -> tuple[str, str]:
    """(value expression, validity expression) for raw JSON text `raw` that is present (not absent, not null).

    `alias(name, expr)` names a sub-expression used more than once (the timestamp's regex groups); `text(raw)`
    gives a text column's value (text_of, or a shared form of it); `entry(entries, key)` the raw text of an entry of
    the object `raw` whose Map is `entries` (by default from the Map; xolap.xapi.sql reads some lines' entries from
    the line itself, where a value written again would be spelled differently)."""
    is_string = f"startsWith({raw}, '\"')"
    if kind == "string":
        is_int = f"match({raw}, {_regex('-?[0-9]{1,' + str(spec.MAX_STRING_INT_DIGITS) + '}')})"
        # -0 (a -0.0 as ClickHouse writes it) is Python's integer 0
        return (
            f"multiIf({is_string}, JSONExtractString({raw}), {raw} = '-0', '0', {is_int}, {raw}, NULL)",
            f"{is_string} OR {is_int}",
        )
    if kind == "text":
        return text(raw), "1"
    if kind in ("uint64", "uint32", "count"):
        fn = "toUInt64OrNull" if kind == "uint64" else "toUInt32OrNull"
        # the last arm: Torus's other spellings of an exact id (" 3 ", "3.0", "+3"; torus_spellings)
        loose = torus_spellings.int_digits_sql(raw)
        digits = (
            f"multiIf(match({raw}, '^[0-9]+$'), {raw}, {raw} = '-0', '0', match({raw}, '^\"[0-9]+\"$'), "
            f"substring({raw}, 2, length({raw}) - 2), {alias('ld', loose)})"
        )
        value = f"{fn}({digits})"
        valid = f"{raw} IN {_EMPTYISH} OR {value} IS NOT NULL"
        if kind == "count":
            is_array = f"startsWith({raw}, '[')"
            return (
                f"if({is_array}, toUInt32(JSONLength({raw})), {value})",
                f"{is_array} OR {valid}",
            )
        return value, valid
    if kind == "float64":
        # the last arm: Torus's float() spellings (" 3 ", "+3", ".5", "3."; torus_spellings)
        loose = torus_spellings.float_text_sql(raw)
        number = (
            f"multiIf(match({raw}, {_NUMBER}), {raw}, match({raw}, {_QUOTED_NUMBER}), "
            f"substring({raw}, 2, length({raw}) - 2), {alias('lf', loose)})"
        )
        value = f"toFloat64OrNull({number})"
        return value, f"{raw} IN {_EMPTYISH} OR {value} IS NOT NULL"
    if kind == "bool":
        # Torus's words ("yes", " TRUE ", "0") and the numbers 0 and 1 (a whole float is written 1 or 0 or -0)
        word = torus_spellings.bool_of_text_sql(raw)
        value = f"multiIf({raw} IN ('true', '1'), true, {raw} IN ('false', '0', '-0'), false, {word})"
        return value, f"{value} IS NOT NULL"
    if kind == "response":
        inner = alias("in", entry(alias("rm", object_map(raw)), "'input'"))
        has_input = f"startsWith({raw}, '{{') AND {inner} NOT IN {FALSY}"  # Torus: `input or json.dumps(...)`
        spelled = text(alias("rc", f"if({has_input}, {inner}, {raw})"))
        # Torus: str() of a response that is neither a string nor an object (True, False)
        return f"multiIf({raw} = 'true', 'True', {raw} = 'false', 'False', {spelled})", "1"
    if kind == "lang_map":
        entries = alias("lm", f"if(startsWith({raw}, '{{'), {object_map(raw)}, CAST(map(), 'Map(String, String)'))")
        chosen_key = (
            f"multiIf(mapContains({entries}, 'en-US'), 'en-US', mapContains({entries}, 'en'), 'en', "
            f"length({entries}) > 0, JSONExtractKeys({raw})[1], '')"
        )
        chosen = alias("lc", f"if(length({entries}) > 0, {entry(entries, alias('lk', chosen_key))}, 'null')")
        in_map = f"if({chosen} IN {NULLISH}, NULL, {text(chosen)})"
        is_object = f"startsWith({raw}, '{{')"
        return (
            f"multiIf({is_string}, JSONExtractString({raw}), {is_object}, {in_map}, NULL)",
            f"{is_string} OR {is_object}",
        )
    if kind == "timestamp":
        return _timestamp(raw, alias)
    raise ValueError(f"unknown field kind {kind!r}")


def _timestamp(raw: str, alias: Callable[[str, str], str]) -> tuple[str, str]:
    text = f"if(startsWith({raw}, '\"'), JSONExtractString({raw}), '')"
    g = alias("tsg", f"extractGroups({text}, {_regex(TIMESTAMP_PATTERN)})")
    # g: 1 year 2 month 3 day 4 hour 5 minute 6 second 7 fraction 8 Z 9 sign 10 offset hours 11 offset minutes
    date = f"concat({g}[1], '-', {g}[2], '-', {g}[3])"
    valid = (
        f"length({g}) = 11 AND {g}[1] BETWEEN '{spec.MIN_YEAR}' AND '{spec.MAX_YEAR}' "
        f"AND toString(toDate32OrNull({date})) = {date} AND {g}[4] <= '23' AND {g}[5] <= '59' AND {g}[6] <= '59' "
        f"AND ({g}[9] = '' OR ({g}[10] <= '23' AND {g}[11] <= '59'))"
    )
    local = (
        f"makeDateTime64(toUInt16OrZero({g}[1]), toUInt8OrZero({g}[2]), toUInt8OrZero({g}[3]), toUInt8OrZero({g}[4]), "
        f"toUInt8OrZero({g}[5]), toUInt8OrZero({g}[6]), toUInt32OrZero(rightPad(substring({g}[7], 1, 3), 3, '0')), 3, 'UTC')"
    )
    offset = f"if({g}[9] = '-', -1, 1) * (toInt32OrZero({g}[10]) * 3600 + toInt32OrZero({g}[11]) * 60)"
    ok = alias("tsok", f"({valid})")
    return f"if({ok}, {local} - toIntervalSecond({offset}), NULL)", ok


def not_blank_condition(line_column: str = DEFAULT_LINE_COLUMN) -> str:
    """Lines that count (Python: `line.strip()` non-empty)."""
    return f"NOT match({line_column}, {_BLANK_LINE})"
