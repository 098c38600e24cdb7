"""rows_to_table reads build_row tuples as Arrow struct values: the same table as one array per column, on edge values
of every column type, and the same refusal of a value a column cannot hold."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.pipeline import ARROW_SCHEMA, map_lines, read_lines, rows_to_table
from xolap.xapi.rows import build_row

TORUS = (Path(__file__).resolve().parents[1] / "fixtures" / "xapi" / "torus_statements.jsonl").read_bytes()

EDGES = {
    "string": ["", "plain", "ünïcödé \u2028 \U0001f600", "x" * 70_000, None],
    "uint64": [0, 2**64 - 1, 2**63, None],
    "uint32": [0, 2**32 - 1, None],
    "double": [0.0, -0.0, 1e308, -1.5e-300, 5e-324, 0.1, None],
    "bool": [True, False, None],
    "timestamp[ms, tz=UTC]": [0, -2177452800000, 10413791999999, 1725000000123],
}


def _by_columns(rows: list[tuple]) -> pa.Table:
    """The reference: one Python list and one Arrow array per column."""
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array(list(values), type=f.type) for values, f in zip(columns, ARROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def _edge_rows() -> list[tuple]:
    base = build_row(TORUS.splitlines()[0], source_file="f", source_etag=None, source_line=1)
    rows = [base]
    for index, field in enumerate(ARROW_SCHEMA):
        for value in EDGES[str(field.type)]:
            if value is None and not field.nullable:
                continue
            row = list(base)
            row[index] = value
            rows.append(tuple(row))
    return rows


def test_the_table_equals_one_array_per_column_on_edge_values():
    rows = _edge_rows()
    table = rows_to_table(rows)
    assert table.schema.equals(ARROW_SCHEMA)
    assert table.equals(_by_columns(rows))
    assert table.num_rows == len(rows) > len(MAPPED_COLUMN_NAMES)


def test_mapped_lines_make_the_same_table_as_one_array_per_column():
    batch = map_lines(read_lines(TORUS * 3, "t"), source_file="t", source_etag="e")
    rows = [build_row(line, source_file="t", source_etag="e", source_line=n) for n, line in read_lines(TORUS * 3, "t")]
    assert batch.table.equals(_by_columns(rows))
    assert rows_to_table([]).equals(ARROW_SCHEMA.empty_table())


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [("source_line", 2**32, pa.ArrowInvalid), ("section_id", -1, OverflowError), ("user_id", "\ud800", UnicodeError)],
)
def test_a_value_the_column_cannot_hold_is_refused_as_before(column, value, error):
    rows = _edge_rows()[:2]
    row = list(rows[1])
    row[MAPPED_COLUMN_NAMES.index(column)] = value
    rows[1] = tuple(row)
    with pytest.raises(error):
        _by_columns(rows)
    with pytest.raises(error):
        rows_to_table(rows)
