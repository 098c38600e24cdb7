"""Guard, without running anything: the attack classes of issue 9 (tables read through IN, function aliases and
relatives, bare names ClickHouse calls as functions, oversized queries), the verify step on its own, and a fuzz of
random token soups that must end in a result or a GuardError, quickly."""

from __future__ import annotations

import logging
import random
import time

import pytest

from timing import collector_on_new_objects_only
from xolap.analytics.guard import (
    _DIALECT,
    MAX_NODES,
    MAX_PAREN_DEPTH,
    MAX_SQL_CHARS,
    MAX_TABLE_REFERENCES,
    MAX_TOKENS,
    GuardError,
    _verify,
    guard,
)

DB = "xdb"
SCOPES = ["section", "project"]

# Tables named on the right of IN, however wrapped: ClickHouse reads them whole, unscoped.
TABLE_NAMES = [
    "system.one",
    "xolap.content_titles",
    "xolap.raw_events",
    "raw_events",
    "content_titles",
    "ingest_errors",
    "`system`.`one`",
    '"xolap"."raw_events"',
]
IN_FORMS = [
    "0 IN (({t} AS y))",
    "1 IN (({t} AS y))",
    "1 GLOBAL IN (({t} AS y))",
    "1 NOT IN (({t} AS y))",
    "1 GLOBAL NOT IN (({t} AS y))",
    "1 IN ((((({t} AS y)))))",
    "1 IN ({t} AS y, 2)",
    "1 IN (1, ({t} AS y))",
    "1 IN (({t}))",
    "1 IN {t}",
    "(1, 2) IN ((1, {t}))",
    "1 IN tuple({t})",
    "1 IN [{t}]",
    "1 IN (identity({t}))",
    "1 IN (({t}) AS y)",
]
IN_PLACES = [
    "SELECT {e}",
    "SELECT {e} AS leak FROM raw_events",
    "SELECT count() FROM raw_events WHERE {e}",
    "SELECT count() FROM raw_events WHERE user_id IN (SELECT user_id FROM raw_events) OR {e}",
    "SELECT arrayMap(x -> {e}, [1])",
    "SELECT arrayFilter(x -> x = 1 AND {e}, [1])",
    "SELECT if({e}, 1, 0) FROM raw_events",
    "SELECT count() FROM raw_events GROUP BY user_id HAVING {e}",
    "SELECT user_id FROM raw_events ORDER BY {e}",
    "SELECT a.user_id FROM raw_events AS a JOIN raw_events AS b ON a.user_id = b.user_id AND {e}",
    "WITH ({e}) AS leak SELECT leak",
    "SELECT (SELECT {e}) AS leak",
    "SELECT * FROM (SELECT {e} AS leak) AS s",
]
IN_OTHER = [
    "WITH t AS (SELECT 1 AS x) SELECT 1 IN t",
    "WITH t AS (SELECT 1 AS x) SELECT 1 IN (t)",
    "SELECT 1 IN (x) FROM raw_events",
    "SELECT 1 IN (system.one.dummy)",
    "SELECT 1 IN (toUInt8(1))",
    "SELECT 1 IN (1 + 0)",
    "SELECT 1 IN ((1, 2), user_id) FROM raw_events",
]


def _in_attacks() -> list[str]:
    attacks = [
        place.format(e=form.format(t=table))
        for form in IN_FORMS
        for table in TABLE_NAMES[:3]
        for place in IN_PLACES[:3]
    ]
    attacks += [
        place.format(e=form.format(t=table)) for form in IN_FORMS[:6] for table in TABLE_NAMES for place in IN_PLACES
    ]
    return attacks + IN_OTHER


IN_ATTACKS = _in_attacks()


