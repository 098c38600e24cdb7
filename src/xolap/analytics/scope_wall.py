"""The second wall of custom SQL: ClickHouse's additional_table_filters confine every read of a table to one scope.

The guard (xolap.analytics.guard) rewrites user SQL so each table read sits inside a scope-filtered subquery. This
wall does not trust that rewrite: each scoped custom query also runs with the query setting
`additional_table_filters`, a map {"<database>.<table>": "<predicate>"} that ClickHouse adds as a filter step to every
read of that table anywhere in the query. So a guard miss still reads only the scope. Row policies would be the usual
tool, but chDB refuses them (stack-findings A5); in server mode the read-only user's grants and settings profile
(xolap.analytics.readonly_user) add a third wall.

What the filters are (scope id formatted as an integer literal: the setting takes no query parameters, measured
`Code: 456 Query parameter ... was not set`):
- raw_events: `section_id = <id>` (section scope) or `project_id = <id>` (project scope).
- content_titles: `project_id = <id>` (project) or, for a section, `project_id IN (SELECT project_id FROM
  <db>.raw_events WHERE section_id = <id>)`: the engine computes the section's projects itself, and that inner read
  of raw_events is itself filtered by the raw_events entry (measured: section 1 of project 10 sees only project 10's
  titles).
- Every other table: `0`, i.e. no rows. The setting has no wildcard, so the wall is closed against the engine's own
  catalogue when it is applied (query_settings(client) reads it with each query, one read of system.tables): every
  table ClickHouse lists in every database (the wall's own: ingest_errors, experiment_attributions, lrs_statements,
  every rollup table, the staging tables an ingest or a rollup build holds for a moment with every scope's rows,
  tables later migrations add; system but system.one; information_schema; chDB's `default`; any other team's
  database on a shared engine), and every table function readonly lets a query call. The named lists below are
  closed even when the catalogue does not list them yet (system log tables appear on their first flush). A key is
  the unquoted `database.table` whatever its characters; a table no key can name (a temporary table of the engine's
  session, listed with no database) refuses the query instead of leaving it open.
  Measured before (tests/analytics/test_scope_wall.py): a section saw another project's rollup rows, attributions and
  a staging table's every event, system.tables/system.parts the row counts and dates of every scope, and every row
  of a table in another database (`default` or any other).
Admin scope has no wall (it reads everything, still read-only and bounded).

The catalogue is read just before the query is sent, so a table created between the two (~1 ms: the ingest and
rollup staging tables) is not in the map. On a ClickHouse server the read-only user's grants close it (SELECT on
raw_events and content_titles only, xolap.analytics.readonly_user). On embedded chDB (no users) it stays open for
that one query to a query that names it: staging tables are named `<prefix><uuid4 hex>`, so a query must guess 122
random bits to name one, and every table that lists names (system.tables, system.parts, ...) shows no rows; table
functions that read tables without naming them (merge(), ...) are closed by their own keys.

Measured on chDB 4.4 / ClickHouse 26.9 (tests/analytics/test_scope_wall.py re-checks each with the guard disabled):
- Keys must be exactly `database.table`, unquoted. A bare `raw_events` key or a backquoted "`db`.`raw_events`" key
  matches nothing, silently (all 60 of 60 rows visible). With the right key an unqualified `raw_events` read from a
  client whose current database is that database is filtered too.
- The filter holds for `db.raw_events`, `FINAL`, aliases, subqueries, CTEs, every side of JOIN / CROSS JOIN, every
  branch of UNION ALL, `IN (SELECT ...)`, `IN ((db.raw_events AS y))`, `GLOBAL IN`, `NOT IN`, the function form
  `in(x, db.raw_events)`, IN inside lambdas, `view(SELECT ...)`, and `PREWHERE`/`WHERE ... OR 1` cannot widen it.
- A user `SETTINGS additional_table_filters = {}` is refused under readonly=1 (Code 164); inside a subquery it is
  ignored (the filter still applied). The executor runs user SQL with readonly=1, so the user cannot change this map.
- `merge('db', '^raw_events$')` is NOT filtered by the raw_events key (60 of 60 rows); its own key
  `_table_function.merge` is, hence the `0` entries for table functions. `system.one` must stay unfiltered: SELECT
  without FROM reads it.
- The filter is planned like WHERE: EXPLAIN indexes=1 shows the primary key condition `section_id in [1, 1]`.
  Cost on 2M events (guarded query, p50 of 15): section 7.1 -> 8.5 ms, project 21 -> 22 ms.
- Cost (2026-12-01, a loaded 2-core machine): the catalogue read ~1.0-1.2 ms of CPU; each map entry ~10 us inside
  ClickHouse (a query's ~250 entries ~2.5 ms; one per table is required, there is no wildcard); formatting the map
  in Python ~0.9 ms, now once per catalogue. A view's inner reads get their tables' filters too (information_schema's
  views show no rows with only the system keys, but for two built from constants), yet the views keep their own keys:
  closing by what a table reads would open whatever a later version builds differently.
- On a ClickHouse server the executor can only send this setting if the read-only user's profile lets it change
  in readonly mode, and then a SETTINGS clause in user SQL could change it too (see xolap.analytics.readonly_user).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeGuard

from clickhouse_connect.driver.binding import str_query_value

from xolap.clickhouse.client_protocol import ClickHouseClient

WallScope = Literal["section", "project"]


def is_wall_scope(scope: str) -> TypeGuard[WallScope]:
    """True for a scope that has a wall (section, project); admin reads everything."""
    return scope in ("section", "project")


SCOPED_TABLES = ("raw_events", "content_titles")
# Tables of the xolap database a scoped query must never see rows of (the guard refuses naming them anyway).
DENIED_TABLES = ("ingest_errors", "schema_migrations", "content_titles_mv")
# Table functions that read local tables without going through their own additional_table_filters key (the first
# seven measured; loop/remote/cluster are refused under readonly=1 on chDB, listed for servers that grant them).
DENIED_TABLE_FUNCTIONS = (
    "merge",
    "mergeTreeIndex",
    "mergeTreeAnalyzeIndexes",
    "mergeTreeAnalyzeIndexesUUID",
    "mergeTreeProjection",
    "mergeTreeTextIndex",
    "mergeTreeCodecBlockCounts",
    "loop",
    "remote",
    "remoteSecure",
    "cluster",
    "clusterAllReplicas",
)
# System tables that hold other people's queries, errors or logs.
DENIED_SYSTEM_TABLES = (
    "processes",
    "query_log",
    "query_thread_log",
    "query_views_log",
    "query_metric_log",
    "processors_profile_log",
    "text_log",
    "trace_log",
    "error_log",
    "errors",
    "session_log",
    "asynchronous_insert_log",
    "crash_log",
)
NO_ROWS = "0"
# Every database the engine lists is closed table by table; of its tables only system.one stays open.
OPEN_SYSTEM_TABLES = ("one",)
TABLE_FUNCTIONS_MAX_AGE_S = 60.0
_CATALOGUE_SQL = "SELECT database, name FROM system.tables"
_TABLE_FUNCTIONS_SQL = "SELECT name FROM system.table_functions WHERE allow_readonly"
_table_functions: tuple[float, frozenset[str]] | None = None


class UnclosableTable(ValueError):
    """The engine lists a table no filter key can name (a temporary table has no database): the query is refused."""


def catalogue_tables(client: ClickHouseClient, database: str) -> frozenset[str]:
    """`database.table` keys of every table the engine lists, in every database (the warehouse's, the engine's own,
    chDB's `default`, any other team's or later one), and of every table function readonly lets a query call, except
    the scoped tables and system.one. Tables are read now, in one read (staging tables come and go); table functions,
    fixed by the engine's version, at most every TABLE_FUNCTIONS_MAX_AGE_S. Raises UnclosableTable for a table no key
    can name. A key is the unquoted `database.table` whatever the characters (measured: `db.odd-name`, quotes,
    backslashes, dots, unicode all match), and a key of another table can never equal a scoped table's key, whose
    database is an ASCII identifier: every such key gets NO_ROWS, so a collision could only close more."""
    global _table_functions
    remembered = _table_functions
    if remembered is None or time.monotonic() - remembered[0] > TABLE_FUNCTIONS_MAX_AGE_S:
        read_at = time.monotonic()
        names = client.query(_TABLE_FUNCTIONS_SQL).result_rows
        remembered = _table_functions = (read_at, frozenset(f"_table_function.{name}" for (name,) in names))
    return remembered[1] | _keys(client.query(_CATALOGUE_SQL).result_rows, database)


def _keys(rows: Sequence[Sequence[Any]], database: str) -> frozenset[str]:
    keys = set()
    for schema, name in rows:
        if (schema == database and name in SCOPED_TABLES) or (schema == "system" and name in OPEN_SYSTEM_TABLES):
            continue
        if not schema:
            raise UnclosableTable("the engine holds a table the scope wall cannot close; ask an admin")
        keys.add(f"{schema}.{name}")
    return frozenset(keys)


@dataclass(frozen=True)
class ScopeWall:
    """The engine-enforced filters for one scope: pass query_settings() with the query (readonly=1 keeps them)."""

    scope: WallScope
    scope_id: int
    database: str

    def table_filters(self) -> dict[str, str]:
        """additional_table_filters: `database.table` -> predicate (formatted literals: the id is a checked int)."""
        db = self.database
        column = "section_id" if self.scope == "section" else "project_id"
        filters = {f"{db}.raw_events": f"{column} = {self.scope_id}"}
        if self.scope == "project":
            filters[f"{db}.content_titles"] = f"project_id = {self.scope_id}"
        else:
            filters[f"{db}.content_titles"] = (
                f"project_id IN (SELECT project_id FROM {db}.raw_events WHERE section_id = {self.scope_id})"
            )
        filters.update({f"{db}.{table}": NO_ROWS for table in DENIED_TABLES})
        filters.update({f"system.{table}": NO_ROWS for table in DENIED_SYSTEM_TABLES})
        filters.update({f"_table_function.{name}": NO_ROWS for name in DENIED_TABLE_FUNCTIONS})
        return filters

    def query_settings(self, client: ClickHouseClient) -> dict[str, Any]:
        """The setting to send with the query: table_filters() closed against the engine's catalogue read now."""
        return closed_settings(client, self.database, self.table_filters())


