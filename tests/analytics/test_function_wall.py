"""The second wall for functions (xolap.analytics.function_wall): with the guard out of the way, hostile SQL that calls
file(), dictGet(), getSetting(), ... is refused by ClickHouse's own parse; the scope wall alone lets file() read the
server's files; guarded ordinary queries pass; and run_custom_sql asks the engine before every run."""

from __future__ import annotations

import os

import pytest

from xolap.analytics.custom_sql import run_custom_sql
from xolap.analytics.executor import run
from xolap.analytics.function_wall import called_functions, check_functions
from xolap.analytics.guard import GuardError, guard
from xolap.analytics.scope_wall import scope_wall

READ_A_FILE = "SELECT file('/etc/hostname') AS f"

HOSTILE = [
    READ_A_FILE,
    "SELECT FILE('/etc/hostname')",
    "SELECT `file`('/etc/hostname')",
    "SELECT \"File\"('/etc/hostname')",
    "SELECT count() FROM (SELECT 1 AS x) WHERE length(file('/etc/hostname')) > 0",
    "SELECT arrayMap(x -> file(x), ['/etc/hostname'])",
    "SELECT 1 ORDER BY file('/etc/hostname')",
    "WITH f AS (SELECT file('/etc/hostname') AS t) SELECT t FROM f",
    "SELECT 1 UNION ALL SELECT length(file('/etc/hostname'))",
    "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    "SELECT dictGet('d', 'a', 1)",
    "SELECT joinGet('j', 'a', 1)",
    "SELECT getSetting('max_threads')",
    "SELECT currentUser()",
    "SELECT hasColumnInTable('system', 'one', 'dummy')",
    "SELECT 1 AS x WHERE x IN (SELECT length(file('/etc/hostname')))",
]

ORDINARY = [
    "SELECT event_type, count() FROM raw_events GROUP BY event_type ORDER BY 2 DESC LIMIT 5",
    "SELECT user_id FROM raw_events WHERE event_type IN ('page_viewed', 'video_played') AND section_id NOT IN (1, 2)",
    "SELECT toDate(timestamp) AS d, uniqExact(user_id) FROM raw_events WHERE timestamp >= now() - INTERVAL 7 DAY "
    "GROUP BY d",
    "WITH t AS (SELECT page_id, count() AS n FROM raw_events GROUP BY page_id) SELECT * FROM t WHERE n > 1",
    "SELECT arrayMap(x -> x * 2, [1, 2, 3]), (1, 'a').1, [1, 2][1], CAST(1 AS String), 1::Float64, "
    "multiIf(1 > 2, 'a', 'b'), map('k', 1)['k']",
    "SELECT page_id, row_number() OVER (PARTITION BY user_id ORDER BY timestamp) FROM raw_events",
    "SELECT c.title, count() FROM raw_events AS e JOIN content_titles AS c ON c.content_id = toString(e.page_id) "
    "GROUP BY c.title",
    "SELECT count() FROM raw_events WHERE user_id IN (SELECT user_id FROM raw_events WHERE score > 0.5)",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_the_engines_parse_refuses_what_reaches_outside(ch_engine, sql):
    with pytest.raises(GuardError) as info:
        check_functions(ch_engine, sql)
    assert "is not allowed" in str(info.value)


def test_the_scope_wall_alone_lets_file_read_the_servers_files(ch_db):
    """Why this wall exists: readonly=1 and the table filters do not stop a scalar function reading a file."""
    client, settings = ch_db
    wall = scope_wall("section", 1, settings.clickhouse_database)
    [(content,)] = run(client, settings, READ_A_FILE, wall=wall).rows
    assert content == open("/etc/hostname").read()


@pytest.mark.parametrize("scope", ["section", "project", "admin"])
def test_guarded_ordinary_queries_pass(ch_db, scope):
    client, settings = ch_db
    for sql in ORDINARY:
        guarded = guard(sql, scope=scope, database=settings.clickhouse_database)
        parameters = guarded.parameters(1 if scope != "admin" else None)
        check_functions(client, guarded.sql, parameters)  # _CAST of the scope parameter and IN are the parser's own
    guarded = guard(ORDINARY[1], scope=scope, database=settings.clickhouse_database)
    names = called_functions(client, guarded.sql, guarded.parameters(1 if scope != "admin" else None))
    assert "in" in names and ("_CAST" in names) == (scope != "admin")


def test_custom_sql_asks_the_engine_before_it_runs(ch_db):
    client, settings = ch_db
    marker = f"function-wall-{os.getpid()}"
    result = run_custom_sql(client, settings, f"SELECT '{marker}' AS m", scope="section", scope_id=1)
    assert result.rows == [(marker,)]
    client.command("SYSTEM FLUSH LOGS")
    kinds = client.query(
        "SELECT query_kind FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE {m:String} "
        "AND query NOT LIKE 'SELECT query_kind%' ORDER BY event_time_microseconds",
        parameters={"m": f"%{marker}%"},
    ).result_rows
    assert [kind for (kind,) in kinds] == ["Explain", "Select"]
