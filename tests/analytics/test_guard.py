"""Guard, without running anything: what it refuses (and says why) and the exact SQL it prints for typical queries."""

from __future__ import annotations

import pytest

from xolap.analytics.function_allowlist import function_allowed
from xolap.analytics.guard import GuardError, guard

DB = "xdb"
SCOPED_EVENTS = '(SELECT * FROM "xdb".raw_events FINAL WHERE section_id = {xolap_scope_id: UInt64})'
PROJECT_EVENTS = '(SELECT * FROM "xdb".raw_events FINAL WHERE project_id = {xolap_scope_id: UInt64})'

# (attack, a fragment the refusal must contain)
REFUSED = [
    # statements other than SELECT
    ("INSERT INTO raw_events SELECT * FROM raw_events", "only SELECT"),
    ("INSERT INTO raw_events (event_hash) VALUES ('x')", "only SELECT"),
    ("DROP TABLE raw_events", "only SELECT"),
    ("DROP TABLE IF EXISTS nothing_here", "only SELECT"),
    ("ALTER TABLE raw_events DELETE WHERE 1", "only SELECT"),
    ("ALTER TABLE raw_events UPDATE score = 1 WHERE 1", "only SELECT"),
    ("TRUNCATE TABLE raw_events", "only SELECT"),
    ("CREATE TABLE stolen AS raw_events", "only SELECT"),
    ("CREATE VIEW v AS SELECT * FROM raw_events", "only SELECT"),
    ("DELETE FROM raw_events WHERE 1", "only SELECT"),
    ("KILL QUERY WHERE 1", "could not be parsed"),
    ("SYSTEM SHUTDOWN", "only SELECT"),
    ("SYSTEM FLUSH LOGS", "only SELECT"),
    ("EXPLAIN SELECT * FROM raw_events", "only SELECT"),
    ("EXPLAIN SYNTAX SELECT 1", "only SELECT"),
    ("SHOW TABLES", "only SELECT"),
    ("SHOW CREATE TABLE raw_events", "only SELECT"),
    ("DESCRIBE TABLE raw_events", "only SELECT"),
    ("SET readonly = 0", "only SELECT"),
    ("USE system", "only SELECT"),
    ("OPTIMIZE TABLE raw_events FINAL", "only SELECT"),
    ("GRANT ALL ON *.* TO default", "only SELECT"),
    ("EXISTS TABLE raw_events", "could not be parsed"),
    ("VALUES (1)", "only SELECT"),
    ("/* harmless */ DROP TABLE raw_events", "only SELECT"),
    # more than one statement
    ("SELECT 1; DROP TABLE raw_events", "exactly one SELECT"),
    ("SELECT 1; SELECT 2", "exactly one SELECT"),
    ("SELECT * FROM raw_events -- c\n; DROP TABLE raw_events", "exactly one SELECT"),
    # output and settings
    ("SELECT * FROM raw_events INTO OUTFILE '/tmp/x.csv'", "could not be parsed"),
    ("SELECT * FROM raw_events LIMIT 10 INTO OUTFILE 'x' FORMAT CSV", "could not be parsed"),
    ("SELECT * FROM raw_events FORMAT CSV", "FORMAT is not allowed"),
    ("SELECT * FROM raw_events FORMAT JSONEachRow", "FORMAT is not allowed"),
    ("SELECT * FROM raw_events SETTINGS max_rows_to_read = 0", "SETTINGS is not allowed"),
    ("SELECT * FROM raw_events SETTINGS readonly = 0", "SETTINGS is not allowed"),
    (
        "SELECT * FROM raw_events FINAL SETTINGS do_not_merge_across_partitions_select_final = 0",
        "SETTINGS is not allowed",
    ),
    (
        "SELECT count() FROM (SELECT * FROM raw_events SETTINGS allow_introspection_functions = 1)",
        "SETTINGS is not allowed",
    ),
    # placeholders
    ("SELECT * FROM raw_events WHERE section_id = {sid:UInt64}", "query parameters"),
    ("SELECT {xolap_scope_id:UInt64}", "query parameters"),
    ("SELECT * FROM raw_events WHERE section_id = {xolap_scope_id:UInt64} OR 1", "query parameters"),
    # system tables, other databases, tables not exposed
    ("SELECT * FROM system.tables", "database-qualified"),
    ("SELECT * FROM system.processes", "database-qualified"),
    ('SELECT * FROM "system"."one"', "database-qualified"),
    ("SELECT * FROM information_schema.tables", "database-qualified"),
    ("SELECT * FROM INFORMATION_SCHEMA.COLUMNS", "database-qualified"),
    ("SELECT * FROM xolap.raw_events", "database-qualified"),
    ("SELECT * FROM `xolap`.`raw_events`", "database-qualified"),
    ("SELECT * FROM default.raw_events", "database-qualified"),
    ("SELECT * FROM cluster.xolap.raw_events", "database-qualified"),
    ("SELECT * FROM `xolap.raw_events`", "not available"),
    ("SELECT * FROM ingest_errors", "not available"),
    ("SELECT * FROM content_titles_mv", "not available"),
    ("SELECT * FROM tables", "not available"),
    ("SELECT * FROM RAW_EVENTS", "case-sensitive"),
    ("SELECT * FROM Raw_Events", "case-sensitive"),
    ("SELECT * FROM raw_events, system.one", "database-qualified"),
    ("SELECT * FROM raw_events UNION ALL SELECT * FROM xolap.raw_events", "database-qualified"),
    ("SELECT (SELECT count() FROM xolap.raw_events) AS n", "database-qualified"),
    ("SELECT * FROM raw_events JOIN xolap.raw_events AS o USING (event_hash)", "database-qualified"),
    ("SELECT * FROM raw_events WHERE section_id IN (SELECT dummy FROM system.one)", "database-qualified"),
    ("WITH x AS (SELECT * FROM system.one) SELECT * FROM x", "database-qualified"),
    ("WITH (SELECT count() FROM system.tables) AS x SELECT x", "database-qualified"),
    ("SELECT * FROM (SELECT 1) AS s WHERE 1 IN (SELECT 1 FROM system.one)", "database-qualified"),
    ("SELECT xolap.raw_events.user_id FROM raw_events", "too many parts"),
    # table functions
    ("SELECT * FROM numbers(10)", "table function numbers()"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table function file()"),
    ("SELECT * FROM url('http://127.0.0.1/', CSV)", "table function url()"),
    ("SELECT * FROM s3('http://127.0.0.1/b/k', 'CSV')", "table function s3()"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "table function remote()"),
    ("SELECT * FROM cluster('default', system.one)", "table function cluster()"),
    ("SELECT * FROM merge('xolap', '.*')", "table function merge()"),
    ("SELECT * FROM view(SELECT * FROM raw_events)", "table function view()"),
    ("SELECT * FROM executable('ls', 'TSV', 'x String')", "table function executable()"),
    ("SELECT * FROM input('x String')", "table function input()"),
    ("SELECT * FROM generateRandom('a UInt8')", "table function generateRandom()"),
    ("SELECT * FROM dictionary('d')", "not supported"),
    ("SELECT * FROM icebergS3('http://127.0.0.1/x')", "table function icebergS3()"),
    ("SELECT * FROM raw_events JOIN numbers(3) AS n ON 1 = 1", "table function numbers()"),
    (
        "SELECT user_id FROM raw_events WHERE user_id IN (SELECT user_id FROM remote('127.0.0.1', xolap.raw_events))",
        "remote",
    ),
    # functions that reach outside
    ("SELECT dictGet('d', 'a', toUInt64(1))", "dictGet()"),
    ("SELECT dictGetOrDefault('d', 'a', 1, 'x')", "dictGetOrDefault()"),
    ("SELECT DICTGET('d', 'a', 1)", "DICTGET()"),
    ("SELECT dictHas('d', 1)", "dictHas()"),
    ("SELECT joinGet('j', 'v', 1)", "joinGet()"),
    ("SELECT getSetting('max_threads')", "getSetting()"),
    ("SELECT getServerSetting('max_threads')", "getServerSetting()"),
    ("SELECT getMacro('shard')", "getMacro()"),
    ("SELECT file('/etc/passwd')", "file()"),
    ("SELECT `file`('/etc/passwd')", "file()"),
    ("SELECT currentUser()", "currentUser()"),
    ("SELECT CURRENT_USER", "not allowed"),
    ("SELECT user()", "user()"),
    ("SELECT currentDatabase()", "currentDatabase()"),
    ("SELECT database()", "could not be parsed"),
    ("SELECT DATABASE ()", "could not be parsed"),
    ("SELECT currentSchemas(true)", "currentSchemas()"),
    ("SELECT hostName()", "hostName()"),
    ("SELECT initialQueryID()", "initialQueryID()"),
    ("SELECT sleep(3)", "sleep()"),
    ("SELECT sleepEachRow(1) FROM raw_events", "sleepEachRow()"),
    ("SELECT hasColumnInTable('system', 'users', 'name')", "hasColumnInTable()"),
    ("SELECT __getScalar('x')", "__getScalar()"),
    ("SELECT logTrace('x')", "logTrace()"),
    ("SELECT addressToSymbol(1)", "addressToSymbol()"),
    ("SELECT arrayMap(x -> dictGet('d', 'a', x), [1])", "dictGet()"),
    ("SELECT count() FROM raw_events WHERE globalIn(1, system.one)", "not allowed"),
    # IN <table name>
    ("SELECT 1 FROM raw_events WHERE 0 IN system.one", "IN system.one"),
    ("SELECT 1 FROM raw_events WHERE user_id IN (raw_events)", "IN raw_events"),
    ("SELECT 1 FROM raw_events WHERE (user_id) IN other_table", "IN other_table"),
    ("SELECT 1 FROM raw_events WHERE user_id GLOBAL IN system.users", "IN system.users"),
    ("SELECT 1 FROM raw_events WHERE user_id NOT IN ingest_errors", "IN ingest_errors"),
    ("SELECT 1 FROM raw_events WHERE 1 IN ((system.one))", "IN system.one"),
    ("SELECT 1 FROM raw_events WHERE user_id IN (((raw_events)))", "IN raw_events"),
    (
        "SELECT (project_id, kind, content_id, title, updated_at) IN ((content_titles)) FROM raw_events",
        "IN content_titles",
    ),
    ("SELECT 1 FROM raw_events WHERE 1 GLOBAL NOT IN ((`ingest_errors`))", "IN"),
    ("SELECT inIgnoreSet(1, system.one)", "inIgnoreSet()"),
    # odd table forms
    ("SELECT * FROM raw_events AS e(a, b)", "column lists"),
    ("SELECT * FROM raw_events SAMPLE 0.5", "SAMPLE"),
    ("", "empty"),
    ("   ", "empty"),
    ("SELECT * FROM raw_events WITH TOTALS", "could not be parsed"),
    (
        "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
        "table t is not available",
    ),
    ("SELECT " + "(" * 500 + "1" + ")" * 500, "nested too deeply"),
]


@pytest.mark.parametrize(("sql", "reason"), REFUSED, ids=[f"refuse{i:03d}" for i in range(len(REFUSED))])
@pytest.mark.parametrize("scope", ["section", "project"])
def test_refused(sql, reason, scope):
    with pytest.raises(GuardError) as info:
        guard(sql, scope=scope, database=DB)
    assert reason.lower() in str(info.value).lower()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM system.one",
        "SELECT * FROM numbers(3)",
        "SELECT dictGet('d', 'a', 1)",
        "SELECT * FROM raw_events INTO OUTFILE 'x'",
        "SELECT * FROM raw_events SETTINGS readonly = 0",
        "DROP TABLE raw_events",
        "SELECT * FROM content_titles_mv",
    ],
)
def test_admin_is_still_refused_outside_things(sql):
    with pytest.raises(GuardError):
        guard(sql, scope="admin", database=DB)