def closed_settings(client: ClickHouseClient, database: str, filters: dict[str, str]) -> dict[str, Any]:
    """The additional_table_filters setting: `filters`, and NO_ROWS for every other table of the engine's catalogue
    read now (catalogue_tables), as the map literal clickhouse-connect would send for the dict. The NO_ROWS part,
    the same for every scope while the catalogue is unchanged, is formatted once (formatting ~250 entries per query
    cost ~1 ms of CPU)."""
    own = {key: predicate for key, predicate in filters.items() if predicate != NO_ROWS}
    closed = (catalogue_tables(client, database) | filters.keys()) - own.keys()
    parts = [_no_rows_entries(frozenset(closed))] + [_entry(key, predicate) for key, predicate in own.items()]
    return {"additional_table_filters": "{" + ", ".join(part for part in parts if part) + "}"}


def _entry(key: str, predicate: str) -> str:
    return f"{str_query_value(key)}: {str_query_value(predicate)}"


@lru_cache(maxsize=16)
def _no_rows_entries(keys: frozenset[str]) -> str:
    return ", ".join(_entry(key, NO_ROWS) for key in sorted(keys))


def scope_wall(scope: str, scope_id: int | None, database: str) -> ScopeWall | None:
    """The wall for a section or project scope; None for admin. Raises ValueError on an id or name that could not be
    formatted safely into a filter (the setting takes literals only)."""
    if scope == "admin":
        return None
    if not is_wall_scope(scope):
        raise ValueError(f"unknown scope {scope!r}: use section, project or admin")
    if isinstance(scope_id, bool) or not isinstance(scope_id, int) or scope_id < 0:
        raise ValueError(f"a {scope} scope needs a non-negative integer id, got {scope_id!r}")
    if not database.isidentifier() or not database.isascii():
        raise ValueError(f"database name {database!r} cannot key a table filter")
    return ScopeWall(scope, scope_id, database)
