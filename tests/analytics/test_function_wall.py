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


WRITE_A_FILE = [
    "SELECT 1 INTO OUTFILE '{path}'",
    "SELECT 1 INTO OUTFILE '{path}' APPEND",
    "SELECT 1 INTO OUTFILE '{path}' TRUNCATE",
    "SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{path}' AND STDOUT COMPRESSION 'gzip' LEVEL 3",
    "SELECT 1 INTERSECT SELECT 1 INTO OUTFILE '{path}'",
    "(SELECT 1) INTO OUTFILE '{path}'",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x INTO /* c */ OUTFILE '{path}'",
    "select 1 into outfile '{path}'",
]


def test_readonly_and_the_scope_wall_alone_let_into_outfile_write_a_file(ch_db, tmp_path):
    """Why the engine's parse is asked where the output goes: on chDB INTO OUTFILE is written by the engine's own
    client side, past readonly=1 and the table filters, into any file the server process may write (APPEND too)."""
    client, settings = ch_db
    target = tmp_path / "written.out"
    run(
        client,
        settings,
        f"SELECT 1 INTO OUTFILE '{target}'",
        wall=scope_wall("section", 1, settings.clickhouse_database),
    )
    assert target.exists()


@pytest.mark.parametrize("sql", WRITE_A_FILE)
def test_the_engines_parse_refuses_a_query_that_writes_a_file(ch_engine, tmp_path, sql):
    target = tmp_path / "written.out"
    with pytest.raises(GuardError) as info:
        check_functions(ch_engine, sql.format(path=target))
    assert "INTO OUTFILE is not allowed" in str(info.value)
    assert not target.exists()


def test_the_engine_is_asked_about_one_statement_only(ch_engine):
    """chDB runs `a; b; c` as three statements and applies the query's settings (readonly=1) to the last only: the
    EXPLAIN of such a text would run the statements between without readonly (measured: a CREATE TABLE ran)."""
    from xolap.analytics.executor import QueryError

    table = f"fw_created_{os.getpid()}"
    for sql in (
        f"SELECT 1; CREATE TABLE default.{table} (x Int8) ENGINE = Memory; SELECT 1",
        f"SELECT 1;\nCREATE TABLE default.{table} (x Int8) ENGINE = Memory;SELECT 2;",
    ):
        try:
            with pytest.raises(QueryError) as info:
                check_functions(ch_engine, sql)
            assert info.value.kind == "multiple_statements"
            listed = ch_engine.query(
                "SELECT count() FROM system.tables WHERE database = 'default' AND name = {t:String}",
                parameters={"t": table},
            ).result_rows
            assert listed == [(0,)]
        finally:
            ch_engine.command(f"DROP TABLE IF EXISTS default.{table}")
    with pytest.raises(QueryError):
        check_functions(ch_engine, "INSERT INTO default.x VALUES (1)")


def _explains_sent(client, marker: str) -> int:
    client.command("SYSTEM FLUSH LOGS")
    [(count,)] = client.query(
        "SELECT count() FROM system.query_log WHERE type != 'QueryStart' AND query LIKE {m:String} "
        "AND query NOT LIKE '%system.query_log%'",
        parameters={"m": f"EXPLAIN AST %{marker}%"},
    ).result_rows
    return count


def test_the_engines_parse_of_one_text_is_asked_once_and_a_failed_parse_again(ch_engine):
    """The verdict depends only on the text sent and the engine: a dashboard's repeated custom query costs one EXPLAIN,
    a refusal is drawn again from the kept parse, another parameter value is another text; a parse that failed (here a
    parameter not sent) is asked again, never kept."""
    marker = f"kept-parse-{os.getpid()}-{id(object())}"
    refused, ordinary = f"SELECT '{marker}-a', file('/etc/hostname')", f"SELECT '{marker}-b' WHERE 1 = {{p:UInt8}}"
    for _ in range(3):
        with pytest.raises(GuardError):
            check_functions(ch_engine, refused)
        check_functions(ch_engine, ordinary, {"p": 1})
    check_functions(ch_engine, ordinary, {"p": 2})
    failing = f"SELECT '{marker}-c' WHERE 1 = {{missing:UInt8}}"
    for _ in range(2):
        with pytest.raises(Exception, match="missing"):
            check_functions(ch_engine, failing)
    assert _explains_sent(ch_engine, f"{marker}-a") == 1
    assert _explains_sent(ch_engine, f"{marker}-b") == 2
    assert _explains_sent(ch_engine, f"{marker}-c") == 2


def test_a_text_too_long_to_check_is_refused_before_anything_is_parsed(ch_engine):
    """The check bounds its own cost: 800,000 characters cost ~8 s of CPU to tokenize and parse; past the bound the
    answer is a refusal naming it, and no EXPLAIN is sent."""
    from xolap.analytics.function_wall import MAX_CHECKED_CHARS

    marker = f"too-long-{os.getpid()}-{id(object())}"
    sql = f"SELECT '{marker}' + " + " + ".join(["1"] * (MAX_CHECKED_CHARS // 4))
    with pytest.raises(GuardError) as info:
        check_functions(ch_engine, sql)
    assert f"{len(sql)} characters" in str(info.value)
    assert _explains_sent(ch_engine, marker) == 0
    check_functions(ch_engine, f"SELECT '{marker}-ok' + " + " + ".join(["1"] * 50))
    assert _explains_sent(ch_engine, f"{marker}-ok") == 1
