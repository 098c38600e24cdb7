"""The engine-enforced second wall: with the guard's rewrite out of the way, hostile SQL that reads <db>.raw_events
directly (subqueries, joins, UNION, IN sets, `IN ((db.raw_events AS y))`, merge(), ...) still sees only its scope."""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timedelta

import pytest

from xolap.analytics.executor import QueryError, run
from xolap.analytics.guard import guard
from xolap.analytics.scope_wall import ScopeWall, scope_wall
from xolap.clickhouse.migrations import Migrator, RenderContext

SECTIONS = {1: 10, 2: 10, 3: 20}  # section id -> project id
SCOPES = {("section", 1): {1}, ("section", 3): {3}, ("project", 10): {1, 2}, ("project", 20): {3}}
_names = itertools.count(1)


def _value(column_type: str, section: int, i: int):
    """A non-NULL value of the column's type (tuples with NULL never match IN, which would hide a leak)."""
    base = column_type.removeprefix("Nullable(").removeprefix("LowCardinality(").rstrip(")")
    if base.startswith("DateTime"):
        return datetime(2026, 10, 1, 8) + timedelta(hours=i)
    if base == "Bool":
        return i % 2 == 0
    if base.startswith(("UInt", "Int")):
        return i + 1
    if base.startswith("Float"):
        return float(i) + 0.5
    return f"s{section}-{i}"


@pytest.fixture(scope="module")
def world(ch_engine, base_settings):
    """Three sections in two projects (every column non-NULL), one ingest error, and `outside`: a subquery of literals
    holding every event (the outside of an IN set; a table of any database would be behind the wall too)."""
    client = ch_engine
    db = f"xolap_w{os.getpid()}_{next(_names)}"
    Migrator(client, RenderContext(db)).up()
    columns = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'raw_events' ORDER BY position",
        parameters={"db": db},
    ).result_rows
    rows = []
    for section, project in SECTIONS.items():
        for i in range(4 * section):
            row = {name: _value(type_, section, i) for name, type_ in columns}
            row.update(
                section_id=section,
                project_id=project,
                event_type="page_viewed",
                page_id=100 + i,
                event_hash=f"h{section}-{i}",
                object_name=f"title-{project}-{i}",
            )
            rows.append([row[name] for name, _ in columns])
    client.insert(f"`{db}`.raw_events", rows, column_names=[name for name, _ in columns])
    client.insert(
        f"`{db}`.ingest_errors",
        [["f.jsonl", 1, "bad", "secret line"]],
        column_names=["source_file", "source_line", "reason", "raw_line"],
    )
    settings = base_settings.model_copy(update={"clickhouse_database": db})
    yield client, settings, _literal_events(client, db, columns), [name for name, _ in columns]
    client.command(f"DROP DATABASE IF EXISTS `{db}` SYNC")


def _literal_events(client, db: str, columns: list[tuple[str, str]]) -> str:
    """`(SELECT <every column> ...)` answering every stored event from literals (ClickHouse's own Values text)."""
    [(values,)] = client.query(
        f"SELECT arrayStringConcat(groupArray(formatRowNoNewline('Values', *)), ',') FROM `{db}`.raw_events"
    ).result_rows
    row_type = "Array(Tuple(" + ", ".join(f"{name} {type_}" for name, type_ in columns) + "))"
    picked = ", ".join(f"tupleElement(t, '{name}') AS {name}" for name, _ in columns)
    return f"(SELECT {picked} FROM (SELECT arrayJoin(CAST([{values}], '{row_type}')) AS t))"


