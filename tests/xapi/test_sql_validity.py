"""The SQL screen's JSON validity (isValidJSON only for lines whose top-level Map is empty) rejects exactly the lines
the Python engine rejects, with the same reason: trailing text, two objects, broken UTF-8, lone surrogates, NaN, out of
range numbers, deep nesting, control characters, bad escapes, a BOM, non-objects."""

from __future__ import annotations

from xolap.xapi.rows import Rejected, build_row
from xolap.xapi.sql import staged_select_sql
from xolap.xapi.sql_values import QUERY_SETTINGS, quote

GOOD = b'"actor":{"account":{"name":"u"}},"verb":{"id":"v"},"object":{"id":"o"},"timestamp":"2024-01-01T00:00:00Z"'
LINES = [
    b"{" + GOOD + b"} trailing",
    b"{" + GOOD + b"}{}",
    b"{" + GOOD + b',"x":"\xff"}',
    b"{" + GOOD + b',"x":"\\ud800"}',
    b"{" + GOOD + b',"x":NaN}',
    b"{" + GOOD + b',"x":1e400}',
    b"{" + GOOD + b',"x":' + b"[" * 3000 + b"]" * 3000 + b"}",
    b"{" + GOOD + b',"x":"a\x01b"}',
    b"{" + GOOD + b',"x":01}',
    b"{" + GOOD + b',"x":-}',
    b"{" + GOOD + b",}",
    b"{" + GOOD + b',"x":tru}',
    b"{" + GOOD + b',"x":"\\x"}',
    b"{" + GOOD + b',"x":1.5e}',
    b"\xef\xbb\xbf{" + GOOD + b"}",
    b"{}",
    b"[]",
    b'"text"',
    b" {" + GOOD + b"} ",
    b"{" + GOOD + b"}",
    b'{"a":1,"a":2,' + GOOD + b"}",
]


def staged_reasons(client, path) -> list[tuple[str]]:
    """The SQL screen's reason for each line of the file at `path`, in line order ('' for a good line)."""
    select = staged_select_sql(f"file({quote(str(path))}, 'LineAsString', 'line String')", details=False)
    return client.query(
        f"SELECT reason FROM ({select.replace(QUERY_SETTINGS, '')}) ORDER BY row_number {QUERY_SETTINGS}"
    ).result_rows


def test_sql_reasons_are_the_python_engines_on_valid_and_invalid_json(ch_db, tmp_path):
    client, _settings = ch_db
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    got = staged_reasons(client, path)
    assert len(got) == len(LINES)
    for line, (reason,) in zip(LINES, got, strict=True):
        try:
            build_row(line, source_file=None, source_etag=None, source_line=1)
            want = ""
        except Rejected as exc:
            want = str(exc)
        assert reason == want, line[:60]
    assert sum(reason == "not valid JSON" for (reason,) in got) == 15
