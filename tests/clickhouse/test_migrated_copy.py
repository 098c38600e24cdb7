"""The tests' fresh ClickHouse database (ch_db, a copy made by tests/migrated_copy.py) is the database that
`Migrator.up()` makes: the same tables, views, columns, keys and settings, the same migration log, and its
materialized view writes to the copy's own table."""

from __future__ import annotations

import os

from xolap.clickhouse.migrations import Migrator, RenderContext


def _schema(client, database: str) -> dict[str, list]:
    """Everything the engine reports of a database's schema, its name taken out of the statements."""
    where = {"d": database, "prefix": f"{database}."}
    tables = client.query(
        "SELECT name, engine, replaceAll(create_table_query, {prefix:String}, 'DB.'), sorting_key, primary_key, "
        "partition_key FROM system.tables WHERE database = {d:String} ORDER BY name",
        parameters=where,
    ).result_rows
    columns = client.query(
        "SELECT table, name, type, position, default_kind, default_expression, compression_codec, comment "
        "FROM system.columns WHERE database = {d:String} ORDER BY table, position",
        parameters=where,
    ).result_rows
    log = client.query(
        f"SELECT version, name, applied, checksum FROM `{database}`.schema_migrations ORDER BY version"
    ).result_rows
    return {"tables": tables, "columns": columns, "log": log}


def test_the_copy_is_the_migrated_database(ch_db):
    client, settings = ch_db
    migrated = f"xolap_migrated_p{os.getpid()}"
    Migrator(client, RenderContext(migrated)).up()
    try:
        copy, reference = _schema(client, settings.clickhouse_database), _schema(client, migrated)
        assert len(reference["tables"]) > 10 and len(reference["log"]) == len(
            Migrator(client, RenderContext(migrated)).migrations
        )
        assert copy == reference
        assert Migrator(client, RenderContext(settings.clickhouse_database)).pending() == []
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{migrated}` SYNC")


def test_the_copys_materialized_view_writes_to_the_copy(ch_db, ch_template):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(
        f"INSERT INTO `{db}`.raw_events (event_type, project_id, page_id, object_name, timestamp) "
        "VALUES ('page_viewed', 5, 4401, 'Intro page', now())"
    )
    titles = "SELECT project_id, kind, content_id, title FROM `{}`.content_titles"
    assert client.query(titles.format(db)).result_rows == [(5, "page", "4401", "Intro page")]
    assert client.query(titles.format(ch_template)).result_rows == []
