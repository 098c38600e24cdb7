"""EventWriter skips ClickHouse's insert-time ReplacingMergeTree pass (optimize_on_insert = 0) for a batch whose rows
all have different event hashes, and only then: the stored rows are the same as with the pass, and a batch with a
repeated line still stores one row per key (the last line's), as before."""

from __future__ import annotations

from pathlib import Path

from xolap.ingest.pipeline import EventWriter, insert_settings, map_lines, read_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
TORUS = (FIXTURES / "torus_statements.jsonl").read_bytes()
COLUMNS = "* EXCEPT (inserted_at, event_version)"


def _insert_settings_seen(client, db: str, started) -> list[str]:
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT Settings['optimize_on_insert'] FROM system.query_log WHERE type = 'QueryFinish' "
        "AND query_kind = 'Insert' AND has(tables, {table:String}) AND event_time_microseconds >= {t:DateTime64(6)} "
        "ORDER BY event_time_microseconds",
        parameters={"table": f"{db}.raw_events", "t": started},
    ).result_rows
    return [value for (value,) in rows]


def test_a_batch_of_distinct_lines_skips_the_insert_time_merge_and_stores_the_same_rows(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    table = map_lines(read_lines(TORUS, "t"), source_file="t", source_etag="e").table
    started = client.query("SELECT now64(6)").result_rows[0][0]  # query_log outlives the test's database
    assert EventWriter(client, settings, "test").write(table) == 11
    assert _insert_settings_seen(client, db, started) == ["0"]
    client.command(f"CREATE TABLE `{db}`.raw_events_with_pass AS `{db}`.raw_events")
    client.insert_arrow("raw_events_with_pass", table, database=db, settings={"optimize_on_insert": 1})
    stored = client.query(f"SELECT {COLUMNS} FROM `{db}`.raw_events ORDER BY ALL").result_rows
    with_pass = client.query(f"SELECT {COLUMNS} FROM `{db}`.raw_events_with_pass ORDER BY ALL").result_rows
    assert len(stored) == 11 and stored == with_pass


def test_a_batch_with_a_repeated_line_keeps_the_pass_and_stores_the_last_line_once(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    first, second = TORUS.splitlines()[:2]
    lines = [(1, first), (2, second), (3, first), (4, first)]
    table = map_lines(lines, source_file="t", source_etag=None).table
    assert "optimize_on_insert" not in insert_settings(table)
    started = client.query("SELECT now64(6)").result_rows[0][0]
    assert EventWriter(client, settings, "test").write(table) == 4  # rows sent, as before
    assert _insert_settings_seen(client, db, started) == [""]  # ClickHouse's default: the pass runs
    stored = client.query(f"SELECT source_line FROM `{db}`.raw_events ORDER BY source_line").result_rows
    assert stored == [(2,), (4,)]  # no FINAL: collapsed at insert, the last of the three kept


def test_only_distinct_event_hashes_skip_the_pass():
    table = map_lines(read_lines(TORUS, "t"), source_file="t", source_etag=None).table
    assert insert_settings(table)["optimize_on_insert"] == 0
    assert insert_settings(table, "token") == {"insert_deduplication_token": "token", "optimize_on_insert": 0}
    repeated = table.take([0, 1, 2, 1])
    assert "optimize_on_insert" not in insert_settings(repeated)
    assert "optimize_on_insert" not in insert_settings(table.slice(0, 0))


def test_the_raw_events_sorting_key_ends_with_the_event_hash(ch_db):
    """insert_settings relies on it: rows with different event hashes never share a sorting key."""
    client, settings = ch_db
    key = client.query(
        "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'raw_events'",
        parameters={"db": settings.clickhouse_database},
    ).result_rows[0][0]
    assert key.replace(" ", "").split(",")[-1] == "event_hash"
