"""Timestamps in the common shapes ("…SS.fffZ", "…SS.ffffffZ") are read by slicing once their date, hour and minute
were seen; every value gives exactly what the full ISO 8601 parser gives (the same millis, the same rejections)."""

from __future__ import annotations

import itertools

import orjson
import pytest

from xolap.xapi import rows
from xolap.xapi.rows import Rejected, _Invalid, _parse_timestamp_full, build_row, parse_timestamp

HEAD = "2024-05-01T12:34:"
VALID = [
    "2024-05-01T12:34:56.789Z",
    "2024-05-01T12:34:00.000Z",
    "2024-05-01T12:34:59.999Z",
    "2024-05-01T12:34:56.789123Z",
    "2024-05-01T12:34:56.000000Z",
    "1901-01-01T00:00:00.000Z",
    "1969-12-31T23:59:59.999Z",
    "2298-12-31T23:59:59.999999Z",
    "2024-02-29T23:59:59.999Z",
    "2024-05-01t12:34:56.789Z",
    "2024-05-01 12:34:56.789Z",
]
# Values of a common length and ending whose head may be remembered, but which the full parser refuses or reads
# another way: each must give the full parser's answer, never the sliced one.
ODD = [
    "2024-05-01T12:34:60.000Z",
    "2024-05-01T12:34:5.0000Z",
    "2024-05-01T12:34:+5.000Z",
    "2024-05-01T12:34:-5.000Z",
    "2024-05-01T12:34: 5.000Z",
    "2024-05-01T12:34:5_.000Z",
    "2024-05-01T12:34:05,000Z",
    "2024-05-01T12:34:05.+12Z",
    "2024-05-01T12:34:05.1_2Z",
    "2024-05-01T12:34:05. 12Z",
    "2024-05-01T12:34:05.-12Z",
    "2024-05-01T12:34:0\uff15.000Z",
    "2024-05-01T12:34:05.00\uff15Z",
    "2024-05-01T12:34:05.000\uff15\uff15\uff15Z",
    "2024-05-01T12:34:05.000+12Z",
    "2024-05-01T12:34:05.000 12Z",
    "2024-05-01T12:34:05.12345Z",
    "2024-05-01T12:34:05.1234567Z",
    "2024-05-01T12:34:05.123z",
    "2024-05-01T12:34:05.123ZZ",
    "2024-05-01T12:34:05Z",
    "2024-05-01T12:34:05.1Z",
    "2024-05-01T12:34:05.123",
    "2024-05-01T12:34:05.123+00:00",
    "2024-05-01T12:34:05.123-02:30",
    "2024-05-01T12:34:05.123456789Z",
    "2024-02-30T12:34:05.123Z",
    "2023-02-29T12:34:05.123Z",
    "2024-05-01T24:00:00.000Z",
    "2024-05-01T12:60:00.000Z",
    "1900-12-31T23:59:59.999Z",
    "2299-01-01T00:00:00.000Z",
    "\uff12024-05-01T12:34:05.123Z",
    " 2024-05-01T12:34:05.123Z",
    "2024-05-01T12:34:05.123Z ",
    "2024-05-01X12:34:05.123Z",
    "",
    "Z",
]


def _answer(parse, value):
    try:
        return parse(value)
    except _Invalid:
        return "invalid"


@pytest.mark.parametrize("value", VALID + ODD)
def test_every_value_reads_as_the_full_parser_reads_it_also_after_its_head_was_seen(value):
    expected = _answer(_parse_timestamp_full, value)
    for seen in VALID:  # remember every head of the valid shapes (the odd values share HEAD)
        parse_timestamp(seen)
    assert HEAD in rows._MINUTE_STARTS
    assert _answer(parse_timestamp, value) == expected
    assert _answer(parse_timestamp, value) == expected  # a second time: with whatever the first call remembered


def test_one_character_changes_of_a_common_shape_read_as_the_full_parser_reads_them():
    """Each position of both common shapes replaced by characters the slices could mistake (digits of other
    scripts, signs, separators, letters): the sliced reading never accepts what the full parser refuses."""
    replacements = ["0", "5", "9", "\u0665", "\uff15", "+", "-", " ", "_", ".", ":", "T", "Z", "z", "a", ""]
    for base in ("2024-05-01T12:34:56.789Z", "2024-05-01T12:34:56.789123Z"):
        parse_timestamp(base)
        for position, replacement in itertools.product(range(len(base)), replacements):
            value = base[:position] + replacement + base[position + 1 :]
            assert _answer(parse_timestamp, value) == _answer(_parse_timestamp_full, value), value


def test_sliced_values_are_the_full_parsers_millis():
    parse_timestamp("2024-05-01T12:34:00.000Z")
    for second, millis in itertools.product(range(60), (0, 1, 99, 500, 999)):
        value = f"2024-05-01T12:34:{second:02d}.{millis:03d}Z"
        assert parse_timestamp(value) == _parse_timestamp_full(value)
        micro = f"2024-05-01T12:34:{second:02d}.{millis:03d}987Z"
        assert parse_timestamp(micro) == _parse_timestamp_full(micro) == parse_timestamp(value)


def test_the_common_shape_is_read_without_the_regular_expression(monkeypatch):
    parse_timestamp("2031-07-04T08:15:30.250Z")  # head seen once
    monkeypatch.setattr(rows, "_TIMESTAMP_RE", None)  # the full parser would now fail with AttributeError
    assert parse_timestamp("2031-07-04T08:15:59.999Z") == 1940919359999
    assert parse_timestamp("2031-07-04T08:15:00.001999Z") == 1940919300001


def test_rejections_of_a_line_are_unchanged_after_its_head_was_seen():
    def line(timestamp: str) -> bytes:
        return orjson.dumps({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": timestamp})

    build_row(line("2024-05-01T12:34:56.789Z"), source_file="f", source_etag=None, source_line=1)
    for bad in ("2024-05-01T12:34:60.000Z", "2024-05-01T12:34:5\uff15.000Z", "2024-05-01T12:34:56.7\uff158Z"):
        with pytest.raises(Rejected, match="^timestamp: expected an ISO 8601"):
            build_row(line(bad), source_file="f", source_etag=None, source_line=1)
