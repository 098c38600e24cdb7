"""JSON / NDJSON / CSV streaming of executor results, with ClickHouse value types that JSON and CSV lack."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from xolap.analytics import result_formats
from xolap.analytics.executor import QueryResult, run
from xolap.analytics.result_formats import iter_csv, iter_json, iter_ndjson, to_json


def sample(rows, columns=("a", "b"), types=("String", "Nullable(Float64)"), truncated=False) -> QueryResult:
    return QueryResult(
        columns=list(columns),
        types=list(types),
        rows=rows,
        truncated=truncated,
        elapsed_ms=1.25,
        rows_read=None,
        bytes_read=None,
        sql="SELECT",
        tag="t-1",
    )


def test_streamed_json_equals_whole_document():
    result = sample([("x", 1.5), ('y,"z"', None), ("nan", float("nan"))], truncated=True)
    streamed = json.loads(b"".join(iter_json(result)))
    assert streamed == json.loads(json.dumps(to_json(result)))
    assert streamed["rows"] == [["x", 1.5], ['y,"z"', None], ["nan", None]]
    assert streamed["truncated"] is True and streamed["row_count"] == 3
    assert streamed["columns"] == [{"name": "a", "type": "String"}, {"name": "b", "type": "Nullable(Float64)"}]


def test_empty_result_json():
    assert json.loads(b"".join(iter_json(sample([]))))["rows"] == []


def test_ndjson_lines():
    lines = b"".join(iter_ndjson(sample([("x", 1.0), ("y", None)]))).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"a": "x", "b": 1.0}, {"a": "y", "b": None}]


def test_csv_quoting_nulls_and_batches(monkeypatch):
    monkeypatch.setattr(result_formats, "CSV_BATCH_ROWS", 2)
    rows = [("plain", 1.0), ('with "quote", comma', None), ("new\nline", 2.5)]
    chunks = list(iter_csv(sample(rows)))
    assert len(chunks) == 2
    parsed = list(csv.reader(io.StringIO("".join(chunks))))
    assert parsed == [["a", "b"], ["plain", "1.0"], ['with "quote", comma', ""], ["new\nline", "2.5"]]


def test_clickhouse_value_types_are_serialisable():
    values = (
        datetime(2026, 1, 2, 3, 4, 5),
        date(2026, 1, 2),
        Decimal("1.50"),
        UUID(int=1),
        [1, [2]],
        {"k": 1},
        (1, "a"),
        True,
        b"\xffz",
    )
    result = sample([values], columns=[f"c{i}" for i in range(len(values))], types=["X"] * len(values))
    row = json.loads(b"".join(iter_json(result)))["rows"][0]
    assert row == [
        "2026-01-02T03:04:05",
        "2026-01-02",
        "1.50",
        "00000000-0000-0000-0000-000000000001",
        [1, [2]],
        {"k": 1},
        [1, "a"],
        True,
        "\ufffdz",
    ]
    cells = next(csv.reader(io.StringIO(list(iter_csv(result, header=False))[0])))
    assert cells[2] == "1.50" and cells[4] == "[1,[2]]" and cells[7] == "true"


def test_real_result_round_trip(ch_db):
    client, settings = ch_db
    result = run(
        client,
        settings,
        "SELECT number AS n, toDecimal64(number, 2) AS d, [number] AS arr, toDateTime('2026-01-01 00:00:00', 'UTC') AS t FROM numbers(3)",
    )
    body = json.loads(b"".join(iter_json(result)))
    assert body["rows"][2] == [2, "2.00", [2], "2026-01-01T00:00:00"]
    assert [c["type"] for c in body["columns"]] == ["UInt64", "Decimal(18, 2)", "Array(UInt64)", "DateTime"]
