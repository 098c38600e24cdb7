"""Text columns remember the Torus spelling of small objects and arrays by their compact JSON: a repeated value is
spelled once, and every value, in any order of calls, is spelled exactly as torus_json.dumps spells it."""

from __future__ import annotations

import itertools

import pytest

from xolap.xapi import rows, torus_json
from xolap.xapi.rows import to_text

# Pairs a careless key would mix up: equal as Python values or alike as text, spelled differently by Torus.
NEIGHBOURS = [
    [1],
    [1.0],
    [0],
    [0.0],
    [-0.0],
    [1e22],
    [1e21],
    [123456789.125],
    [1.5e-07],
    [True],
    [1, True],
    [None],
    [float("nan")],
    [float("inf")],
    [float("-inf")],
    ["null"],
    {"a": 1, "b": 2},
    {"b": 2, "a": 1},
    {"a": [1.0, {"b": 2.0}]},
    {"a": [1, {"b": 2}]},
    ["é"],
    ["\\u00e9"],
    ["\U0001f600"],
    ['"q"', "a\\b\n\t\u0001"],
    [],
    {},
    [[]],
    [{}],
    ["x" * 600],
    [2**63],
    [-(2**63)],
    [2**64 - 1],
    ["123456789012345678901234"],
]


def _expected(value: object) -> str:
    return torus_json.dumps(value)


def test_every_value_in_every_order_is_spelled_as_dumps_spells_it():
    for first, second in itertools.permutations(NEIGHBOURS, 2):
        rows._SPELLINGS.clear()
        assert to_text(first) == _expected(first)
        assert to_text(second) == _expected(second), (first, second)
        assert to_text(first) == _expected(first), (first, second)


@pytest.mark.parametrize("value", [{1: "int key"}, ["\ud800"], {"\udfff": 1}])
def test_values_compact_json_cannot_hold_are_spelled_directly(value):
    assert to_text(value) == _expected(value)
    assert to_text(value) == _expected(value)


def test_a_repeated_object_is_spelled_once(monkeypatch):
    rows._SPELLINGS.clear()
    spelled = []
    real = torus_json.dumps

    def counting(value: object) -> str:
        spelled.append(value)
        return real(value)

    monkeypatch.setattr(torus_json, "dumps", counting)
    for _ in range(3):
        assert to_text({"content": "Try again", "n": [1.0, 2]}) == '{"content": "Try again", "n": [1, 2]}'
        assert to_text([123]) == "[123]"
    assert len(spelled) == 2
    for value in ([None], ["x" * 600]):  # holding null, or long: not remembered
        to_text(value)
        to_text(value)
    assert len(spelled) == 6


def test_the_remembered_spellings_are_bounded(monkeypatch):
    rows._SPELLINGS.clear()
    monkeypatch.setattr(rows, "_MAX_SPELLINGS", 10)
    for n in range(25):
        assert to_text([n, 1.0]) == f"[{n}, 1]"
    assert 0 < len(rows._SPELLINGS) <= 10