def test_attack_count_is_substantial():
    assert len(REFUSED) >= 60


def test_or_cannot_widen_the_scope_printed():
    guarded = guard("SELECT count() FROM raw_events WHERE section_id = 2 OR 1 = 1", scope="section", database=DB)
    assert guarded.sql == f'SELECT count() FROM {SCOPED_EVENTS} AS "raw_events" WHERE section_id = 2 OR 1 = 1'
    assert guarded.parameters_required == ("xolap_scope_id",)
    assert guarded.parameters(7) == {"xolap_scope_id": 7}
    assert guarded.tables == ("raw_events",)


def test_project_scope_printed():
    guarded = guard(
        "SELECT event_type, count() AS n FROM raw_events AS e GROUP BY event_type", scope="project", database=DB
    )
    assert guarded.sql == f'SELECT event_type, count() AS n FROM {PROJECT_EVENTS} AS "e" GROUP BY event_type'


def test_union_members_each_scoped_printed():
    guarded = guard(
        "SELECT user_id FROM raw_events UNION ALL SELECT user_id FROM `raw_events` WHERE section_id = 3",
        scope="section",
        database=DB,
    )
    assert guarded.sql == (
        f'SELECT user_id FROM {SCOPED_EVENTS} AS "raw_events" UNION ALL SELECT user_id FROM {SCOPED_EVENTS} AS "raw_events" WHERE section_id = 3'
    )


