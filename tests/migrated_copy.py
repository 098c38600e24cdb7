"""A fresh migrated ClickHouse database for each test, copied from one database migrated once per test process.

`Migrator.up()` replays every migration (ALTERs of earlier tables included) and logs each version with its own
insert; copying the migrated result (each table's and view's CREATE statement as the engine reports it, then the
migration log) gives the same schema in about a quarter of the time. tests/clickhouse/test_migrated_copy.py checks
that a copy and a migrated database do not differ.
"""

from __future__ import annotations

from xolap.clickhouse.client_protocol import ClickHouseClient


def create_statements(client: ClickHouseClient, template: str) -> list[str]:
    """The CREATE statements of the template's tables, then its views (a materialized view needs its target)."""
    rows = client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {d:String} ORDER BY engine LIKE '%View', name",
        parameters={"d": template},
    ).result_rows
    return [row[0] for row in rows]


def copy_migrated_database(client: ClickHouseClient, template: str, name: str) -> None:
    """Create database `name` with the template's tables and views (empty) and its migration log. The template's
    name must not occur in the statements other than as the database qualifier (use a distinctive one)."""
    client.command(f"CREATE DATABASE `{name}`")
    for statement in create_statements(client, template):
        client.command(statement.replace(f"`{template}`.", f"`{name}`.").replace(f"{template}.", f"`{name}`."))
    client.command(f"INSERT INTO `{name}`.schema_migrations SELECT * FROM `{template}`.schema_migrations")