def hostile_queries(db: str, outside: str, columns: list[str]) -> dict[str, str]:
    """SQL the guard would refuse or rewrite, each answering with section ids it could see."""
    events = f"{db}.raw_events"
    row = "(" + ", ".join(f"m.{name}" for name in columns) + ")"
    return {
        "direct": f"SELECT section_id FROM {events}",
        "backquoted": f"SELECT section_id FROM `{db}`.`raw_events` AS r",
        "final": f"SELECT section_id FROM {events} FINAL",
        "or_1": f"SELECT section_id FROM {events} WHERE section_id = 3 OR 1",
        "prewhere": f"SELECT section_id FROM {events} PREWHERE section_id IN (1, 2, 3)",
        "subquery": f"SELECT s FROM (SELECT section_id AS s FROM (SELECT * FROM {events}))",
        "cte": f"WITH e AS (SELECT * FROM {events}) SELECT section_id FROM e",
        "scalar_subquery": f"SELECT arrayJoin((SELECT groupUniqArray(section_id) FROM {events}))",
        "join": f"SELECT b.section_id FROM {events} AS a INNER JOIN {events} AS b ON a.user_id != b.user_id OR 1",
        "cross_join": f"SELECT b.section_id FROM (SELECT 1 AS one) AS a CROSS JOIN {events} AS b",
        "left_join": (
            f"SELECT e.section_id FROM (SELECT arrayJoin([1, 2, 3]) AS s) AS t "
            f"LEFT JOIN {events} AS e ON e.section_id = t.s WHERE e.section_id != 0"
        ),
        "full_join": f"SELECT e.section_id FROM {events} AS e FULL JOIN {outside} AS m ON 0 = 1 WHERE e.section_id != 0",
        "union_all": f"SELECT section_id FROM {events} WHERE section_id = 2 UNION ALL SELECT section_id FROM {events}",
        "union_distinct": f"SELECT section_id FROM {events} UNION DISTINCT SELECT section_id FROM {events} FINAL",
        "in_subquery": f"SELECT section_id FROM {outside} WHERE section_id IN (SELECT section_id FROM {events})",
        "in_aliased_table": f"SELECT m.section_id FROM {outside} AS m WHERE {row} IN (({events} AS y))",
        "global_in_aliased_table": f"SELECT m.section_id FROM {outside} AS m WHERE {row} GLOBAL IN (({events} AS y))",
        "in_bare_table": f"SELECT m.section_id FROM {outside} AS m WHERE {row} IN {events}",
        "in_function_form": f"SELECT m.section_id FROM {outside} AS m WHERE in({row}, {events})",
        "in_inside_lambda": (
            f"SELECT m.section_id FROM {outside} AS m WHERE arrayExists(x -> {row} IN (({events} AS y)), [1])"
        ),
        "view_function": f"SELECT section_id FROM view(SELECT * FROM {events})",
        "merge_function": f"SELECT section_id FROM merge('{db}', '^raw_events$')",
        "aliased_as_system": f"SELECT system.section_id FROM {events} AS system",
        "aliased_as_system_one": f"SELECT section_id FROM {events} AS `system.one`",
        "double_quoted": f'SELECT section_id FROM "{db}"."raw_events"',
        "commented": f"SELECT section_id FROM /* {db}.other */ {events} -- {db}.other",
        "intersect": f"SELECT section_id FROM {events} INTERSECT SELECT section_id FROM {events}",
        "except": f"SELECT section_id FROM {events} EXCEPT SELECT 99",
        "cte_shadowing_a_table": f"WITH raw_events AS (SELECT * FROM {events}) SELECT section_id FROM raw_events",
        "with_scalar_subquery": f"WITH (SELECT groupUniqArray(section_id) FROM {events}) AS s SELECT arrayJoin(s)",
        "join_to_another_scope": (
            f"SELECT o.section_id FROM (SELECT 1 AS one) AS r "
            f"JOIN (SELECT * FROM {events} WHERE section_id = 3) AS o ON 1 = 1"
        ),
        "limit_by": f"SELECT section_id FROM {events} LIMIT 1 BY section_id",
    }


def visible_sections(client, settings, sql: str, wall: ScopeWall | None) -> set[int]:
    result = run(client, settings, sql, wall=wall, readonly=True)
    return {row[0] for row in result.rows}


@pytest.mark.parametrize(("scope", "scope_id"), list(SCOPES))
def test_the_filter_alone_holds_against_hostile_sql(world, scope, scope_id):
    client, settings, outside, columns = world
    db = settings.clickhouse_database
    wall = scope_wall(scope, scope_id, db)
    allowed = SCOPES[(scope, scope_id)]
    leaks = {}
    for name, sql in hostile_queries(db, outside, columns).items():
        seen = visible_sections(client, settings, sql, wall)
        if not seen <= allowed:
            leaks[name] = seen
    assert leaks == {}