@pytest.mark.parametrize("scope", SCOPES)
def test_in_never_reads_a_table_or_expression(scope):
    accepted = []
    for sql in IN_ATTACKS:
        try:
            guard(sql, scope=scope, database=DB)
        except GuardError as exc:
            message = str(exc)
            assert "IN" in message or "could not be parsed" in message, (sql, message)
        else:
            accepted.append(sql)
    assert not accepted, accepted
    assert len(IN_ATTACKS) > 300


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM raw_events WHERE event_type IN ('video', 'page_viewed')",
        "SELECT count() FROM raw_events WHERE event_type NOT IN ('video')",
        "SELECT count() FROM raw_events WHERE (section_id, project_id) IN ((3, 20), (2, 10))",
        "SELECT count() FROM raw_events WHERE section_id IN (-1, 2, NULL)",
        "SELECT count() FROM raw_events WHERE section_id GLOBAL IN (SELECT section_id FROM raw_events)",
        "SELECT count() FROM raw_events WHERE section_id IN ((SELECT section_id FROM raw_events))",
        "SELECT count() FROM raw_events WHERE section_id IN (SELECT 1 UNION ALL SELECT 2)",
        "SELECT count() FROM raw_events WHERE section_id IN [1, 2]",
        "SELECT count() FROM raw_events WHERE section_id IN tuple(1, 2)",
        "SELECT count() FROM raw_events WHERE toDate(timestamp) IN ('2026-01-01'::Date, CAST('2026-01-02' AS Date))",
        "SELECT arrayFilter(x -> x IN (1, 2), [1, 2, 3])",
    ],
)
def test_in_with_subqueries_or_constants_is_allowed(sql):
    guard(sql, scope="section", database=DB)


# Aliases and relatives of refused functions (the issue's list first), each refused by the name as written.
REFUSED_CALLS = [
    "session_user()",
    "fullHostName()",
    "authUser()",
    "authenticatedUser()",
    "pgGetUserById(1)",
    "defaultProfiles()",
    "serverTimezone()",
    "tid()",
    "generateSerialID('x')",
    "aiGenerate('x')",
    "serverTimeZone()",
    "timezone()",
    "timeZone()",
    "version()",
    "uptime()",
    "revision()",
    "FQDN()",
    "hostname()",
    "hostName()",
    "user()",
    "currentUser()",
    "current_user()",
    "pg_get_userbyid(1)",
    "connection_id()",
    "connectionId()",
    "queryID()",
    "query_id()",
    "currentQueryID()",
    "current_query_id()",
    "initial_query_id()",
    "initialQueryStartTime()",
    "getClientHTTPHeader('x')",
    "globalVariable('x')",
    "serverUUID()",
    "buildId()",
    "displayName()",
    "currentRoles()",
    "enabledRoles()",
    "enabledProfiles()",
    "currentProfiles()",
    "defaultRoles()",
    "shardNum()",
    "shardCount()",
    "getOSKernelVersion()",
    "getServerPort('tcp_port')",
    "getSettingOrDefault('x', 1)",
    "getMergeTreeSetting('x')",
    "zookeeperSessionUptime()",
    "transactionID()",
    "currentSchemas(true)",
    "current_database()",
    "currentDatabase()",
    "getMaxTableNameLengthForDatabase('x')",
    "chdb('SELECT 1')",
    "formatQuery('SELECT 1')",
    "aiClassify('x', ['a'])",
    "AIGenerate('x')",
    "evalMLMethod(1)",
    "encrypt('aes-128-ecb', 'x', 'k')",
    "generateSnowflakeID()",
    "randomString(10)",
    "arrayFold((acc, x) -> acc + x, [1], 0)",
    "editDistance('a', 'b')",
    "levenshteinDistance('a', 'b')",
    "multiMatchAny('a', ['a'])",
    "mapPopulateSeries([1], [1])",
    "regionToName(1)",
    "dictGetString('d', 'a', 1)",
    "joinGetOrNull('j', 'v', 1)",
    "hasColumnInTable('system', 'one', 'dummy')",
    "filesystemCapacity()",
    "addressToLine(1)",
    "demangle('x')",
    "isMergeTreePartCoveredBy('a', 'b')",
    "_CAST(1, 'UInt8')",
    "__getScalar('x')",
    "nested(['a'], [1])",
    "flameGraph([1])",
    "aggThrow(1)",
    "groupFormat('CSV')(1)",
    "formatRow('CSV', 1)",
    "kqlBin(1, 2)",
    "h3ToString(1)",
    "timeSeriesTagsToMap(1)",
    "notAFunctionAtAll(1)",
    "SeSsIoN_uSeR()",
    "`session_user`()",
    '"authUser"()',
    "flameGraphIf(1, 1)",
    "aggThrowState(1)",
    "tidOrNull()",
    "globalNotNullIn(1, 2)",
    "notIn(1, 2)",
    "nullInIgnoreSet(1, 2)",
    "in(1, 2)",
]


