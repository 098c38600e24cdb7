"""The typed decode (xolap.xapi.read_shape) gives build_row exactly the rows, reasons and warnings of the torus_json
path (_build_row_parsed), and hands every line it cannot read alike to that path: each case below names the path
it must take, and a seeded fuzz of statement shapes compares both builders on every line."""

from __future__ import annotations

import json
import random
import sys

import pytest

from xolap.xapi import fields as spec
from xolap.xapi import read_shape
from xolap.xapi.rows import Rejected, build_row

PARSED = build_row.__globals__["_build_row_parsed"]  # the torus_json.loads builder, the reference
OLI = spec.OLI
GOOD = (
    b'"actor":{"objectType":"Agent","account":{"homePage":"https://h","name":"u1"}},'
    b'"verb":{"id":"http://id.tincanapi.com/verb/viewed","display":{"en-US":"viewed"}},'
    b'"object":{"id":"https://x/page/1","definition":{"type":"' + OLI.encode() + b'types/page"}},'
    b'"timestamp":"2024-05-01T12:00:00.123Z"'
)


def _with(extra: bytes) -> bytes:
    return b"{" + GOOD + b"," + extra + b"}"


def _context(extensions: bytes) -> bytes:
    return _with(b'"context":{"extensions":{' + extensions + b"}}")


def _outcome(builder, line: bytes) -> str:
    """repr of the row (telling -0.0 from 0 and 1 from 1.0), or the rejection; then the warnings."""
    warnings: list[str] = []
    attributed: list[object] = []
    try:
        got = repr(
            builder(line, source_file="f", source_etag="e", source_line=7, warnings=warnings, attributed=attributed)
        )
    except Rejected as exc:
        got = f"Rejected({exc})"
    return f"{got} {warnings} {attributed}"


@pytest.fixture
def parsed_lines(monkeypatch):
    """The lines build_row handed to _build_row_parsed."""
    handed: list[bytes] = []

    def counting(line, **kwargs):
        handed.append(line)
        return PARSED(line, **kwargs)

    monkeypatch.setitem(build_row.__globals__, "_build_row_parsed", counting)
    return handed


READ_BY_THE_TYPED_DECODE = {
    "plain": _with(b'"id":"s"'),
    "duplicate key, last wins": _with(b'"id":"a","id":"b"'),
    "duplicate object, the last one whole": _with(
        b'"result":{"success":true,"completion":true},"result":{"success":false}'
    ),
    "duplicate object then null": _with(
        b'"context":{"extensions":{"' + OLI.encode() + b'section_id":3}},"context":null'
    ),
    "duplicate required object, the last one whole": b"{" + GOOD + b',"verb":{"id":"v2"}}',
    "required object null last": b"{" + GOOD + b',"actor":null}',
    "escaped key names": _with(b'"\\u0069d":"s","r\\u0065sult":{"succ\\u0065ss":true}'),
    "surrogate pair and escapes": _with(b'"id":"\\ud83d\\ude00 \\u00e9 \\/ \\n \\"q\\""'),
    "numbers as floats": _context(
        b'"' + OLI.encode() + b'section_id":3.0,"' + OLI.encode() + b'attached_objectives":[1.0,-0.0,1E2,0.1,1e-400,'
        b"2.2250738585072011e-308,1.7976931348623157e308,9007199254740993.0]"
    ),
    "64-bit edges": _context(
        b'"'
        + OLI.encode()
        + b'section_id":18446744073709551615,"'
        + OLI.encode()
        + b'attached_objectives":[-9223372036854775808,18446744073709551615]'
    ),
    "wide integer where no column reads it": _with(b'"stored":123456789012345678901234567890'),
    "non-ASCII text": _with('"id":"Café ü 日本"'.encode()),
    "whitespace": b" {\t" + GOOD + b' , "id" : "s" }\r ',
    "warnings": _context(b'"' + OLI.encode() + b'session_id":{"a":1},"' + OLI.encode() + b'page_id":"x"'),
    "rejected, missing timestamp": b'{"actor":{"mbox":"m"},"verb":{"id":"v"},"object":{"id":"o"}}',
    "rejected, bad timestamp after a warning": _context(b'"' + OLI.encode() + b'page_id":"x"').replace(
        b"2024-05-01T12", b"2024-13-01T12"
    ),
    "read object null": _with(b'"result":null,"context":{"extensions":null}'),
}

READ_BY_TORUS_JSON = {
    "a key no Struct names": _with(b'"somewhere":1'),
    "an extension no column reads": _context(b'"https://example.org/ext":1'),
    "invalid UTF-8 in an unread part": _with(b'"somewhere":"\xff"'),
    "invalid UTF-8 in a read part": _with(b'"id":"\xff"'),
    "a number beyond a double in an unread part": _with(b'"somewhere":1e400'),
    "a number beyond a double in a read part": _with(b'"id":-1e400'),
    "a lone surrogate": _with(b'"id":"\\ud800"'),
    "a read object that is not an object": _with(b'"result":"done"'),
    "a required object that is not an object": b"{" + GOOD + b',"actor":"me"}',
    "a required object that is not an object, then an object": b'{"actor":"me",' + GOOD + b"}",
    "not an object": b"[1]",
    "not JSON": b"{" + GOOD,
    "trailing text": b"{" + GOOD + b"} x",
    "a wide integer read as a number": _context(b'"' + OLI.encode() + b'section_id":18446744073709551616'),
    "a wide negative integer read as text": _context(b'"' + OLI.encode() + b'session_id":-9223372036854775809'),
    "a wide integer inside a text value": _context(
        b'"' + OLI.encode() + b'attached_objectives":[1,{"n":123456789012345678901234567890}]'
    ),
    "a wide integer after a warning": _context(
        b'"' + OLI.encode() + b'page_id":"x","' + OLI.encode() + b'session_id":[18446744073709551616]'
    ),
    "attributions": _context(b'"' + OLI.encode() + b'experiment_attributions":[]'),
    "attributions under an escaped key": _context(b'"' + OLI.encode() + b'experiment_\\u0061ttributions":[]'),
}


