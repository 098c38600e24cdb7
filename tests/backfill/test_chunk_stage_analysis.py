"""A backfill chunk analyses its large mapping SELECT once, into a staging table declared with the SELECT's own types
(as the file ingest's stage: tests/ingest/test_stage_analysis.py); CREATE TABLE … AS SELECT analysed it twice."""

from __future__ import annotations

from bf_support import count_events, statement, write_csv_manifest

from xolap.backfill import chunk_sql, service
from xolap.backfill.s3paths import object_url
from xolap.xapi.sql import staged_select_sql


def _select_analyses(client, comment_prefix: str, since) -> list[int]:
    """SelectQueriesWithSubqueries of each finished statement whose log_comment starts with the prefix."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT ProfileEvents['SelectQueriesWithSubqueries'] FROM system.query_log WHERE type = 'QueryFinish' "
        "AND startsWith(log_comment, {c:String}) AND event_time_microseconds >= {t:DateTime64(6)} "
        "ORDER BY event_time_microseconds",
        parameters={"c": comment_prefix, "t": since},
    ).result_rows
    return [int(r[0]) for r in rows]


def test_a_chunk_analyses_the_mapping_select_once(bf_runtime, s3, bucket, drain):
    s3.put_object(Bucket=bucket, Key="analysis/a.jsonl", Body=statement(1) + b"\n{not json\n" + statement(2) + b"\n")
    client, settings = bf_runtime.clickhouse(), bf_runtime.settings
    since = client.query("SELECT now64(6)").result_rows[0][0]
    url = object_url(settings, bucket, "analysis/a.jsonl")
    alone = staged_select_sql(
        chunk_sql.source(settings, url, "JSONAsString"), details=False, extra_columns=chunk_sql.STAGE_PROVENANCE
    )
    client.command(f"{alone} FORMAT Null SETTINGS log_comment = 'xolap:stage-analysis-reference'")
    manifest = write_csv_manifest(s3, bucket, [[(bucket, "analysis/a.jsonl")]])
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=10)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed", done
    assert count_events(bf_runtime) == 2 and done["batches"][0]["metadata"]["rejected_lines"] == 1
    (reference,) = _select_analyses(client, "xolap:stage-analysis-reference", since)
    (batch,) = done["batches"]
    chunk = _select_analyses(client, f"xolap:{service.chunk_tag(run['id'], batch['id'], 0)}", since)
    assert [n for n in chunk if n >= reference] == [reference]  # only the stage reads through the mapping, once


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