@pytest.mark.parametrize("call", REFUSED_CALLS)
@pytest.mark.parametrize("scope", SCOPES)
def test_refused_functions_name_the_function(call, scope):
    name = call.split("(", 1)[0].strip('`"')
    for sql in (
        f"SELECT {call}",
        f"SELECT count() FROM raw_events WHERE length(toString({call})) > 0",
        f"SELECT arrayMap(x -> {call}, [1])",
    ):
        with pytest.raises(GuardError) as info:
            guard(sql, scope=scope, database=DB)
        message = str(info.value)
        assert f"{name.lower()}()" in message.lower() or "could not be parsed" in message, (sql, message)


# ClickHouse calls these when written as bare names (`SELECT user` = currentUser()), quoted or not.
BARE_NAMES = [
    "user",
    "USER",
    "current_user",
    "CURRENT_USER",
    "session_user",
    "SESSION_USER",
    "`user`",
    '"CURRENT_USER"',
    "database",
    "DATABASE",
    "schema",
    "SCHEMA",
    "current_database",
    "currentUser",
    "hostname",
    "version",
]


@pytest.mark.parametrize("name", BARE_NAMES)
@pytest.mark.parametrize("scope", SCOPES)
def test_bare_names_that_call_refused_functions(name, scope):
    for sql in (
        f"SELECT {name}",
        f"SELECT {name} FROM raw_events",
        f"SELECT count() FROM raw_events WHERE {name} != ''",
        f"SELECT arrayMap(x -> {name}, [1])",
        f"SELECT dateDiff({name}, timestamp, timestamp) FROM raw_events",
    ):
        with pytest.raises(GuardError):
            guard(sql, scope=scope, database=DB)


def test_qualified_columns_and_clock_names_are_fine():
    guard(
        "SELECT e.user_id, now(), today(), CURRENT_DATE, now, today FROM raw_events AS e", scope="section", database=DB
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT sumIf(score, success), countIf(success), uniqExactIf(user_id, success), avgOrNull(score) FROM raw_events",
        "SELECT quantilesIf(0.5, 0.9)(score, success), argMaxIf(user_id, timestamp, success), sumArray([1, 2]) FROM raw_events",
        "SELECT uniqMerge(s) FROM (SELECT uniqState(user_id) AS s FROM raw_events)",
        "SELECT groupArrayDistinct(user_id), maxOrDefault(score), sumForEach([1, 2]) FROM raw_events",
        "SELECT toStartOfDay(timestamp), dateDiff('second', min(timestamp), max(timestamp)), lpad('a', 3, '0') FROM raw_events GROUP BY 1",
        "SELECT JSONExtractString('{}', 'a'), cityHash64(user_id), round(avg(score), 2), domain(video_url) FROM raw_events GROUP BY 1, 2, 4",
        "SELECT arrayJoin(range(3)) AS k, arrayMap(x -> x * 2, [k]), multiIf(k = 1, 'a', 'b'), tupleElement((1, 2), 1)",
        "SELECT CAST(score AS Decimal(10, 2)), toDateTime64(timestamp, 3), score::Nullable(Float64), COLUMNS('^video_') FROM raw_events",
    ],
)
def test_ordinary_functions_are_allowed(sql):
    guard(sql, scope="project", database=DB)


def _elapsed_ms(sql: str) -> float:
    """CPU milliseconds of this thread for one refused guard() call (wall time, or the process CPU that chDB's own threads add to, would measure the machine)."""
    with collector_on_new_objects_only():  # not a full collection of the objects earlier tests left
        start = time.thread_time()
        with pytest.raises(GuardError):
            guard(sql, scope="section", database=DB)
        return (time.thread_time() - start) * 1000