@pytest.mark.parametrize("name", READ_BY_THE_TYPED_DECODE)
def test_lines_the_typed_decode_reads_give_the_torus_json_rows(name, parsed_lines):
    line = READ_BY_THE_TYPED_DECODE[name]
    assert _outcome(build_row, line) == _outcome(PARSED, line)
    assert parsed_lines == []


@pytest.mark.parametrize("name", READ_BY_TORUS_JSON)
def test_lines_the_typed_decode_cannot_read_alike_go_through_torus_json(name, parsed_lines):
    line = READ_BY_TORUS_JSON[name]
    want = _outcome(PARSED, line)
    parsed_lines.clear()
    assert _outcome(build_row, line) == want
    assert parsed_lines == [line]


def test_nesting_past_orjsons_limit_is_refused_alike_when_the_recursion_limit_is_raised(parsed_lines):
    deep = _with(b'"stored":' + b"[" * 1100 + b"]" * 1100)
    fine = _with(b'"stored":' + b"[" * 1000 + b"]" * 1000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 5000)  # as torus_json.loads does for a moment; msgspec then nests deeper
    try:
        assert _outcome(build_row, deep) == _outcome(PARSED, deep) == "Rejected(not valid JSON) [] []"
        assert _outcome(build_row, fine) == _outcome(PARSED, fine)
    finally:
        sys.setrecursionlimit(limit)
    assert deep in parsed_lines


# --- fuzz: random statement shapes, both builders --------------------------------------------------------------

_READ_PATHS = sorted({source.path for field in spec.FIELDS for source in field.sources})
_UNREAD_PATHS = [parent + (key,) for parent, keys in read_shape.UNREAD_KEYS.items() for key in keys]
_STRINGS = [
    "",
    "s",
    "12",
    "0012",
    " 3 ",
    "1.5",
    "-7",
    "yes",
    "true",
    "é",
    "日本",
    "\U0001f600",
    "a\nb",
    '"q"',
    "\\",
    "\x00",
]
_STRINGS += ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z", "2024-05-01 12:00:00+02:00", "2024-02-30T00:00:00Z"]
_STRINGS += [
    "http://adlnet.gov/expapi/verbs/completed",
    spec.TYPE_PAGE,
    spec.TYPE_QUESTION,
    spec.VIDEO_VERBS + "played",
]


def _scalar(rng: random.Random) -> object:
    pick = rng.randrange(9)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.choice([0, 1, -1, 2**32 - 1, 2**32, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**30])
    if pick == 2:
        return rng.choice([0.0, -0.0, 1.0, 1.5, 1e21, 1e-7, 3.0e15, 123456.789, 2.5e-310, 1.7976931348623157e308])
    if pick == 3:
        return rng.randint(-5, 10**6)
    return rng.choice(_STRINGS)


def _value(rng: random.Random, depth: int = 0) -> object:
    pick = rng.randrange(10)
    if depth < 3 and pick == 0:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 3 and pick == 1:
        keys = ["en-US", "en", "input", "a", "n", "content"]
        return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return _scalar(rng)


def _put(statement: dict, path: tuple[str, ...], value: object) -> None:
    node = statement
    for key in path[:-1]:
        child = node.get(key)
        if type(child) is not dict:
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _fuzzed_line(rng: random.Random) -> bytes:
    statement: dict = json.loads(b"{" + GOOD + b"}")
    for path in rng.sample(_READ_PATHS, rng.randrange(len(_READ_PATHS))):
        _put(statement, path, _value(rng))
    for path in rng.sample(_UNREAD_PATHS, rng.randrange(4)):
        _put(statement, path, _value(rng))
    if rng.random() < 0.05:
        _put(statement, rng.choice(_READ_PATHS)[:-1] + ("unknown",), 1)
    if rng.random() < 0.05:
        _put(statement, ("result",), rng.choice(["x", 3, [], None]))
    text = json.dumps(statement, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
    line = text.encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.1:  # a duplicated key: a top-level member repeated with another value
        key = rng.choice(list(statement))
        line = line[:-1] + b"," + json.dumps(key).encode() + b":" + json.dumps(_value(rng)).encode() + b"}"
    elif roll < 0.15:  # a duplicated read object, replaced whole by a smaller one
        line = line[:-1] + b',"context":{"extensions":{"' + OLI.encode() + b'page_id":5}}}'
    elif roll < 0.2:  # a byte changed somewhere: broken JSON, broken UTF-8 or still fine
        at = rng.randrange(len(line))
        line = line[:at] + bytes([rng.choice(b'"\\{}[],:0e.-\xff\xc3 ')]) + line[at + 1 :]
    return line


def test_fuzzed_statement_shapes_give_the_same_rows_reasons_and_warnings_on_both_paths(parsed_lines):
    rng = random.Random(20261201)
    lines = [_fuzzed_line(rng) for _ in range(3000)]
    for line in lines:
        assert _outcome(build_row, line) == _outcome(PARSED, line), line
    typed = len(lines) - len(parsed_lines)
    assert typed > len(lines) // 3  # the typed decode read a good share of them (not everything went the other way)
