"""A backfill chunk analyses its large mapping SELECT once, into a staging table declared with the SELECT's own types
(as the file ingest's stage: tests/ingest/test_stage_analysis.py); CREATE TABLE … AS SELECT analysed it twice."""

from __future__ import annotations

from bf_support import statement

from xolap.backfill import chunk_sql, runner, service
from xolap.backfill.chunking import Chunk
from xolap.backfill.s3paths import object_url
from xolap.xapi.sql import staged_select_sql


def _select_analyses(client, comment: str, since) -> list[int]:
    """SelectQueriesWithSubqueries of each finished statement with this log_comment."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT ProfileEvents['SelectQueriesWithSubqueries'] FROM system.query_log WHERE type = 'QueryFinish' "
        "AND log_comment = {c:String} AND event_time_microseconds >= {t:DateTime64(6)} "
        "ORDER BY event_time_microseconds",
        parameters={"c": comment, "t": since},
    ).result_rows
    return [int(r[0]) for r in rows]


def test_a_chunk_analyses_the_mapping_select_once_and_flushes_the_query_log_once(bf_runtime, s3, bucket):
    """The stage is the one statement reading through the mapping, analysed as often as the SELECT alone. Each
    statement's rows read and written come from system.query_log, which a `SYSTEM FLUSH LOGS` fills: once per chunk,
    after its last statement (one per statement cost 40-80 ms of wall clock each on a loaded machine)."""
    loose = statement(3)[:-1] + b',"result":{"success":"maybe"}}'  # a malformed optional value: one warning
    body = b"\n".join([statement(1), b"{not json", loose, statement(2)]) + b"\n"
    s3.put_object(Bucket=bucket, Key="analysis/a.jsonl", Body=body)
    client, settings = bf_runtime.clickhouse(), bf_runtime.settings
    since = client.query("SELECT now64(6)").result_rows[0][0]
    url = object_url(settings, bucket, "analysis/a.jsonl")
    alone = staged_select_sql(
        chunk_sql.source(settings, url, "JSONAsString"), details=False, extra_columns=chunk_sql.STAGE_PROVENANCE
    )
    client.command(f"{alone} FORMAT Null SETTINGS log_comment = 'xolap:stage-analysis-reference'")
    flushes_since = client.query("SELECT now64(6)").result_rows[0][0]
    result = runner.run_chunk(
        settings,
        run_id=1,
        batch_id=1,
        chunk=Chunk(0, bucket, ("analysis/a.jsonl",)),
        target_table=f"{settings.clickhouse_database}.raw_events",
        fmt="JSONAsString",
        ch_settings={},
    )
    until = client.query("SELECT now64(6)").result_rows[0][0]
    assert (result.rows_written, result.rejected, result.warnings) == (3, 1, 1)
    assert result.rows_read == 4 and result.bytes_read > 0 and result.bytes_written > 0
    (reference,) = _select_analyses(client, "xolap:stage-analysis-reference", since)
    assert _select_analyses(client, f"xolap:{service.chunk_tag(1, 1, 0)}", since) == [reference]  # the stage
    flushes = client.query(
        "SELECT count() FROM system.query_log WHERE type = 'QueryFinish' AND query = 'SYSTEM FLUSH LOGS' "
        "AND event_time_microseconds BETWEEN {t:DateTime64(6)} AND {u:DateTime64(6)}",
        parameters={"t": flushes_since, "u": until},
    ).result_rows[0][0]
    assert flushes == 1


def test_the_chunk_stage_columns_are_the_types_of_its_select(bf_runtime):
    """DESCRIBE does not reach S3: the virtual columns' types are the table function's. The row number is declared
    UInt64, as the file ingest's stage declares it (s3() and file() give Nullable(Int64); a row number is neither)."""
    client, settings = bf_runtime.clickhouse(), bf_runtime.settings
    select = staged_select_sql(
        chunk_sql.source(settings, "http://127.0.0.1:1/bucket/x.jsonl", "JSONAsString"),
        details=False,
        extra_columns=chunk_sql.STAGE_PROVENANCE,
    )
    described = [(r[0], r[1]) for r in client.query(f"DESCRIBE TABLE ({select})").result_rows]
    assert described[0] == ("row_number", "Nullable(Int64)")
    assert [("row_number", "UInt64"), *described[1:]] == chunk_sql.stage_columns()