def test_the_issue_long_query_is_refused_fast():
    sql = "SELECT 1 FROM raw_events" + ",raw_events" * 8000
    assert len(sql) > 80_000
    assert _elapsed_ms(sql) < 100  # it cost 8 s before; a catastrophe bound, speed lives in bench/guard.py


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT 1 FROM raw_events" + ",raw_events" * ((MAX_SQL_CHARS - 40) // 11), "tokens"),
        ("SELECT " + ",".join(["1"] * ((MAX_SQL_CHARS - 20) // 2)), "tokens"),
        ("SELECT " + ",".join(["user_id"] * (MAX_TOKENS // 2 + 10)) + " FROM raw_events", "tokens"),
        ("SELECT 1 FROM raw_events" + ",raw_events" * MAX_TABLE_REFERENCES, "tables"),
        (
            "SELECT 1 FROM raw_events AS a"
            + "".join(f" JOIN raw_events AS a{i} ON 1 = 1" for i in range(MAX_TABLE_REFERENCES)),
            "tables",
        ),
        ("SELECT " + "(" * (MAX_PAREN_DEPTH + 1) + "1" + ")" * (MAX_PAREN_DEPTH + 1), "nested too deeply"),
        ("SELECT " + "[" * (MAX_PAREN_DEPTH + 1) + "1" + "]" * (MAX_PAREN_DEPTH + 1), "nested too deeply"),
        ("SELECT " + "arrayMap(x -> " * 40 + "x" + ", [1])" * 40, "nested too deeply"),
        ("SELECT 1 FROM raw_events WHERE " + " OR ".join(["user_id = 'x'"] * (MAX_TOKENS // 4 + 10)), "tokens"),
        ("SELECT 1 FROM raw_events WHERE " + " AND ".join(["x != x"] * (MAX_NODES // 6 + 10)), "too large to check"),
    ],
    ids=[
        "chars-near-limit",
        "many-numbers",
        "many-columns",
        "many-tables",
        "many-joins",
        "deep-parens",
        "deep-brackets",
        "deep-lambdas",
        "long-where",
        "many-nodes",
    ],
)
def test_oversized_queries_are_refused_fast(sql, reason):
    assert len(sql) <= MAX_SQL_CHARS
    elapsed = _elapsed_ms(sql)
    with pytest.raises(GuardError, match=reason):
        guard(sql, scope="section", database=DB)
    assert elapsed < 100, f"{elapsed:.1f} ms"


def test_node_limit_is_below_what_the_token_limit_allows():
    sql = "SELECT 1 FROM raw_events WHERE " + " AND ".join(["x != x"] * (MAX_NODES // 6 + 10))
    assert len(_DIALECT.tokenize(sql)) < MAX_TOKENS


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 FROM raw_events" + ",raw_events" * (MAX_TABLE_REFERENCES - 1),
        "SELECT 1 FROM raw_events WHERE " + " OR ".join(["user_id = 'x'"] * (MAX_TOKENS // 4 - 10)),
        "SELECT " + ",".join(["user_id"] * (MAX_TOKENS // 2 - 10)) + " FROM raw_events",
        "SELECT " + ",".join(["(SELECT count() FROM raw_events)"] * (MAX_TABLE_REFERENCES - 1)),
    ],
    ids=["tables", "or-chain", "columns", "subqueries"],
)
def test_largest_accepted_shapes_stay_cheap(sql):
    """Just under the limits, the whole guard (rewrite and verify included) stays far from the seconds an unbounded
    query cost (8 s for the issue's 88 KB query). A generous CPU bound: a catastrophe guard, not a speed goal
    (speed is measured in bench/guard.py)."""
    start = time.thread_time()
    guard(sql, scope="section", database=DB)
    assert time.thread_time() - start < 3.0


# The verify step holds on its own: given printed SQL that escaped the earlier steps, it refuses.
@pytest.mark.parametrize(
    "printed",
    [
        "SELECT 0 IN ((system.one AS y))",
        "SELECT 1 GLOBAL NOT IN ((xolap.raw_events AS y))",
        "SELECT arrayMap(x -> x IN (t), [1])",
        "SELECT 1 IN (identity(1))",
        "SELECT session_user()",
        "SELECT authUser()",
        "SELECT `fullHostName`()",
        "SELECT CURRENT_USER()",
        "SELECT user",
        "SELECT serverTimezone()",
        "SELECT arrayFold((acc, x) -> acc, [1], 0)",
        "SELECT notAFunctionAtAll(1)",
    ],
)
@pytest.mark.parametrize("scope", SCOPES)
def test_verify_refuses_on_its_own(printed, scope):
    with pytest.raises(GuardError, match="after rewriting"):
        _verify(printed, scope, DB, set())


_SOUP = (
    "SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT UNION ALL WITH AS JOIN ON USING ARRAY IN GLOBAL NOT AND OR IS NULL "
    "FINAL PREWHERE SETTINGS FORMAT INTO OUTFILE DISTINCT CASE WHEN THEN ELSE END OVER PARTITION EXISTS INTERVAL DAY "
    "raw_events content_titles ingest_errors system.one xolap.raw_events user_id section_id x y t "
    "count sum if arrayMap dictGet session_user user currentUser file numbers range toString now map tuple array "
    "quantiles(0.5) countIf JSONExtract CAST AS Date :: -> x ? : "
    "( ( ( ) ) ) [ ] , , . ; -> :: * + - = != < > 1 0 3.5 'a' '' 'x;y' {p:UInt64} `q` \"r\" -- /* */ #"
).split()


def test_token_soup_fuzz_only_ever_raises_guard_error_quickly():
    rng = random.Random(90210)
    start = time.thread_time()
    accepted = slowest = 0.0
    for index in range(3000):
        words = [rng.choice(_SOUP) for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.5:
            words.insert(0, "SELECT")
        sql = " ".join(words)
        one = time.thread_time()
        try:
            guard(sql, scope=SCOPES[index % 2], database=DB)
            accepted += 1
        except GuardError:
            pass
        slowest = max(slowest, time.thread_time() - one)
    total = time.thread_time() - start
    print(f"3000 soups in {total:.2f} s CPU, slowest {slowest * 1000:.1f} ms, {accepted:.0f} accepted")
    assert slowest < 1.0
    assert total < 30


@pytest.mark.parametrize(
    "sql", ["SELECT map(1)", "SELECT map(1, 2, 3)", "SELECT count() FROM raw_events WHERE has(mapKeys(map('a')), 'a')"]
)
def test_parser_crashes_become_guard_errors(sql):
    """sqlglot raises IndexError on an odd-length map(...): the guard refuses instead of crashing the request."""
    with pytest.raises(GuardError, match="could not be parsed"):
        guard(sql, scope="section", database=DB)


@pytest.mark.parametrize(
    "sql", ["SELECT " + "a" * 5000 + "(1)", "SELECT `" + "x" * 5000 + "`(1)", "SELECT 1 IN (" + "t" * 5000 + ")"]
)
def test_refusals_stay_short(sql):
    with pytest.raises(GuardError) as info:
        guard(sql, scope="section", database=DB)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    "sql",
    [
        "SHOW TABLES LIKE 'jane.doe@example.org'",
        "SYSTEM FLUSH LOGS 'jane.doe@example.org'",
        "SELECT JSONExtract(x, '$[jane.doe@example.org') FROM raw_events",
        "EXPLAIN SELECT 'jane.doe@example.org'",
    ],
)
def test_the_query_text_never_reaches_the_logs(sql, caplog):
    """sqlglot warns with the text it cannot parse; user SQL may hold a learner's email, so nothing of it is logged."""
    caplog.set_level(logging.DEBUG)
    try:
        guard(sql, scope="section", database=DB)
    except GuardError:
        pass
    assert not [record for record in caplog.records if "jane.doe" in record.getMessage()]
