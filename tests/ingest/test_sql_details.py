"""The SQL file path screens lines, then details only the lines that need it (warnings, experiment attributions).

ingest_local_file_sql stages every line with staged_select_sql(details=False) (values, rejection reason and a
cheap `needs_details` flag), then computes only the warnings and attributions of the flagged good lines
(detail_select_sql; their other columns come from the screened stage). The screen must
flag every line that has a warning or an attribution (else they would be lost silently), and the stored warnings
and attributions must be those of the Python path, numbered the same across blank lines and chunks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xolap.ingest import files
from xolap.ingest.files import file_source, ingest_local_file_sql
from xolap.ingest.pipeline import ingest_bytes
from xolap.xapi import attributions
from xolap.xapi.sql import staged_select_sql

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARITY_CORPUS = FIXTURES / "parity" / "corpus.jsonl"
ATTRIBUTION = (
    b'{"role": "assignment", "attribution_type": "assignment", "key": "k-%d", "experiment_id": %s, '
    b'"condition_code": "a"}'
)


def _statement(n: int, extensions: bytes, result: bytes = b"{}") -> bytes:
    return (
        b'{"id": "s-%d", "actor": {"account": {"homePage": "https://h.edu", "name": "u%d"}}, '
        b'"verb": {"id": "http://id.tincanapi.com/verb/viewed"}, '
        b'"object": {"id": "https://h.edu/page/%d", "definition": {"type": "http://oli.cmu.edu/extensions/types/page"}}, '
        b'"result": %s, "context": {"extensions": {"http://oli.cmu.edu/extensions/section_id": 7%s}}, '
        b'"timestamp": "2026-01-02T03:04:05.000Z"}' % (n, n, n, result, extensions)
    )


def _variants() -> list[bytes]:
    """Lines whose warnings or attributions only the detail pass computes, in every way the screen must catch."""
    key = b"http://oli.cmu.edu/extensions/experiment_attributions"
    escaped = key.replace(b"experiment_attributions", b"experiment\\u005fattributions")
    return [
        _statement(1, b', "' + key + b'": [' + ATTRIBUTION % (1, b"11") + b"]"),  # an attribution
        _statement(2, b', "' + escaped + b'": [' + ATTRIBUTION % (2, b"12") + b"]"),  # its key behind a \u escape
        _statement(3, b', "' + key + b'": [' + ATTRIBUTION % (3, b'"x"') + b"]"),  # a malformed value in it
        _statement(4, b', "' + key + b'": "not an array"'),  # a malformed extension
        _statement(5, b', "http://oli.cmu.edu/extensions/page_id": "p-9"'),  # a malformed optional field
        _statement(6, b"", b'{"score": {"raw": "lots"}, "success": "maybe"}'),  # two of them ("yes" is Torus's true)
        _statement(7, b""),  # nothing to detail
    ]


def test_screen_flags_every_line_with_warnings_or_attributions(ch_db, tmp_path):
    client, _settings = ch_db
    path = tmp_path / "lines.jsonl"
    corpora = [
        PARITY_CORPUS,
        *(FIXTURES / "xapi" / name for name in ("mixed_bad_lines.jsonl", "torus_statements.jsonl")),
    ]
    text = b"".join(corpus.read_bytes().rstrip(b"\n") + b"\n" for corpus in corpora)
    path.write_bytes(text + b"\n".join(_variants()) + b"\n")
    source = file_source(path, False)
    full = client.query(
        f"SELECT row_number, notEmpty(warnings) OR notEmpty(attributions) FROM ({staged_select_sql(source)}) "
        "ORDER BY row_number"
    ).result_rows
    screened = client.query(
        f"SELECT row_number, needs_details, detail_line FROM ({staged_select_sql(source, details=False)}) "
        "ORDER BY row_number"
    ).result_rows
    lines = path.read_bytes().split(b"\n")
    detailed = [row for row, has in full if has]
    assert len(detailed) >= 20  # the corpora and the variants have warnings and attributions to lose
    flagged = {row: line for row, needs, line in screened if needs}
    assert set(detailed) <= set(flagged)
    assert all(flagged[row].encode() == lines[row] for row in detailed)  # the line as read, for the detail pass
    assert not dict((row, needs) for row, needs, _line in screened)[len(lines) - 2]  # the plain last statement


def test_screened_select_leaves_the_costly_expressions_out():
    """Planning time grows with the expression (measured in chDB 26.9: 2.7 s of CPU to plan the full staged select,
    0.5 s the screened one, on a busy 2-core machine); the screen must stay a fraction of the full select."""
    source = "file('x.jsonl', 'LineAsString', 'line String')"
    full, screened = staged_select_sql(source), staged_select_sql(source, details=False)
    assert len(screened) < 0.5 * len(full)
    assert "_x_att_warnings" not in screened and "_x_warnings" not in screened


@pytest.mark.parametrize("chunk_rows", [1_000_000, 3])
def test_sql_path_stores_the_python_paths_warnings_and_attributions(ch_db, tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(files, "STAGE_CHUNK_ROWS", chunk_rows)
    client, settings = ch_db
    db = settings.clickhouse_database
    variants = _variants()
    path = tmp_path / "details.jsonl"
    path.write_bytes(b"\n".join([b"", variants[0], b"  ", b"oops", *variants[1:4], b"", *variants[4:], b""]) + b"\n")
    cols = ", ".join(attributions.COLUMN_NAMES)
    stored = []
    for engine in ("sql", "python"):
        for table in ("raw_events", "ingest_errors", "experiment_attributions"):
            client.command(f"TRUNCATE TABLE `{db}`.{table}")
        if engine == "sql":
            report = ingest_local_file_sql(client, settings, path, ingest_path="t", source_file="f", source_etag="e")
        else:
            report = ingest_bytes(
                client, settings, path.read_bytes(), source_file="f", source_etag="e", ingest_path="t"
            )
        errors = client.query(
            f"SELECT severity, source_file, source_line, reason, raw_line FROM `{db}`.ingest_errors "
            "ORDER BY source_line, severity, reason"
        ).result_rows
        found = client.query(
            f"SELECT {cols} FROM `{db}`.experiment_attributions ORDER BY source_line, attribution_hash"
        ).result_rows
        stored.append(((report.rows, report.rejected, report.warnings), errors, found))
    assert stored[0] == stored[1]
    counts, errors, found = stored[0]
    assert counts == (7, 1, sum(1 for e in errors if e[0] == "warning")) and counts[2] >= 5
    assert [r[attributions.COLUMN_NAMES.index("source_line")] for r in found] == [1, 3, 4]  # "oops" is line 2
    leftovers = client.query(
        f"SELECT count() FROM system.tables WHERE database = '{db}' AND name LIKE '_ingest_stage_%'"
    )
    assert leftovers.result_rows[0][0] == 0


def test_screen_flags_a_malformed_value_whatever_source_it_came_from(ch_db, tmp_path):
    """The screen flags a line when a field that can be malformed is NULL while one of its sources is present: a
    malformed first choice before a valid fallback, a malformed truthy first choice, a value kept for some event
    types only; and it leaves plain lines, and values absent or null, unflagged."""
    client, _settings = ch_db
    oli, vx = b"http://oli.cmu.edu/extensions/", b"https://w3id.org/xapi/video/extensions/"
    lines = [
        _statement(1, b', "' + oli + b'page_id": "p-9", "' + oli + b'resource_id": 5'),  # first source taken
        _statement(2, b', "' + vx + b'length": 100', b'{"extensions": {"' + vx + b'length": "long"}}'),  # truthy
        _statement(3, b', "' + oli + b'content_element_id": 7', b'{"extensions": {"content_element_id": [1]}}'),
        _statement(4, b', "' + oli + b'page_id": null, "' + oli + b'session_id": null'),  # null: no warning
        _statement(5, b', "' + oli + b'resource_id": "r-1"'),  # kept for videos only: nothing to warn here
        _statement(6, b""),
    ]
    path = tmp_path / "sources.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = file_source(path, False)
    full = client.query(
        f"SELECT row_number, notEmpty(warnings) FROM ({staged_select_sql(source)}) ORDER BY row_number"
    ).result_rows
    screened = client.query(
        f"SELECT row_number, needs_details FROM ({staged_select_sql(source, details=False)}) ORDER BY row_number"
    ).result_rows
    assert [row for row, has in full if has] == [0, 1, 2]
    assert [row for row, needs in screened if needs] == [0, 1, 2]


def test_screen_flag_is_planned_over_the_staged_columns():
    """needs_details is computed over the screen's output columns in an outer level, with greatest/least: referring
    to the value aliases beside the column expressions made the analyzer copy each one's tree again, and a chain of
    OR over AND cost ~9 ms a term to plan (screen planning 0.31-0.37 -> 0.25-0.29 s CPU, measured)."""
    source = "file('x.jsonl', 'LineAsString', 'line String')"
    screened = staged_select_sql(source, details=False)
    flag = screened.split(" AS needs_details", 1)[0].rsplit("NOT is_blank AND reason = '' AND ", 1)[1]
    assert "_x_c_" not in flag and "_x_p_" not in flag and " OR " not in flag
    assert "isNull(page_id)" in flag and "isNull(timestamp)" not in flag  # a rejecting field is no warning
