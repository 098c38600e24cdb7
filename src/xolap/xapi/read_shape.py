"""The keys a statement may hold as msgspec Struct types, for a typed decode that reads a line as torus_json.loads.

The compiled row builder (xolap.xapi.compiled) decodes a line into these types first: each object the mapping reads
is a Struct with an attribute per key (no dict to build, an attribute read instead of a dict lookup), and the values
are what torus_json.loads gives. A line the typed decode refuses goes through torus_json.loads as before, which gives
its row or its exact rejection: a key no Struct names (forbid_unknown_fields, so no part of a line is skipped
unchecked: msgspec accepts invalid UTF-8 and numbers beyond a double in skipped parts, orjson refuses them), a read
object that is not an object, broken JSON of any kind.

Measured alike in both decoders (tests/xapi/test_read_shape.py pins each): a duplicated key keeps its last value (a
duplicated object is replaced whole); strings, escapes and surrogate pairs; floats to the same double; lone
surrogates, bad escapes, control characters, NaN, trailing text, a BOM, bad and out-of-range numbers are refused.
Not alike, so handled here: an integer beyond 64 bits (msgspec keeps it exact, loads gives the string of its digits:
a converter handed a value holding one raises NotExact and the line is read the other way, `exact_only`); nesting
deeper than orjson's 1,024 levels (msgspec's limit follows Python's recursion limit: `decodes_exactly`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import msgspec

from xolap.xapi import fields as spec
from xolap.xapi.torus_json import MAX_EXACT_INT, MIN_EXACT_INT

ReadTree = dict[str, "ReadTree | None"]  # key → the object's keys, or None for a value taken as it is

DECODE_ERRORS = (msgspec.DecodeError, RecursionError)  # ValidationError is a DecodeError

# Keys an xAPI statement (and Torus's) carries that no column reads: a line holding them still takes the typed decode.
UNREAD_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("stored", "authority", "version", "attachments", "registration"),
    ("actor",): ("objectType", "name", "member"),
    ("verb",): ("display",),
    ("object",): ("objectType",),
    ("object", "definition"): (
        "description",
        "moreInfo",
        "interactionType",
        "correctResponsesPattern",
        "choices",
        "scale",
        "source",
        "target",
        "steps",
    ),
    ("result",): ("duration", "message"),
    ("result", "score"): ("min",),
    ("context",): (
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
    ),
    ("context", "extensions"): ("https://w3id.org/xapi/video/extensions/completion-threshold",),
}

_ORJSON_MAX_DEPTH = 1024  # orjson refuses a 1,025th nested level
SHALLOW_BYTES = 2 * _ORJSON_MAX_DEPTH  # a shorter line cannot nest deeper (each level takes two bytes)
# Whether msgspec's depth can pass orjson's: its limit is Python's recursion limit before 3.12, which a caller may
# raise (torus_json.loads does, for a moment), and a fixed C limit of thousands of levels since.
_DEPTH_IS_RECURSION_LIMIT = sys.version_info < (3, 12)


class NotExact(Exception):
    """The typed decode holds a value torus_json.loads gives differently: read the line the other way."""


def read_tree() -> ReadTree:
    """Every path a field's source reads, the attributions path, the required objects and UNREAD_KEYS, as one tree."""
    tree: ReadTree = {}
    paths = [source.path for field in spec.FIELDS for source in field.sources]
    paths += [spec.ATTRIBUTIONS_PATH] + [(key, "") for key in spec.REQUIRED_OBJECTS]
    paths += [parent + (key,) for parent, keys in UNREAD_KEYS.items() for key in keys]
    for path in paths:
        node = tree
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if child is None:
                raise RuntimeError(f"{'.'.join(path)}: {key} is read both as a value and as an object")
            node = child
        if path[-1] == "":  # a required object with no key of its own
            continue
        if node.get(path[-1]) is not None:
            raise RuntimeError(f"{'.'.join(path)} is read both as a value and as an object")
        node[path[-1]] = None
    return tree


class Shape:
    """The Struct type of one object of the tree: its attribute name for each key, and its all-absent instance."""

    attributes: dict[str, str]
    struct: type[msgspec.Struct]
    empty: msgspec.Struct

    def __init__(self, path: tuple[str, ...], tree: ReadTree, shapes: dict[tuple[str, ...], Shape]) -> None:
        self.attributes = {key: f"f{index}" for index, key in enumerate(tree)}
        members = []
        for key, child in tree.items():
            kind: Any = Any if child is None else Shape(path + (key,), child, shapes).struct | None
            members.append((self.attributes[key], kind, msgspec.field(default=None, name=key)))
        self.struct = msgspec.defstruct(
            f"Read_{len(shapes)}", members, gc=False, forbid_unknown_fields=True, module=__name__
        )
        self.empty = self.struct()
        shapes[path] = self


def shapes() -> dict[tuple[str, ...], Shape]:
    """Each object's Shape by its path; () is the statement's."""
    found: dict[tuple[str, ...], Shape] = {}
    Shape((), read_tree(), found)
    return found


def decodes_exactly(line: bytes) -> bool:
    """Whether the typed decode refuses `line` whenever orjson would for its depth (the one check it cannot make
    itself). A line of 2,048 bytes or fewer cannot nest past orjson's limit; a longer one is counted (conservative:
    brackets inside strings count too) unless msgspec's limit is Python's recursion limit and at most orjson's."""
    if len(line) <= SHALLOW_BYTES or (_DEPTH_IS_RECURSION_LIMIT and sys.getrecursionlimit() <= _ORJSON_MAX_DEPTH):
        return True
    return line.count(b"[") + line.count(b"{") <= _ORJSON_MAX_DEPTH


def holds_wide_int(value: Any) -> bool:
    """Whether `value` is or holds an integer outside Int64/UInt64 (which torus_json.loads gives as its digits)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is int:
            if not MIN_EXACT_INT <= item <= MAX_EXACT_INT:
                return True
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def exact_only(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` for a value of the typed decode: NotExact when the value holds an integer beyond 64 bits."""

    def checked(raw: Any) -> Any:
        if type(raw) is str or not holds_wide_int(raw):
            return convert(raw)
        raise NotExact

    return checked