@pytest.mark.parametrize(("scope", "scope_id"), list(SCOPES))
def test_a_table_named_by_a_query_parameter_is_behind_the_wall(world, scope, scope_id):
    """`{d:Identifier}.{t:Identifier}` names the table at run time: the filter applies to whatever table it names."""
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    wall = scope_wall(scope, scope_id, db)
    events = {"d": db, "t": "raw_events"}
    sql = "SELECT DISTINCT section_id FROM {d:Identifier}.{t:Identifier}"
    assert {row[0] for row in run(client, settings, sql, parameters=events, wall=wall).rows} == SCOPES[
        (scope, scope_id)
    ]
    count = "SELECT count() FROM {d:Identifier}.{t:Identifier}"
    for other in (
        {"d": db, "t": "rollup_events_daily"},
        {"d": db, "t": "ingest_errors"},
        {"d": "system", "t": "tables"},
    ):
        assert run(client, settings, count, parameters=other).rows != [(0,)] or other["t"] == "rollup_events_daily"
        assert run(client, settings, count, parameters=other, wall=wall).rows == [(0,)], other


def test_the_hostile_queries_do_leak_without_the_wall(world):
    """The control: each hostile query reads other sections when nothing but readonly stands in its way."""
    client, settings, outside, columns = world
    queries = hostile_queries(settings.clickhouse_database, outside, columns)
    quiet = {name for name, sql in queries.items() if visible_sections(client, settings, sql, None) <= {1}}
    assert quiet == set()


@pytest.mark.parametrize(("scope", "scope_id"), list(SCOPES))
def test_in_sets_see_the_whole_scope(world, scope, scope_id):
    """The wall keeps what the scope owns: every one of its rows is found through an `IN ((table AS y))` set."""
    client, settings, outside, columns = world
    db = settings.clickhouse_database
    sql = (
        hostile_queries(db, outside, columns)["in_aliased_table"].replace(
            "SELECT m.section_id", "SELECT m.section_id, count()"
        )
        + " GROUP BY 1"
    )
    counts = dict(run(client, settings, sql, wall=scope_wall(scope, scope_id, db)).rows)
    assert counts == {section: 4 * section for section in SCOPES[(scope, scope_id)]}


@pytest.mark.parametrize(
    ("scope", "scope_id", "projects"), [("section", 1, {10}), ("section", 3, {20}), ("project", 20, {20})]
)
def test_content_titles_are_confined_to_the_scopes_projects(world, scope, scope_id, projects):
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    wall = scope_wall(scope, scope_id, db)
    for sql in (
        f"SELECT DISTINCT project_id FROM {db}.content_titles",
        f"SELECT DISTINCT project_id FROM {db}.content_titles FINAL",
        f"SELECT DISTINCT project_id FROM {db}.content_titles_mv",
    ):
        assert {row[0] for row in run(client, settings, sql, wall=wall).rows} <= projects, sql
    assert {
        row[0] for row in run(client, settings, f"SELECT DISTINCT project_id FROM {db}.content_titles", wall=wall).rows
    } == projects


def test_admin_only_and_system_tables_show_no_rows(world):
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    wall = scope_wall("section", 1, db)
    for sql in (
        f"SELECT count() FROM {db}.ingest_errors",
        f"SELECT count() FROM {db}.schema_migrations",
        "SELECT count() FROM system.processes",
        f"SELECT count() FROM mergeTreeIndex('{db}', 'raw_events')",
        f"SELECT count() FROM merge('{db}', '.*')",
    ):
        assert run(client, settings, sql, wall=wall).rows == [(0,)], sql
    assert run(client, settings, f"SELECT count() FROM {db}.ingest_errors").rows == [(1,)]
    assert run(client, settings, "SELECT 41 + 1", wall=wall).rows == [(42,)]  # SELECT without FROM reads system.one


