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
- Every other table of the database (ingest_errors, schema_migrations, content_titles_mv) and the table functions that
  read tables behind the guard's back (merge, mergeTreeIndex, mergeTreeAnalyzeIndexes*, mergeTreeProjection,
  mergeTreeTextIndex, mergeTreeCodecBlockCounts) and the system tables that hold other people's queries
  (system.processes, system.query_log, ...): `0`, i.e. no rows.
Admin scope has no wall (it reads everything, still read-only and bounded).

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
- On a ClickHouse server the executor can only send this setting if the read-only user's profile lets it change
  in readonly mode, and then a SETTINGS clause in user SQL could change it too (see xolap.analytics.readonly_user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

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

    def query_settings(self) -> dict[str, Any]:
        return {"additional_table_filters": self.table_filters()}


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
