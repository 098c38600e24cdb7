"""Which custom queries' answers may be kept: repeatable_sql names every clock, random and block-layout function the
guard allows (checked against ClickHouse's own system.functions.deterministic), however it is spelled or printed."""

from __future__ import annotations

import pytest

from xolap.analytics import custom_sql, executor
from xolap.analytics.function_allowlist import function_allowed
from xolap.analytics.guard import guard
from xolap.analytics.repeatable_sql import NON_REPEATABLE_FUNCTIONS, is_repeatable


def test_every_allowed_non_deterministic_function_is_named(ch_engine):
    rows = ch_engine.query("SELECT name, alias_to, deterministic FROM system.functions").result_rows
    changing = {name for name, _, deterministic in rows if deterministic == 0}
    changing |= {name for name, alias_to, _ in rows if alias_to in changing}  # aliases ClickHouse leaves unmarked
    missing = sorted(
        name for name in changing if function_allowed(name) and name.lower() not in NON_REPEATABLE_FUNCTIONS
    )
    assert missing == [], "allowed functions ClickHouse calls non-deterministic must make a query unrepeatable"
    assert {"now", "today", "rand", "generateuuidv4"} <= NON_REPEATABLE_FUNCTIONS


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT now()",
        "SELECT NOW() AS t",
        "SELECT count() FROM raw_events WHERE timestamp > today() - 7",
        "SELECT CURRENT_DATE",
        "SELECT current_timestamp()",
        "SELECT toDate(now64(3))",
        "SELECT randCanonical()",
        "SELECT rand() % 10",
        "SELECT generateUUIDv4()",
        "SELECT arrayShuffle([1, 2, 3])",
        "SELECT rowNumberInAllBlocks() FROM raw_events",
        "SELECT yesterday()",
        "SELECT dateDiff('day', min(timestamp), nowInBlock()) FROM raw_events",
    ],
)
def test_clock_and_random_queries_are_not_repeatable_as_written_or_printed(sql):
    printed = guard(sql, scope="section", database="db").sql
    assert not is_repeatable(sql) and not is_repeatable(printed)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM raw_events",
        "SELECT 'now' AS word, count() FROM raw_events WHERE verb_id != 'today'",
        "SELECT toStartOfDay(timestamp) AS day, uniqExact(user_id) FROM raw_events GROUP BY day",
    ],
)
def test_queries_of_the_data_alone_are_repeatable(sql):
    assert is_repeatable(sql, guard(sql, scope="section", database="db").sql)


def test_the_key_names_the_printed_sql_dates_and_limits_and_refuses_titles():
    limits = executor.Limits(1, 10, 10, 10, 10)
    sql = "SELECT count() FROM raw_events"
    guarded = guard(sql, scope="section", database="db")
    key = custom_sql.keepable_question(sql, guarded, limits, None, None)
    assert key is not None and guarded.sql in key and limits in key
    assert key != custom_sql.keepable_question(sql, guarded, limits.replace(max_result_rows=11), None, None)
    from datetime import date

    assert key != custom_sql.keepable_question(sql, guarded, limits, date(2026, 1, 1), None)
    titles = "SELECT count() FROM content_titles"
    assert (
        custom_sql.keepable_question(titles, guard(titles, scope="project", database="db"), limits, None, None) is None
    )
