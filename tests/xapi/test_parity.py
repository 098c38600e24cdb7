"""Python path and SQL path give identical rows (every column), rejections and warnings for the same lines."""

from __future__ import annotations

import copy
import gzip
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.pipeline import EventWriter, map_lines, read_lines
from xolap.xapi import fields as spec
from xolap.xapi.rows import line_hash
from xolap.xapi.sql import (
    blank_rows_sql,
    insert_select_sql,
    not_blank_condition,
    quote,
    rejected_lines_sql,
    source_line_expression,
    warned_lines_sql,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
CORPUS = ["torus_statements.jsonl", "generic_statements.jsonl", "mixed_bad_lines.jsonl"]


def _file_source(path: Path) -> str:
    return f"file({quote(str(path))}, 'LineAsString', 'line String')"


def _sql_ingest(
    client, database: str, path: Path, source_file: str, etag: str | None
) -> tuple[list[tuple], list[tuple]]:
    source = _file_source(path)
    blank = [row[0] for row in client.query(blank_rows_sql(source)).result_rows]
    line_expr = source_line_expression(blank)
    client.command(
        insert_select_sql(
            f"`{database}`.sql_events",
            source,
            source_file_expr=quote(source_file),
            source_etag_expr=quote(etag) if etag else "NULL",
            source_line_expr=line_expr,
        )
    )
    rejected = client.query(
        rejected_lines_sql(source, source_file_expr=quote(source_file), source_line_expr=line_expr)
    ).result_rows
    warned = client.query(
        warned_lines_sql(source, source_file_expr=quote(source_file), source_line_expr=line_expr)
    ).result_rows
    return rejected, warned


def _rows(client, table: str) -> list[tuple]:
    cols = ", ".join(MAPPED_COLUMN_NAMES)
    return client.query(f"SELECT {cols} FROM {table} ORDER BY source_file, source_line").result_rows


def _compare(client, settings, files: list[tuple[Path, str]]) -> tuple[int, int]:
    db = settings.clickhouse_database
    client.command(f"CREATE TABLE `{db}`.sql_events AS `{db}`.raw_events")
    for table in ("raw_events", "sql_events"):  # keep duplicate lines apart: count rows, not merged events
        client.command(f"SYSTEM STOP MERGES `{db}`.{table}")
    writer = EventWriter(client, settings, "test")
    python_errors, sql_errors, python_warnings, sql_warnings = [], [], [], []
    for path, source_file in files:
        batch = map_lines(read_lines(path.read_bytes(), source_file), source_file=source_file, source_etag="etag-1")
        writer.write(batch.table)
        python_errors += [(e.source_file, e.source_line, e.reason, e.raw_line) for e in batch.errors]
        python_warnings += [(e.source_file, e.source_line, e.reason, e.raw_line) for e in batch.warnings]
        rejected, warned = _sql_ingest(client, db, path, source_file, "etag-1")
        sql_errors += [tuple(r) for r in rejected]
        sql_warnings += [tuple(r) for r in warned]
    python_rows = _rows(client, f"`{db}`.raw_events")
    sql_rows = _rows(client, f"`{db}`.sql_events")
    assert len(python_rows) == len(sql_rows)
    for p, s in zip(python_rows, sql_rows, strict=False):
        diff = {c: (a, b) for c, a, b in zip(MAPPED_COLUMN_NAMES, p, s, strict=False) if a != b}
        assert not diff, f"line {p[MAPPED_COLUMN_NAMES.index('source_line')]} differs: {diff}"
    assert sorted(python_errors) == sorted(sql_errors)
    assert sorted(python_warnings) == sorted(sql_warnings)
    return len(python_rows), len(python_errors)


def test_fixture_corpus_same_rows_and_rejections_in_both_paths(ch_db, tmp_path):
    client, settings = ch_db
    files = []
    for name in CORPUS:
        files.append((FIXTURES / name, f"s3://bucket/corpus/{name}"))
    gz = tmp_path / "torus_statements.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "torus_statements.jsonl").read_bytes()))
    files.append((gz, str(gz)))
    rows, rejected = _compare(client, settings, files)
    # the three good lines of mixed_bad_lines are identical: ReplacingMergeTree keeps one (optimize_on_insert);
    # its ten lines with a malformed optional value are stored (the value NULL, with a warning)
    assert rows == 11 + 6 + 11 + 11
    assert rejected == 15


# A randomized corpus: Torus statements with fields overwritten by awkward values of every JSON type.
AWKWARD = [
    None,
    "",
    "abc",
    "12",
    "007",
    " 12",
    "1e3",
    "-0.5",
    "0.25",
    'é😀\n"q"',
    "2024-01-01T00:00:00Z",
    12,
    0,
    -1,
    7.0,
    12.5,
    1e19,
    1e-7,
    4294967295,
    4294967296,
    18446744073709551615,
    True,
    False,
    [],
    [1, 2, 3],
    ["a"],
    {},
    {"input": "x"},
    {"input": 5},
    {"en-US": "t"},
    {"en": "e", "fr": "f"},
    {"de": "d"},
    {"en-US": None},
    {"a": {"b": [1.5, None]}},
    "2024-06-01T12:00:00.123456789-03:30",
    "2024-06-01 12:00:00",
    "2024-06-01T12:00:00+0545",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2024-06-01T24:00:00Z",
    "2024-06-01T12:00:00.5z",
    "1900-01-01T00:00:00Z",
    "2024-06-01T12:00Z",
    # Torus's loose spellings (xolap.xapi.torus_spellings) and near misses
    " 3 ",
    "3.0",
    "3.",
    "+3",
    "-0",
    "-0.0",
    "3.50",
    ".5",
    "1_000",
    "1.5e3",
    "\u00a07\u3000",
    "\x0b5\x85",
    "\x1c5",
    "NaN",
    "inf",
    "yes",
    " No ",
    "T",
    "\u017f",
]


def _awkward_corpus(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    base = [orjson.loads(line) for _, line in read_lines((FIXTURES / "torus_statements.jsonl").read_bytes(), "x")]
    out = []
    for _ in range(n):
        statement = copy.deepcopy(rng.choice(base))
        for field in rng.sample(spec.FIELDS, rng.choice([1, 1, 2])):
            source = rng.choice(field.sources)
            node = statement
            for key in source.path[:-1]:
                node = node.setdefault(key, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node[source.path[-1]] = rng.choice(AWKWARD)
        out.append(orjson.dumps(statement))
    return out


def test_randomized_awkward_values_same_in_both_paths(ch_db, tmp_path):
    client, settings = ch_db
    path = tmp_path / "awkward.jsonl"
    path.write_bytes(b"\n".join(_awkward_corpus(600, seed=7)) + b"\n")
    rows, rejected = _compare(client, settings, [(path, str(path))])
    assert rows > 500 and rejected > 20  # both kinds are well represented


@pytest.mark.parametrize("line_ending", [b"\n", b"\r\n"])
def test_line_endings_and_blank_lines_number_the_same(ch_db, tmp_path, line_ending):
    client, settings = ch_db
    lines = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()[:3]
    path = tmp_path / "blank.jsonl"
    path.write_bytes(line_ending.join([b"", lines[0], b"  ", b"", lines[1], b"\t", lines[2], b""]))
    rows, _ = _compare(client, settings, [(path, "blank.jsonl")])
    assert rows == 3
    assert [
        r[0]
        for r in client.query(
            f"SELECT source_line FROM `{settings.clickhouse_database}`.sql_events ORDER BY 1"
        ).result_rows
    ] == [1, 2, 3]


def test_fixtures_are_what_make_fixtures_writes(tmp_path):
    """The committed corpus is reproducible from tests/fixtures/xapi/make_fixtures.py."""
    subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py")], cwd=tmp_path, check=True)
    for name in CORPUS:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_glob_over_files_with_per_file_blank_lines(ch_db, tmp_path):
    """One INSERT … SELECT over several files (a backfill glob) numbers lines per file, skipping each file's blanks."""
    client, settings = ch_db
    db = settings.clickhouse_database
    lines = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()
    (tmp_path / "a.jsonl").write_bytes(b"\n".join([b"", lines[0], b"", lines[1]]) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(b"\n".join([lines[2], b"  ", lines[3], lines[4]]) + b"\n")
    source = f"file({quote(str(tmp_path / '*.jsonl'))}, 'LineAsString', 'line String')"
    blanks: dict[str, list[int]] = {}
    for path, row in client.query(
        f"SELECT _path, _row_number FROM {source} WHERE NOT ({not_blank_condition()})"
    ).result_rows:
        blanks.setdefault(path, []).append(row)
    client.command(insert_select_sql(f"`{db}`.raw_events", source, source_line_expr=source_line_expression(blanks)))
    got = client.query(
        f"SELECT source_file, source_line, event_hash FROM `{db}`.raw_events ORDER BY source_file, source_line"
    ).result_rows
    assert [(Path(f).name, n) for f, n, _ in got] == [
        ("a.jsonl", 1),
        ("a.jsonl", 2),
        ("b.jsonl", 1),
        ("b.jsonl", 2),
        ("b.jsonl", 3),
    ]
    assert [h for _, _, h in got] == [line_hash(lines[i]) for i in range(5)]  # the line as stored (xolap.xapi.identity)


def test_public_expression_list_and_condition_compose_in_one_query(ch_db):
    """select_expressions() and valid_condition() are generated separately and still share their helpers."""
    from xolap.xapi.sql import QUERY_SETTINGS, select_expressions, valid_condition

    client, settings = ch_db
    db = settings.clickhouse_database
    path = FIXTURES / "mixed_bad_lines.jsonl"
    client.command(f"CREATE TABLE `{db}`.sql_events AS `{db}`.raw_events")
    client.command(f"SYSTEM STOP MERGES `{db}`.sql_events")
    client.command(
        f"INSERT INTO `{db}`.sql_events ({', '.join(MAPPED_COLUMN_NAMES)}) "
        f"SELECT {', '.join(select_expressions(source_file_expr=quote('f')))} FROM {_file_source(path)} "
        f"WHERE {not_blank_condition()} AND {valid_condition()} {QUERY_SETTINGS}"
    )
    python = map_lines(read_lines(path.read_bytes(), "f"), source_file="f", source_etag=None).table
    got = client.query(f"SELECT source_line, event_hash FROM `{db}`.sql_events ORDER BY source_line").result_rows
    # the three good lines are identical: ReplacingMergeTree keeps the last of them within the insert
    hashes = dict(zip(python.column("source_line").to_pylist(), python.column("event_hash").to_pylist(), strict=False))
    assert set(hashes) == {1, 5, *range(17, 27), 28}
    assert got == [(line, hashes[line]) for line in [*range(17, 27), 28]]