def test_final_and_prewhere_printed():
    guarded = guard(
        "SELECT count() FROM raw_events AS e FINAL PREWHERE e.event_type = 'video' WHERE e.score > 0 OR 1",
        scope="section",
        database=DB,
    )
    assert (
        guarded.sql
        == f"SELECT count() FROM {SCOPED_EVENTS} AS \"e\" WHERE (e.event_type = 'video') AND (e.score > 0 OR 1)"
    )


def test_cte_renamed_and_shadowing_printed():
    guarded = guard(
        "WITH raw_events AS (SELECT * FROM raw_events WHERE section_id = 3) SELECT count() FROM raw_events",
        scope="section",
        database=DB,
    )
    assert guarded.sql == (
        f'WITH xolap_cte_1 AS (SELECT * FROM {SCOPED_EVENTS} AS "raw_events" WHERE section_id = 3) '
        'SELECT count() FROM xolap_cte_1 AS "raw_events"'
    )


def test_in_subquery_and_scalar_subquery_printed():
    guarded = guard(
        "SELECT (SELECT count() FROM raw_events) AS total FROM raw_events WHERE user_id GLOBAL IN (SELECT user_id FROM raw_events WHERE section_id = 3) LIMIT 1",
        scope="section",
        database=DB,
    )
    assert guarded.sql == (
        f'SELECT (SELECT count() FROM {SCOPED_EVENTS} AS "raw_events") AS total FROM {SCOPED_EVENTS} AS "raw_events" '
        f'WHERE user_id GLOBAL IN (SELECT user_id FROM {SCOPED_EVENTS} AS "raw_events" WHERE section_id = 3) LIMIT 1'
    )


