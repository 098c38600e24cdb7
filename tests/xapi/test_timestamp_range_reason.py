"""A timestamp that is a valid ISO 8601 date-time but outside the years raw_events can store is rejected with a reason
that names the years accepted (it said only "expected an ISO 8601 date-time", which the value is), the same in both
engines; the first and last accepted years still go in."""

from __future__ import annotations

import orjson
import pytest

from xapi.test_sql_validity import staged_reasons
from xolap.xapi import fields
from xolap.xapi.rows import Rejected, build_row

OUT_OF_RANGE = [
    "1850-06-01T12:00:00Z",
    "1900-12-31T23:59:59Z",
    "2299-01-01T00:00:00Z",
    "9999-01-01T00:00:00.000Z",
    "0001-01-01T00:00:00Z",
]
IN_RANGE = [f"{fields.MIN_YEAR}-01-01T00:00:00Z", f"{fields.MAX_YEAR}-12-31T23:59:59.999Z"]
YEARS = f"years {fields.MIN_YEAR} to {fields.MAX_YEAR}"


def _line(timestamp: str) -> bytes:
    statement = {
        "actor": {"account": {"name": "u"}},
        "verb": {"id": "v"},
        "object": {"id": "o"},
        "timestamp": timestamp,
    }
    return orjson.dumps(statement)


def _python_reason(line: bytes) -> str:
    try:
        build_row(line, source_file=None, source_etag=None, source_line=1)
    except Rejected as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
def test_a_timestamp_outside_the_storable_years_names_them(timestamp):
    reason = _python_reason(_line(timestamp))
    assert reason.startswith("timestamp: expected an ISO 8601") and YEARS in reason


@pytest.mark.parametrize("timestamp", IN_RANGE)
def test_the_first_and_last_storable_years_go_in(timestamp):
    assert _python_reason(_line(timestamp)) == ""


def test_the_sql_engine_gives_the_same_reasons(ch_db, tmp_path):
    client, _settings = ch_db
    lines = [_line(timestamp) for timestamp in OUT_OF_RANGE + IN_RANGE]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = staged_reasons(client, path)
    assert [reason for (reason,) in got] == [_python_reason(line) for line in lines]
    assert sum(YEARS in reason for (reason,) in got) == len(OUT_OF_RANGE)