def test_a_user_cannot_reset_the_filters(world):
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    wall = scope_wall("section", 1, db)
    with pytest.raises(QueryError) as info:
        run(
            client,
            settings,
            f"SELECT section_id FROM {db}.raw_events SETTINGS additional_table_filters = {{}}",
            wall=wall,
        )
    assert info.value.kind == "readonly"
    nested = f"SELECT section_id FROM (SELECT * FROM {db}.raw_events SETTINGS additional_table_filters = {{}})"
    assert visible_sections(client, settings, nested, wall) == {1}
    with pytest.raises(ValueError):
        run(client, settings, "SELECT 1", wall=wall, readonly=False)


@pytest.mark.parametrize(("scope", "scope_id"), list(SCOPES))
def test_guarded_queries_answer_the_same_behind_the_wall(world, scope, scope_id):
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    for sql in (
        "SELECT section_id, count() FROM raw_events GROUP BY section_id ORDER BY section_id",
        "SELECT t.project_id, count() FROM raw_events AS e JOIN content_titles AS t ON t.content_id = toString(e.page_id) "
        "GROUP BY t.project_id ORDER BY 1",
        "SELECT count() FROM content_titles",
    ):
        guarded = guard(sql, scope=scope, database=db)
        parameters = guarded.parameters(scope_id)
        plain = run(client, settings, guarded.sql, parameters=parameters).rows
        walled = run(client, settings, guarded.sql, parameters=parameters, wall=scope_wall(scope, scope_id, db)).rows
        assert walled == plain and plain, sql


def test_filter_keys_are_database_dot_table_and_ids_are_checked():
    wall = scope_wall("project", 7, "xolap")
    filters = wall.table_filters()
    assert filters["xolap.raw_events"] == "project_id = 7"
    assert filters["xolap.content_titles"] == "project_id = 7"
    assert filters["xolap.ingest_errors"] == "0"
    assert not any(key.startswith(("`", "raw_events")) for key in filters)
    assert scope_wall("section", 3, "xolap").table_filters()["xolap.raw_events"] == "section_id = 3"
    assert scope_wall("admin", None, "xolap") is None
    for bad in (None, -1, True, 1.5, "1", "1 OR 1"):
        with pytest.raises(ValueError):
            scope_wall("section", bad, "xolap")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        scope_wall("section", 1, "x`y")
    with pytest.raises(ValueError):
        scope_wall("everyone", 1, "xolap")


def _settings_of_logged_query(client, marker: str) -> dict:
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT Settings FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE {m:String} "
        "AND query NOT LIKE '%FROM system.query_log%' ORDER BY event_time_microseconds DESC LIMIT 1",
        parameters={"m": f"%{marker}%"},
    ).result_rows
    assert rows, f"no query_log row for {marker}"
    return rows[0][0]


def test_custom_sql_runs_behind_the_wall(world):
    """xolap.analytics.custom_sql, the one place `xolap query` and the API run custom SQL."""
    from xolap.analytics.custom_sql import run_custom_sql

    client, settings, _outside, _columns = world
    marker = f"wall-cli-{os.getpid()}"
    result = run_custom_sql(
        client, settings, f"SELECT '{marker}' AS m, count() FROM raw_events", scope="section", scope_id=3
    )
    assert result.rows[0][0] == marker
    logged = _settings_of_logged_query(client, marker)
    assert f"'{settings.clickhouse_database}.raw_events':'section_id = 3'" in logged["additional_table_filters"]


def test_the_api_runs_custom_sql_behind_the_wall(world):
    from xolap.runtime import Runtime
    from xolap.web.analytics_scope import AnalyticsScope
    from xolap.web.api_analytics import run_custom_sql

    client, settings, _outside, _columns = world
    runtime = Runtime(settings)
    marker = f"wall-api-{os.getpid()}"
    scope = AnalyticsScope(kind="project", id=20, slug="p20", title="Project 20")
    result = run_custom_sql(runtime, scope, f"SELECT '{marker}' AS m, count() FROM raw_events")
    assert result.rows == [(marker, 12)]
    logged = _settings_of_logged_query(client, marker)
    assert f"'{settings.clickhouse_database}.raw_events':'project_id = 20'" in logged["additional_table_filters"]