def test_content_titles_scoped_by_project_printed():
    project = guard("SELECT title FROM content_titles", scope="project", database=DB)
    assert (
        project.sql
        == 'SELECT title FROM (SELECT * FROM "xdb".content_titles FINAL WHERE project_id = {xolap_scope_id: UInt64}) AS "content_titles"'
    )
    section = guard("SELECT title FROM content_titles AS t", scope="section", database=DB)
    assert section.sql == (
        'SELECT title FROM (SELECT * FROM "xdb".content_titles FINAL WHERE project_id IN '
        '(SELECT project_id FROM "xdb".raw_events WHERE section_id = {xolap_scope_id: UInt64})) AS "t"'
    )


def test_admin_reads_unscoped_but_deduplicated():
    guarded = guard("SELECT count() FROM raw_events JOIN ingest_errors AS i ON 1 = 1", scope="admin", database=DB)
    assert (
        guarded.sql
        == 'SELECT count() FROM (SELECT * FROM "xdb".raw_events FINAL) AS "raw_events" JOIN "xdb".ingest_errors AS "i" ON 1 = 1'
    )
    assert guarded.parameters_required == ()
    assert guarded.parameters(None) == {}


def test_comments_never_reach_the_output():
    guarded = guard(
        "SELECT 1 /* ; DROP TABLE t; -- */ AS x FROM raw_events -- tail */ ; DROP TABLE t", scope="section", database=DB
    )
    assert "/*" not in guarded.sql and "--" not in guarded.sql and "DROP" not in guarded.sql


def test_queries_without_tables_need_no_parameter():
    guarded = guard("SELECT 1 + 1 AS two", scope="section", database=DB)
    assert guarded.sql == "SELECT 1 + 1 AS two"
    assert guarded.parameters_required == ()
    assert guarded.parameters(5) == {}


def test_parameters_require_an_id():
    guarded = guard("SELECT count() FROM raw_events", scope="section", database=DB)
    for bad in (None, -1, "7", True, 1.5):
        with pytest.raises(ValueError):
            guarded.parameters(bad)


def test_unknown_scope_is_a_programming_error():
    with pytest.raises(ValueError):
        guard("SELECT 1", scope="course", database=DB)  # type: ignore[arg-type]


def test_too_long_query_refused():
    with pytest.raises(GuardError, match="limit"):
        guard("SELECT " + " + ".join(["1"] * 60_000), scope="section", database=DB)


@pytest.mark.parametrize(
    ("name", "denied"),
    [
        ("dictGet", True),
        ("DICTGETSTRING", True),
        ("joinGetOrNull", True),
        ("getSettingOrDefault", True),
        ("s3Cluster", True),
        ("currentProfiles", True),
        ("current_date", False),
        ("count", False),
        ("formatDateTime", False),
        ("arrayJoin", False),
        ("toStartOfWeek", False),
        ("URLHierarchy", False),
        ("domain", False),
        ("initializeAggregation", False),
        ("uniqExact", False),
        ("in", True),
        ("globalNotIn", True),
        ("filesystemAvailable", True),
    ],
)
def test_function_families(name, denied):
    assert function_allowed(name) is not denied
