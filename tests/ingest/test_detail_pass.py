"""The detail pass of a screened stage (xolap.xapi.sql.detail_select_sql): small SQL, the full select's answers.

A file or backfill chunk with one line flagged needs_details used to map those lines again with the whole staged
select (~98 KB of SQL, ~2 s of CPU to plan once per file or chunk). The detail pass computes only the warnings,
attributions and raw_line, carrying the rest from the stage; its rows must equal the full select's for those lines.
"""

from __future__ import annotations

from pathlib import Path

from xolap.ingest.files import file_source
from xolap.xapi import sql, torus_json
from xolap.xapi.sql_values import warning_value

from .test_sql_details import _statement, _variants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCE = "file('x.jsonl', 'LineAsString', 'line String')"


def test_detail_sql_computes_only_warnings_attributions_and_raw_line():
    """The detail SQL is a fraction of the full staged select (values, rejection reason and event type are taken
    from the stage), and spells a malformed value's text once per call site (failed before: the full select over
    the flagged lines, 98 KB, with the Torus spelling written three times in every warning_value and an
    attribution's value checks twice); now 52 KB, planned in ~0.3 s of CPU instead of ~1-2 s."""
    detail, full = sql.detail_select_sql("db.stage"), sql.staged_select_sql(SOURCE)
    # was the full select over the flagged lines; 52 -> 71 KB with Torus's loose number spellings read by every typed
    # value's check (xolap.xapi.torus_spellings: one replaceRegexpOne each, 54 of them)
    assert len(detail) < 75_000 and len(detail) < 0.78 * len(full)
    assert "_x_reason" not in detail and "_x_event_type" not in detail and "_x_v_" not in detail
    spelled = torus_json.dumps_sql("_wv_raw")
    assert warning_value("r").count(spelled) == 1
    assert detail.count(spelled) <= 4  # field warnings, an extension, an attribution, its values


def _lines() -> bytes:
    """Flagged lines of every kind (the detail variants, malformed fields of many kinds, the fixture corpora's
    warnings and attributions), blank and rejected lines between them, and CR line ends."""
    oli, vx = b"http://oli.cmu.edu/extensions/", b"https://w3id.org/xapi/video/extensions/"
    odd = [
        _statement(20, b', "' + oli + b'section_id": -1, "' + oli + b'page_id": 1e20'),
        _statement(21, b', "' + oli + b'project_id": 18446744073709551616, "' + oli + b'session_id": {"a": 1}'),
        _statement(22, b"", b'{"score": {"raw": -0.0, "max": "1e400", "scaled": [1]}, "completion": "no"}'),
        _statement(23, b', "' + vx + b'length": "' + b"x" * 300 + b'"'),  # a long value, cut in the warning
        _statement(24, b"", b'{"response": {"a": 1}, "extensions": {"' + oli + b'feedback": 1.5e308}}') + b"\r",
        _statement(25, b', "' + oli + b'hints_requested": "three", "' + oli + b'attached_objectives": 7'),
        _statement(26, b', "' + oli + b'page_attempt_number": 4294967296, "' + oli + b'part_id": true'),
        b'{"actor": {"mbox": 5}, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, '
        b'"object": {"id": 1, "definition": {"name": "plain"}}, "timestamp": "2026-01-02T03:04:05Z"}',
    ]
    corpora = [FIXTURES / "parity" / "corpus.jsonl", FIXTURES / "xapi" / "mixed_bad_lines.jsonl"]
    text = b"".join(corpus.read_bytes().rstrip(b"\n") + b"\n" for corpus in corpora)
    return text + b"\n".join([b"", *_variants(), b"junk", *odd, b"  "]) + b"\n"


def test_detail_rows_equal_the_full_selects_for_flagged_lines(ch_db, tmp_path):
    client, settings = ch_db
    db = settings.clickhouse_database
    path = tmp_path / "flagged.jsonl"
    path.write_bytes(_lines())
    source = file_source(path, False)
    stage = f"`{db}`.detail_test_stage"
    client.command(f"CREATE TABLE {stage} ENGINE = Memory AS {sql.staged_select_sql(source, details=False)}")
    try:
        columns = [*sql.DETAIL_CARRIED_COLUMNS, "warnings", "attributions", "raw_line"]
        listed = ", ".join(columns)
        detailed = client.query(f"SELECT {listed} FROM ({sql.detail_select_sql(stage)}) ORDER BY row_number")
        flagged = client.query(f"SELECT row_number FROM {stage} WHERE needs_details ORDER BY row_number")
        full = client.query(f"SELECT {listed} FROM ({sql.staged_select_sql(source)}) ORDER BY row_number")
    finally:
        client.command(f"DROP TABLE IF EXISTS {stage}")
    wanted = {row[0] for row in flagged.result_rows}
    expected = [row for row in full.result_rows if row[0] in wanted]
    assert detailed.result_rows == expected
    warned = [row for row in expected if row[columns.index("warnings")]]
    assert len(warned) >= 25 and sum(1 for row in expected if row[columns.index("attributions")]) >= 5
    assert any(row[columns.index("raw_line")] for row in warned)