def _tables(client, database: str) -> list[str]:
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", parameters={"db": database}
    ).result_rows
    return [name for (name,) in rows]


def test_every_other_table_of_the_database_shows_no_rows(world):
    """Every table but raw_events and content_titles holds other scopes' rows (rollups, attributions, LRS statements,
    a staging table an ingest or a rollup build holds for a moment, tables added by later migrations): read directly,
    behind a section's wall, each shows none. Fails open if the wall lists only the tables known when it was written."""
    from xolap.analytics.rollups import current_builds

    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    current_builds(client, db, "section", 3)
    client.command(
        f"INSERT INTO {db}.experiment_attributions (raw_event_hash, attribution_hash, timestamp, section_id, project_id) "
        "VALUES ('h3-0', 'a', '2026-10-01 08:00:00', 3, 20)"
    )
    client.command(f'INSERT INTO {db}.lrs_statements (statement) VALUES (\'{{"actor": {{"mbox": "x"}}}}\')')
    stage = f"_ingest_stage_{os.getpid()}"
    client.command(f"CREATE TABLE {db}.{stage} ENGINE = Memory AS SELECT * FROM {db}.raw_events")
    try:
        wall = scope_wall("section", 1, db)
        holding, leaking = [], {}
        for table in _tables(client, db):
            if table in ("raw_events", "content_titles"):
                continue
            sql = f"SELECT count() FROM {db}.{table}"
            if run(client, settings, sql).rows[0][0] > 0:
                holding.append(table)
            walled = run(client, settings, sql, wall=wall).rows[0][0]
            if walled:
                leaking[table] = walled
        assert {stage, "rollup_events_daily", "rollup_learners", "experiment_attributions", "lrs_statements"} <= set(
            holding
        )
        assert leaking == {}
    finally:
        client.command(f"DROP TABLE IF EXISTS {db}.{stage}")


def test_system_tables_show_no_rows_but_one(world):
    """System tables tell a scope about the rest of the warehouse (system.tables' and system.parts' row counts and
    dates of every scope's events, names of live staging tables, mutations, other queries): behind a wall the ones
    that hold such facts show no rows, and the filters the engine received close every system and information_schema
    table (a table added by a later ClickHouse included) but system.one, which SELECT without FROM reads."""
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    wall = scope_wall("project", 20, db)
    facts = ["tables", "parts", "parts_columns", "columns", "data_skipping_indices", "projection_parts", "mutations"]
    facts += ["merges", "detached_parts", "dropped_tables", "asynchronous_loader", "stack_trace", "query_cache"]
    facts += ["processes", "events", "metrics", "asynchronous_inserts", "settings"]
    union = " UNION ALL ".join(f"SELECT '{table}', count() FROM system.{table}" for table in facts)
    assert {table for table, count in run(client, settings, union).rows if count} >= {"tables", "parts", "columns"}
    assert {table: count for table, count in run(client, settings, union, wall=wall).rows if count} == {}
    for schema in ("information_schema", "INFORMATION_SCHEMA"):
        assert run(client, settings, f"SELECT count() FROM {schema}.tables", wall=wall).rows == [(0,)]
    received = run(client, settings, "SELECT getSetting('additional_table_filters')", wall=wall).rows[0][0]
    every = client.query(
        "SELECT concat(database, '.', name) FROM system.tables "
        "WHERE database IN ('system', 'information_schema', 'INFORMATION_SCHEMA') AND name != 'one'"
    ).result_rows
    assert len(every) > 100 and {key for (key,) in every if received.get(key) != "0"} == set()
    assert "system.one" not in received
    assert run(client, settings, "SELECT 41 + 1", wall=wall).rows == [(42,)]


