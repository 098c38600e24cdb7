"""Migrations: up/down/up, idempotence, cluster rendering, and the table matching the Python column contract."""

from __future__ import annotations

import pytest

from xolap.clickhouse.columns import DEFAULTED_COLUMNS, MAPPED_COLUMNS
from xolap.clickhouse.migrations import (
    MigrationError,
    Migrator,
    RenderContext,
    load_migrations,
    render_all,
    split_statements,
)


def _tables(client, db):
    return {
        r[0]
        for r in client.query(
            "SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": db}
        ).result_rows
    }


def test_up_down_up(ch_engine):
    db = "xolap_mig_updown"
    migrator = Migrator(ch_engine, RenderContext(db))
    try:
        ran = migrator.up()
        assert [m.version for m in ran] == [m.version for m in load_migrations()]
        assert {"raw_events", "ingest_errors", "content_titles", "schema_migrations"} <= _tables(ch_engine, db)
        assert migrator.up() == []  # nothing pending: idempotent
        reverted = migrator.down(steps=len(ran))
        assert [m.version for m in reverted] == [m.version for m in reversed(ran)]
        assert _tables(ch_engine, db) == {"schema_migrations"}
        assert all(not s.applied for s in migrator.status())
        assert [m.version for m in migrator.up()] == [m.version for m in ran]
        assert all(s.applied for s in migrator.status())
    finally:
        ch_engine.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def test_up_to_target_then_down_one(ch_engine):
    db = "xolap_mig_target"
    migrator = Migrator(ch_engine, RenderContext(db))
    try:
        assert [m.version for m in migrator.up(target=1)] == [1]
        assert [s.applied for s in migrator.status()][:2] == [True, False]
        migrator.up()
        assert [m.version for m in migrator.down()] == [max(m.version for m in load_migrations())]
    finally:
        ch_engine.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def test_raw_events_matches_column_contract(ch_db):
    client, settings = ch_db
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = 'raw_events' ORDER BY position",
        parameters={"d": settings.clickhouse_database},
    ).result_rows
    table = dict(rows)
    for name, ch_type in MAPPED_COLUMNS:
        assert table.get(name) == ch_type, name
    for name, (ch_type, _default) in DEFAULTED_COLUMNS.items():
        assert table[name] == ch_type
    assert set(table) == {n for n, _ in MAPPED_COLUMNS} | set(DEFAULTED_COLUMNS)


def test_cluster_rendering_uses_on_cluster_and_replicated_engines():
    statements = render_all(RenderContext("analytics", cluster="prod_cluster", ttl_months=18))
    creates = [s for s in statements if s.startswith("CREATE")]
    assert creates and all("ON CLUSTER 'prod_cluster'" in s for s in creates)
    raw = next(s for s in statements if ".raw_events" in s.split("(")[0])
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/raw_events', '{replica}', event_version)"
        in raw
    )
    assert "TTL toDateTime(least(toDateTime64(timestamp, 0) + INTERVAL 18 MONTH" in raw
    log = next(s for s in statements if "schema_migrations" in s and s.startswith("CREATE TABLE"))
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/schema_migrations', '{replica}')" in log
    assert all("{{" not in s for s in statements)


def test_single_node_rendering_has_no_cluster_or_ttl():
    statements = render_all(RenderContext("xolap"))
    assert not any("ON CLUSTER" in s or "Replicated" in s for s in statements)
    raw = next(s for s in statements if ".raw_events" in s.split("(")[0])
    assert "ENGINE = ReplacingMergeTree(event_version)" in raw and "TTL" not in raw


def test_split_statements_one_per_step():
    sql = "-- comment\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- other\nDROP TABLE b;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8) ENGINE = Memory", "DROP TABLE b"]


def test_unknown_placeholder_is_an_error():
    with pytest.raises(MigrationError, match="unknown placeholder"):
        RenderContext("x").render("SELECT {{nope}}")


def test_failed_statement_names_migration(ch_engine):
    from xolap.clickhouse.migrations import Migration

    bad = Migration(
        1, "broken", "CREATE TABLE {{db}}.t (x UInt8) ENGINE = NoSuchEngine;", "DROP TABLE IF EXISTS {{db}}.t;"
    )
    migrator = Migrator(ch_engine, RenderContext("xolap_mig_bad"), migrations=[bad])
    try:
        with pytest.raises(MigrationError, match="0001_broken \\(up\\) failed at `CREATE TABLE"):
            migrator.up()
        assert migrator.status()[0].applied is False
    finally:
        ch_engine.command("DROP DATABASE IF EXISTS xolap_mig_bad SYNC")


def test_duplicates_count_once_before_any_merge(ch_db):
    """Re-inserted lines (same event_hash) are visible once through the deduplicated read, before merges run."""
    from xolap.clickhouse.events import READ_SETTINGS, SCOPE_PARAMETER, deduplicated_events, events_table, scoped_events

    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(f"SYSTEM STOP MERGES {events_table(db)}")
    rows = [(f"h{i}", 7 if i % 2 else 8, 70, "page_viewed" if i % 3 else "video") for i in range(100)]
    values = ", ".join(
        f"('2025-03-0{1 + i % 5} 10:00:00', '{t}', 'verb', '{h}', {s}, {p})" for i, (h, s, p, t) in enumerate(rows)
    )
    insert = f"INSERT INTO {events_table(db)} (timestamp, event_type, verb_id, event_hash, section_id, project_id) VALUES {values}"
    for attempt in range(3):  # three separate parts holding the same 100 events (e.g. three different batches)
        client.command(insert, settings={"insert_deduplication_token": f"batch-{attempt}"})
    parts = client.query(
        "SELECT count() FROM system.parts WHERE database = {d:String} AND table = 'raw_events' AND active",
        parameters={"d": db},
    ).result_rows[0][0]
    assert parts >= 3
    assert client.query(f"SELECT count() FROM {events_table(db)}").result_rows[0][0] == 300
    assert (
        client.query(f"SELECT count() FROM {deduplicated_events(db)}", settings=READ_SETTINGS).result_rows[0][0] == 100
    )
    section_7 = client.query(
        f"SELECT count() FROM {scoped_events(db, 'section')}", parameters={SCOPE_PARAMETER: 7}, settings=READ_SETTINGS
    ).result_rows[0][0]
    assert section_7 == 50
    project = client.query(
        f"SELECT count() FROM {scoped_events(db, 'project')}", parameters={SCOPE_PARAMETER: 70}, settings=READ_SETTINGS
    ).result_rows[0][0]
    assert project == 100


def test_retried_insert_with_same_token_is_dropped(ch_db):
    """The dedup window (migration 0004) makes a retried batch with the same token a no-op on a single node."""
    from xolap.clickhouse.events import events_table

    client, settings = ch_db
    table = events_table(settings.clickhouse_database)
    insert = f"INSERT INTO {table} (timestamp, event_type, verb_id, event_hash, section_id) VALUES ('2025-01-01 00:00:00', 'video', 'v', 'x1', 1)"
    for _ in range(2):
        client.command(insert, settings={"insert_deduplication_token": "chunk-1"})
    assert client.query(f"SELECT count() FROM {table}").result_rows[0][0] == 1
