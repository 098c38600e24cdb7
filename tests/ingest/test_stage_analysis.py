"""The SQL path analyses its large mapping SELECT once per staged chunk, into a table of the SELECT's own types."""

from __future__ import annotations

from xolap.ingest.files import file_source, ingest_local_file_sql
from xolap.xapi.sql import screened_stage_columns, staged_select_sql

LINE = (
    b'{"actor": {"account": {"homePage": "https://h", "name": "u1"}}, "verb": {"id": "http://id.tincanapi.com/verb/'
    b'viewed"}, "object": {"id": "https://h/page/1", "definition": {"type": "http://oli.cmu.edu/extensions/types/page"}},'
    b' "context": {"extensions": {"http://oli.cmu.edu/extensions/section_id": 7}}, "timestamp": "2024-05-01T12:00:00Z"}'
)


def _select_analyses(client, marker: str) -> list[int]:
    """SelectQueriesWithSubqueries of each finished statement whose text holds `marker` (ClickHouse counts one for
    every SELECT it analyses)."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT ProfileEvents['SelectQueriesWithSubqueries'] FROM system.query_log "
        "WHERE type = 'QueryFinish' AND position(query, {marker:String}) > 0 AND query NOT LIKE '%system.query_log%' "
        "ORDER BY event_time_microseconds",
        parameters={"marker": marker},
    ).result_rows
    return [int(r[0]) for r in rows]


def test_the_staged_chunk_analyses_the_mapping_select_once(ch_db, tmp_path):
    """CREATE TABLE … AS SELECT analysed the mapping SELECT a second time for the table's structure (4 SELECT
    analyses where the SELECT alone has 3): about twice the planning of the largest statement of an ingest."""
    client, settings = ch_db
    path = tmp_path / "stage_analysis.jsonl"
    path.write_bytes(LINE + b"\n")
    source = file_source(path, gzipped=False)
    client.command(f"{staged_select_sql(source, details=False)} FORMAT Null")  # the SELECT alone, as a reference
    ingest_local_file_sql(client, settings, path, ingest_path="stage-analysis")
    alone, *staged = _select_analyses(client, str(path))
    mapping = [n for n in staged if n >= alone]  # the statement(s) that read the file through the mapping
    assert mapping == [alone]


def test_the_stage_columns_are_the_types_of_the_select(ch_db):
    """The staging table holds each value as the SELECT gives it (no conversion on the way into the stage, so the
    move to raw_events converts as it did from a table created AS SELECT); the row number as UInt64."""
    client, _settings = ch_db
    select = staged_select_sql("(SELECT '{}' AS line, toUInt64(0) AS _row_number)", details=False)
    described = [(r[0], r[1]) for r in client.query(f"DESCRIBE TABLE ({select})").result_rows]
    assert described == screened_stage_columns()