def test_tables_of_every_other_database_show_no_rows(world):
    """Every other database of the engine (chDB's `default`, another team's database on a shared server, one created
    after the wall was written) holds rows no scope owns: behind a wall each of its tables, views and Merge tables
    shows none, whatever its name (ClickHouse keys a filter by the unquoted `database.table`, any characters)."""
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    other = f"{db}_other team"
    in_default = f"default.`{db}_elsewhere`"
    names = ["events", "odd-name", "q'uote\\x", "ünïcode", "dot.ted"]
    quoted = {name: "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`" for name in names}
    client.command(f"CREATE DATABASE `{other}`")
    try:
        for name in names:
            client.command(f"CREATE TABLE `{other}`.{quoted[name]} ENGINE = Memory AS SELECT * FROM `{db}`.raw_events")
        client.command(f"CREATE VIEW `{other}`.v AS SELECT * FROM `{other}`.events")
        client.command(f"CREATE TABLE `{other}`.m AS `{db}`.raw_events ENGINE = Merge('{other}', '^events$')")
        client.command(f"CREATE TABLE {in_default} ENGINE = Memory AS SELECT * FROM `{db}`.raw_events")
        tables = [f"`{other}`.{quoted[name]}" for name in names] + [f"`{other}`.v", f"`{other}`.m", in_default]
        union = " UNION ALL ".join(f"SELECT {i} AS t, section_id FROM {table}" for i, table in enumerate(tables))
        assert {section for _t, section in run(client, settings, union).rows} == {1, 2, 3}
        for scope, scope_id in SCOPES:
            walled = run(client, settings, union, wall=scope_wall(scope, scope_id, db)).rows
            assert {tables[t]: section for t, section in walled} == {}, (scope, scope_id)
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{other}` SYNC")
        client.command(f"DROP TABLE IF EXISTS {in_default} SYNC")


def test_a_table_the_wall_cannot_name_refuses_the_query(world):
    """A table no filter key can name (a temporary table of the engine's session: ClickHouse keys it by no database)
    cannot be closed: every walled query is refused (a QueryError, as the routes report), never run with it open."""
    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    client.command(f"CREATE TEMPORARY TABLE held_{os.getpid()} AS SELECT * FROM `{db}`.raw_events")
    try:
        with pytest.raises(QueryError) as info:
            run(client, settings, f"SELECT count() FROM held_{os.getpid()}", wall=scope_wall("section", 1, db))
        assert "cannot close" in info.value.message and "held_" not in info.value.message
    finally:
        client.command(f"DROP TEMPORARY TABLE IF EXISTS held_{os.getpid()}")


def layered_attacks(db: str, outfile: str) -> list[str]:
    """Custom SQL as a user types it, each answering with the section ids it could see: both layers together (the
    guard, then the engine's parse and the wall) refuse it or show only the scope."""
    return [
        "SELECT section_id FROM raw_events AS system",
        "SELECT section_id FROM raw_events AS `system.one`",
        'SELECT section_id FROM "raw_events"',
        "SELECT section_id FROM `raw\\x5fevents`",
        f"SELECT section_id FROM `{db}`.`raw_events`",
        f'SELECT section_id FROM "{db}".raw_events',
        "SELECT section_id FROM /* other */ raw_events -- x",
        f"WITH raw_events AS (SELECT * FROM {db}.raw_events) SELECT section_id FROM raw_events",
        f"WITH content_titles AS (SELECT * FROM {db}.raw_events) SELECT section_id FROM content_titles",
        "WITH (SELECT groupUniqArray(section_id) FROM raw_events) AS s SELECT arrayJoin(s)",
        "SELECT arrayJoin((SELECT groupUniqArray(section_id) FROM raw_events))",
        "SELECT section_id FROM raw_events INTERSECT SELECT section_id FROM raw_events",
        "SELECT section_id FROM raw_events EXCEPT SELECT 99",
        "SELECT o.section_id FROM raw_events AS r JOIN (SELECT * FROM raw_events WHERE section_id = 3) AS o ON 1 = 1",
        f"SELECT section_id FROM raw_events WHERE section_id IN (SELECT section_id FROM {db}.raw_events)",
        "SELECT section_id FROM (SELECT * FROM raw_events SETTINGS additional_table_filters = {'x': '1'})",
        "SELECT section_id FROM raw_events SETTINGS readonly = 0",
        "SELECT section_id FROM raw_events FORMAT JSON",
        f"SELECT section_id FROM raw_events INTO OUTFILE '{outfile}'",
        f"SELECT section_id FROM raw_events INTO OUTFILE '{outfile}' APPEND",
        "SELECT section_id FROM raw_events; SELECT section_id FROM raw_events",
        f"SELECT section_id FROM merge('{db}', '^raw_events$')",
        f"SELECT section_id FROM view(SELECT * FROM {db}.raw_events)",
        f"SELECT section_id FROM loop({db}.raw_events) LIMIT 100",
        f"SELECT dictGet('{db}.d', 'section_id', 1)",
        f"SELECT section_id FROM dictionary('{db}.d')",
        "SELECT section_id FROM {t:Identifier}",
        "SELECT section_id FROM raw_events WHERE section_id = {xolap_scope_id:UInt64} OR 1",
        "SELECT section_id FROM raw_events LIMIT 1 BY section_id",
        "SELECT section_id FROM raw_events AS a PASTE JOIN (SELECT * FROM raw_events) AS b",
        "SELECT section_id FROM (SELECT * FROM raw_events) AS raw_events",
    ]


@pytest.mark.parametrize(("scope", "scope_id"), [("section", 1), ("project", 20)])
def test_custom_sql_attacks_are_refused_or_see_only_the_scope(world, tmp_path, scope, scope_id):
    from xolap.analytics.custom_sql import run_custom_sql
    from xolap.analytics.guard import GuardError

    client, settings, _outside, _columns = world
    outfile = tmp_path / "answer.out"
    seen = {}
    for sql in layered_attacks(settings.clickhouse_database, str(outfile)):
        try:
            result = run_custom_sql(client, settings, sql, scope=scope, scope_id=scope_id)
        except (GuardError, QueryError):
            continue
        seen[sql] = {row[0] for row in result.rows}
    assert {sql: sections for sql, sections in seen.items() if not sections <= SCOPES[(scope, scope_id)]} == {}
    assert len(seen) >= 10 and not outfile.exists()


def test_a_dictionary_over_every_scope_is_closed_by_the_walls(world):
    """A dictionary someone created over raw_events holds every scope's rows: its table form shows no rows behind the
    wall, dictionary() is refused read-only, and the dictGet family (which reads it by key past the table filters:
    the control) is refused by the engine's parse."""
    from xolap.analytics.function_wall import check_functions
    from xolap.analytics.guard import GuardError

    client, settings, _outside, _columns = world
    db = settings.clickhouse_database
    client.command(
        f"CREATE DICTIONARY {db}.by_hash (event_hash String, section_id UInt64) PRIMARY KEY event_hash "
        f"SOURCE(CLICKHOUSE(QUERY 'SELECT event_hash, section_id FROM {db}.raw_events')) "
        "LIFETIME(0) LAYOUT(COMPLEX_KEY_HASHED())"
    )
    try:
        wall = scope_wall("section", 1, db)
        assert run(client, settings, f"SELECT count() FROM {db}.by_hash").rows == [(24,)]
        assert run(client, settings, f"SELECT count() FROM {db}.by_hash", wall=wall).rows == [(0,)]
        with pytest.raises(QueryError):
            run(client, settings, f"SELECT count() FROM dictionary('{db}.by_hash')", wall=wall)
        by_key = f"SELECT dictGet('{db}.by_hash', 'section_id', tuple('h3-0'))"
        assert run(client, settings, by_key, wall=wall).rows == [(3,)]  # the control: the table filters alone
        dictionary, key = f"'{db}.by_hash'", "tuple('h3-0')"
        for sql in (
            f"SELECT dictGet({dictionary}, 'section_id', {key})",
            f"SELECT DICTGET({dictionary}, 'section_id', {key})",
            f"SELECT dictGetOrDefault({dictionary}, 'section_id', {key}, 0)",
            f"SELECT dictGetUInt64({dictionary}, 'section_id', {key})",
            f"SELECT dictGetOrNull({dictionary}, 'section_id', {key})",
            f"SELECT dictHas({dictionary}, {key})",
            f"SELECT arrayMap(k -> dictGet({dictionary}, 'section_id', tuple(k)), ['h3-0'])",
        ):
            with pytest.raises(GuardError):
                check_functions(client, sql)
    finally:
        client.command(f"DROP DICTIONARY IF EXISTS {db}.by_hash")
