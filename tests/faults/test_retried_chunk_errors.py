"""A backfill chunk inserted again after a crash between its ClickHouse inserts and its Postgres chunk log (kill -9,
Postgres gone at the commit) records its rejected lines and warnings once: those inserts carry the chunk's
deterministic insert_deduplication_token, but ingest_errors kept no window of recent insert blocks (only raw_events
and experiment_attributions did), so single-node ClickHouse ignored the token and the run's rejected lines were
listed twice (migration 0018 gives ingest_errors the same window)."""

from __future__ import annotations

from xolap.backfill.chunk_sql import _ingest_errors_insert

REJECTED = (
    "SELECT 'bundle.jsonl' AS source_file, toUInt32(3) AS source_line, 'not valid JSON' AS reason, '{' AS raw_line"
)


def test_a_retried_chunk_records_its_rejected_lines_once(ch_db):
    client, settings = ch_db
    database = settings.clickhouse_database
    for _attempt in ("first", "after the crash"):
        for severity, token in (
            ("error", "run-1-batch-2-chunk-3-rejected"),
            ("warning", "run-1-batch-2-chunk-3-warnings"),
        ):
            client.command(
                _ingest_errors_insert(
                    REJECTED, severity, database=database, query_tag="t", clickhouse_settings={}, dedup_token=token
                )
            )
    rows = client.query(f"SELECT severity, count() FROM `{database}`.ingest_errors GROUP BY severity ORDER BY 1")
    assert rows.result_rows == [("error", 1), ("warning", 1)]


def test_an_insert_with_another_token_is_recorded(ch_db):
    client, settings = ch_db
    database = settings.clickhouse_database
    for token in ("chunk-3-rejected", "chunk-4-rejected"):
        client.command(
            _ingest_errors_insert(
                REJECTED, "error", database=database, query_tag="t", clickhouse_settings={}, dedup_token=token
            )
        )
    assert client.query(f"SELECT count() FROM `{database}`.ingest_errors").result_rows == [(2,)]
