"""Hostile number spellings stored by the SQL engine exactly as by the Python engine (the reference).

ClickHouse spells a number again each time it writes a value out of the JSON it parsed, and two spellings are not
stable: -0.0 is written -0, then 0; a whole float beyond 64-bit integers (1e20) is written as its digits, then as a
string of those digits. A value reached through nested objects was written twice, so the SQL engine once stored 0
for -0.0 and kept "100000000000000000000" for 1e20 in a string field (Python: NULL with a warning). Every spelling
below is placed at depth 1, 2, 3 and deeper, bare and inside arrays and objects, behind duplicate keys, and the
rows, ingest_errors and experiment_attributions of both engines compared."""

from __future__ import annotations

import json
import math
import random

from xapi.test_sql_json_reading import _stored_by_both_engines
from xolap.xapi import sql
from xolap.xapi.sql_values import quote

OLI = "http://oli.cmu.edu/extensions/"
VIDEO = "https://w3id.org/xapi/video/extensions/"
NUMBERS = [
    "1e20", "1E+20", "1.0e20", "1e+20", "-1e20", "1e19", "-1e19", "2e19", "9.3e18", "-9.3e18", "1.5e20", "9.99e20",
    "1e21", "-1e21", "1e22", "100000000000000000000.5", "-100000000000000000000.0", "-0.0", "-0", "0.0", "-0e0",
    "-0.0E+5", "-0.000", "-1e-400", "1e-400", "0", "12.0", "1.5", "1E2", "1e+2", "2.5e-3", "-1.5e300", "5e-324",
    "1.7976931348623157e308", "18446744073709551616", "18446744073709551615", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "123456789012345678901234", "999999999999999999",
    "1000000000000000000", "-999999999999999999", "4294967296", "7",
    '"1e20"', '"-0.0"', '"100000000000000000000"', '"12"', '"-0"', "true", "false", "null",
]  # fmt: skip
# The value bare, in arrays and objects, as a response's input and as a language map's entry (chosen or first).
WRAPS = ["{}", '[[{}, {{"b": {}}}]]', '{{"input": [{}]}}', '{{"en-US": [{}], "en": 1}}', '{{"a": {{"b": {}}}}}']


def _statement(value: str, *, verb: str = '"http://adlnet.gov/expapi/verbs/completed"', n: int) -> str:
    """A statement with `value` (raw JSON text) in every optional field, from depth 1 (id) to depth 3 and below."""
    ctx = {
        "section_id": value, "project_id": value, "page_id": value, "session_id": value, "part_id": value,
        "activity_attempt_number": value, "hints_requested": value, "attached_objectives": value,
        "page_sub_type": value, "content_element_id": value,
        "experiment_attributions": (
            f'[{{"role": "assignment", "attribution_type": "assignment", "key": "k{n}", "experiment_id": {value}, '
            f'"experiment_uuid": {value}, "reward_value": {value}, "condition_code": {value}}}]'
        ),
    }  # fmt: skip
    extensions = ", ".join(f'"{OLI}{key}": {text}' for key, text in ctx.items())
    return (
        f'{{"id": {value}, "actor": {{"account": {{"homePage": {value}, "name": "u{n}"}}}}, "verb": {{"id": {verb}}}, '
        f'"object": {{"id": {value}, "definition": {{"type": "{OLI}activity_attempt", "name": {value}, '
        f'"subType": {value}, "extensions": {{"{VIDEO}length": {value}}}}}}}, '
        f'"result": {{"success": {value}, "completion": {value}, "response": {value}, '
        f'"score": {{"raw": {value}, "max": {value}, "scaled": {value}}}, '
        f'"extensions": {{"{OLI}feedback": {value}, "{VIDEO}time": {value}, "{VIDEO}played-segments": {value}}}}}, '
        f'"context": {{"extensions": {{{extensions}}}}}, "timestamp": "2026-01-02T03:04:05.000Z"}}'
    )


def _lines() -> list[str]:
    lines = []
    for number in NUMBERS:
        for wrap in WRAPS:
            lines.append(_statement(wrap.format(number, number), n=len(lines)))
        lines.append(_statement('"x"', verb=number, n=len(lines)))  # the rejecting string field
    return lines


def _duplicated(number: str, n: int) -> list[str]:
    """Lines whose levels on the way to the value are written twice (the last one counts), with escaped keys."""
    first = '{"result": {"score": {"raw": 1, "max": 2}}, '
    return [
        _statement("1", n=n).replace('{"id": 1, ', first, 1).replace('"raw": 1,', f'"raw": {number},', 1),
        _statement("1", n=n + 1).replace('"score": {', f'"score": {{"raw": {number}}}, "score": {{', 1),
        _statement("1", n=n + 2).replace(
            '"context": {', f'"context": {{"extensions": {{"{OLI}session_id": 5}}}}, "context": {{', 1
        ),  # fmt: skip
        _statement(number, n=n + 3).replace('"context": {"extensions": {', '"context": {"ext\\u0065nsions": {', 1),
        _statement(number, n=n + 4).replace('"raw": ', '"r\\u0061w": 9, "raw": ', 1),
        _statement(number, n=n + 5).replace('"result": {', f'"result": [{{"score": {{"raw": {number}}}}}], "r": {{', 1),
        _statement(number, n=n + 6).replace(
            '"context": {', f'"context": [{{"extensions": {{"{OLI}section_id": 1}}}}], "c": {{', 1
        ),
    ]


