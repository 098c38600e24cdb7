"""Loose spellings of ids, numbers and booleans store the value Torus's ETL stores, in both engines.

Expected values were measured by running Torus's Lambda (cloud/xapi-etl-processor at 133bdb9b: `_safe_int`,
`_safe_float`, `_coerce_bool`) on each spelling; `None` marks Torus's None, or xolap's documented NULL where Torus's
value would be another id or poison aggregates (docs/torus-compatibility.md, xolap.xapi.torus_spellings).
"""

from __future__ import annotations

from xapi.test_sql_json_reading import _stored_by_both_engines
from xolap.xapi import torus_spellings
from xolap.xapi.rows import map_statement

OLI = "http://oli.cmu.edu/extensions/"

# spelling (raw JSON text) → (id as Torus stores it, score as Torus stores it)
NUMBERS: dict[str, tuple[int | None, float | None]] = {
    '"3.0"': (3, 3.0),
    '"3."': (3, 3.0),
    '"3.0e0"': (None, 3.0),  # xolap: no exponent in an id (Torus: 3)
    '"1.5e3"': (None, 1500.0),  # xolap (Torus: 1500)
    '" 3 "': (3, 3.0),
    '"+3"': (3, 3.0),
    '"-0"': (0, -0.0),
    '"-0.0"': (0, -0.0),
    '"-00.00"': (0, -0.0),
    '"0.000"': (0, 0.0),
    '"007"': (7, 7.0),
    '" +.5e-3 "': (None, 0.0005),
    '"3.50"': (None, 3.5),
    '"03"': (3, 3.0),
    '"1_000"': (None, None),  # xolap: no '_' between digits (Torus: 1000, 1000.0)
    '"\\u00a03\\u2003"': (3, 3.0),
    '"\\u00853\\u000b"': (3, 3.0),
    '"\\u000e3"': (None, None),
    '"3.0\\n"': (3, 3.0),
    '"1.e1"': (None, 10.0),  # xolap (Torus: 10)
    '"12"': (12, 12.0),
    '" 18446744073709551616 "': (None, 1.8446744073709552e19),  # beyond UInt64
    '"1.0e400"': (None, float("inf")),  # Torus: int(inf) fails the object; float() gives inf
    '"3e0"': (None, 3.0),  # Torus: int("3e0") fails, no '.' to try float()
    '"1E2"': (None, 100.0),
    '"+1.5"': (None, 1.5),  # xolap: a fractional id stays NULL (Torus: 1)
    '".5"': (None, 0.5),  # xolap NULL (Torus: 0)
    '"2001.5"': (None, 2001.5),  # xolap NULL (Torus: 2001)
    '"1_0.5"': (None, None),  # xolap (Torus: 10, 10.5)
    '"-1"': (None, -1.0),  # Torus fails the whole S3 object (UInt64 cast)
    '"1__0"': (None, None),
    '"_1"': (None, None),
    '"0x10"': (None, None),
    '" "': (None, None),
    '"- 3"': (None, None),
    '"\\u001c5"': (None, None),  # int() and float() do not skip \x1c-\x1f
    '"nan"': (None, None),  # xolap NULL (Torus's score: nan)
    '"inf"': (None, None),  # xolap NULL (Torus's score: inf)
    '"Infinity"': (None, None),  # xolap NULL (Torus's score: inf)
    "3.0": (3, 3.0),
    "-0.0": (0, -0.0),
    '""': (None, None),
}
# spelling (raw JSON text) → success as Torus stores it
BOOLEANS: dict[str, bool | None] = {
    '"yes"': True,
    '" TRUE "': True,
    '"Y"': True,
    '"t"': True,
    '"1"': True,
    '"\\u001cyes"': True,  # str.strip() removes \x1c
    '"0"': False,
    '"no"': False,
    '"N"': False,
    '"\\u00a0false\\u3000"': False,
    "1": True,
    "0": False,
    "1.0": True,
    "-0.0": False,
    "true": True,
    "false": False,
    '"on"': None,
    '"2"': None,
    '"ye\\u017f"': None,  # 'ſ'.lower() is not 's'
    '""': None,
    "2": None,  # xolap NULL (Torus: True, the number's truth)
    "0.5": None,  # xolap NULL (Torus: True)
}


def _line(number: str, boolean: str, n: int) -> str:
    """A Torus part-attempt statement with `number` in every id, count and number field, `boolean` in success."""
    ids = ("section_id", "project_id", "page_id", "activity_id", "page_attempt_number", "hints_requested")
    context = ", ".join(f'"{OLI}{key}": {number}' for key in ids)
    return (
        f'{{"id": "s-{n}", "actor": {{"account": {{"homePage": "https://h.edu", "name": "u"}}}}, '
        '"verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, '
        '"object": {"id": "o", "definition": {"type": "http://adlnet.gov/expapi/activities/question"}}, '
        f'"result": {{"score": {{"raw": {number}, "max": {number}}}, "success": {boolean}}}, '
        f'"timestamp": "2026-07-14T12:00:00Z", "context": {{"extensions": {{{context}}}}}}}'
    )


def _lines() -> list[tuple[str, str, str]]:
    """(number, boolean, line): every number spelling once, the boolean spellings in turn."""
    booleans = list(BOOLEANS)
    return [(number, booleans[n % len(booleans)], _line(number, booleans[n % len(booleans)], n)) for n, number in
            enumerate(NUMBERS)]  # fmt: skip


def test_loose_spellings_store_torus_values():
    for number, boolean, line in _lines():
        row = map_statement(line)
        want_id, want_score = NUMBERS[number]
        for column in ("section_id", "project_id", "page_id", "activity_id", "page_attempt_number", "hints_requested"):
            assert row[column] == want_id, (number, column, row[column])
        assert row["score"] == want_score and row["out_of"] == want_score, (number, row["score"])
        assert row["success"] is BOOLEANS[boolean], (boolean, row["success"])


def test_every_boolean_spelling_is_checked():
    assert len(_lines()) >= len(BOOLEANS) and {b for _n, b, _l in _lines()} == set(BOOLEANS)


def test_both_engines_store_the_same_rows_and_warnings_for_loose_spellings(ch_db, tmp_path):
    client, settings = ch_db
    path = tmp_path / "loose.jsonl"
    path.write_text("\n".join(line for _n, _b, line in _lines()) + "\n")
    sql_engine, python_engine = _stored_by_both_engines(client, settings, path)
    assert sql_engine == python_engine
    assert len(sql_engine[0]) == len(_lines())


def test_an_id_is_read_against_its_column_range():
    """4294967296.0 fits UInt64, not UInt32; 2^64 written 18446744073709551616.0 fits neither."""
    assert torus_spellings.int_of_text("4294967296.0", 2**32 - 1) is None
    assert torus_spellings.int_of_text("4294967296.0", 2**64 - 1) == 2**32
    assert torus_spellings.int_of_text("18446744073709551616.0", 2**64 - 1) is None
    assert torus_spellings.int_of_text(" 4294967295 ", 2**32 - 1) == 2**32 - 1


def test_number_whitespace_is_what_int_and_float_skip():
    def reads(c: str) -> bool:
        try:
            return int(c + "5" + c) == 5 and float(c + "5.5" + c) == 5.5
        except ValueError:
            return False

    assert torus_spellings.NUMBER_WHITESPACE == "".join(c for c in torus_spellings.WHITESPACE if reads(c))
    assert torus_spellings.WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