def test_hostile_numbers_store_as_in_the_python_engine(ch_db, tmp_path):
    client, settings = ch_db
    lines = _lines()
    for number in ("1e20", "-0.0", "-1e19", "-0e0", "18446744073709551616"):
        lines += _duplicated(number, len(lines))
    for line in lines:
        json.loads(line)  # every line is JSON (some values are rejected, none is malformed)
    path = tmp_path / "numbers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    (events, errors, found), (py_events, py_errors, py_found) = _stored_by_both_engines(client, settings, path)
    assert len(py_events) > 300 and len(py_found) > 300 and len(py_errors) > 5000  # the corpus reaches every table
    db = settings.clickhouse_database
    names = client.query(f"SELECT * EXCEPT (inserted_at, event_version) FROM `{db}`.raw_events LIMIT 0").column_names
    assert _differences(names, events, py_events, lines) == []
    assert sorted(set(errors) ^ set(py_errors)) == [] and len(errors) == len(py_errors)  # rejections and warnings
    found, py_found = ([tuple(_signed(v) for v in row) for row in table] for table in (found, py_found))
    assert sorted(set(found) ^ set(py_found), key=repr) == [] and len(found) == len(py_found)


def _differences(names, rows, reference, lines) -> list[str]:
    """'line N column: sql value != python value' for each value of a row that differs (rows keyed by source_line)."""
    line_of = names.index("source_line")
    mine, theirs = ({row[line_of]: row for row in table} for table in (rows, reference))
    out = [f"line {n}: only one engine stored it: {lines[n - 1][:200]}" for n in mine.keys() ^ theirs.keys()]
    for n in sorted(mine.keys() & theirs.keys()):
        for name, got, want in zip(names, mine[n], theirs[n], strict=True):
            if _signed(got) != _signed(want):
                out.append(f"line {n} {name}: {got!r} != {want!r} in {lines[n - 1][:120]}")
    return out


def _number_tokens() -> list[str]:
    """JSON number tokens of every shape: signs, zeros, fractions, exponents (e/E, +/-), 19-22 digit integers and
    whole parts, values near 2^53, 2^63, 2^64 and 1e21, underflows and the largest doubles."""
    rng = random.Random(7)
    tokens = list(NUMBERS[: NUMBERS.index('"1e20"')])
    for _ in range(1500):
        sign = rng.choice(["", "-"])
        whole = rng.choice(["0", str(rng.randint(1, 9)), str(rng.randint(10**17, 10**22)), str(rng.randint(1, 10**6))])
        fraction = rng.choice(["", "." + "0" * rng.randint(1, 3), "." + str(rng.randint(0, 10 ** rng.randint(1, 8)))])
        exponent = rng.choice(["", "", f"{rng.choice('eE')}{rng.choice(['', '+', '-'])}{rng.randint(0, 330)}"])
        tokens.append(sign + whole + fraction + exponent)
    return tokens


def test_every_number_spelled_differently_when_written_again_is_noticed(ch_db):
    """The line-level test (sql._may_respell) is 1 for every number whose second ClickHouse spelling differs from
    its first, whatever the whitespace around it; a line holding only plain numbers reads as before."""
    client, _settings = ch_db
    rows = []
    for token in _number_tokens():
        for space in ("", " ", "\t\n "):
            rows.append(f'{{"o": {{"a":{space}{token}}}, "l": [{space}{token}]}}')
    lines = ", ".join(quote(line) for line in rows)
    once, twice = "JSONExtractRaw(line, 'o', 'a')", "JSONExtractRaw(JSONExtractRaw(line, 'o'), 'a')"
    missed = client.query(
        f"SELECT line, {once}, {twice} FROM (SELECT arrayJoin([{lines}]) AS line) "
        f"WHERE {once} != {twice} AND NOT {sql._may_respell('line')}"
    ).result_rows
    assert missed == []
    changed = client.query(
        f"SELECT countIf({once} != {twice}), countIf(NOT {sql._may_respell('line')}) "
        f"FROM (SELECT arrayJoin([{lines}]) AS line)"
    ).result_rows[0]
    assert changed[0] > 300 and changed[1] > 300  # both kinds of line are in the sample


def _signed(value):
    """A value compared with the sign of a float zero (-0.0 == 0.0 in Python)."""
    return (value, math.copysign(1.0, value)) if isinstance(value, float) else value
