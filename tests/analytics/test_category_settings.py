"""The settings sent with the curated charts' reads only (executor.CATEGORY_SETTINGS): they reach ClickHouse with every
category and summary query, never with custom SQL, and may only tune how a query runs, never a limit or readonly."""

from __future__ import annotations

import re

import pytest

from xolap.analytics import executor
from xolap.analytics.categories import event_summary, run_category
from xolap.analytics.categories.failures import CategoryFailure
from xolap.analytics.custom_sql import run_custom_sql
from xolap.analytics.executor import CATEGORY_SETTINGS, run
from xolap.clickhouse import data_version

EVENTS = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, scaled_score, event_hash)
SELECT 4, 40, toString(number % 9), toDateTime64('2026-01-05 10:00:00', 3) + toIntervalHour(number * 7),
    if(number % 3 = 0, 'activity_attempt', 'page_viewed'), 'http://adlnet.gov/expapi/verbs/completed',
    if(number % 3 = 0, NULL, number % 5), if(number % 3 = 0, (number % 10) / 10, NULL), concat('s', toString(number))
FROM numbers(200)
"""


def _logged_settings(client, tag_prefix: str) -> list[dict]:
    """The Settings of every finished query whose tag starts with `tag_prefix` (the executor's /* xolap:tag */)."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT Settings FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE {m:String} "
        "AND query NOT LIKE '%FROM system.query_log%'",
        parameters={"m": f"%xolap:{tag_prefix}%"},
    ).result_rows
    return [row[0] for row in rows]


def test_category_and_summary_reads_carry_the_category_settings_and_custom_sql_does_not(ch_db):
    client, settings = ch_db
    assert CATEGORY_SETTINGS, "nothing to check"
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    for key in ("learners_at_risk", "course_progress", "video"):
        run_category(client, settings, key, scope="section", scope_id=4)
    assert event_summary(client, settings, "section", 4)
    for prefix in ("category.learners_at_risk.", "category.course_progress.", "category.video.", "category.summary."):
        logged = _logged_settings(client, prefix)
        assert logged, f"no query_log row for {prefix}"
        for sent in logged:
            for name, value in CATEGORY_SETTINGS.items():
                assert sent.get(name) == str(value), (prefix, name, sent.get(name))
    marker = "custom-sql-without-category-settings"
    run_custom_sql(client, settings, f"SELECT '{marker}' AS m, count() FROM raw_events", scope="section", scope_id=4)
    client.command("SYSTEM FLUSH LOGS")
    custom = client.query(
        "SELECT Settings FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE {m:String} "
        "AND query NOT LIKE '%FROM system.query_log%'",
        parameters={"m": f"%{marker}%"},
    ).result_rows
    assert custom
    for (sent,) in custom:
        for name in CATEGORY_SETTINGS:
            assert name not in sent, (name, sent.get(name))


@pytest.mark.parametrize(
    "setting",
    [
        "readonly",
        "max_execution_time",
        "max_rows_to_read",
        "max_result_rows",
        "result_overflow_mode",
        "max_memory_usage",
        "max_bytes_to_read",
        "read_overflow_mode",
        "additional_table_filters",
        "function_range_max_elements_in_block",
        "allow_ddl",
    ],
)
def test_tuning_settings_never_name_a_limit_readonly_or_the_wall(ch_db, setting):
    client, settings = ch_db
    with pytest.raises(ValueError, match=setting):
        run(client, settings, "SELECT 1", tuning={setting: 0})


def test_tuning_settings_reach_the_query(ch_db):
    client, settings = ch_db
    result = run(client, settings, "SELECT getSetting('max_final_threads') AS value", tuning={"max_final_threads": 1})
    assert str(result.rows[0][0]) == "1"
    assert set(CATEGORY_SETTINGS) <= executor.TUNING_SETTINGS


def test_chart_reads_send_only_readonly_and_what_differs_and_still_run_with_every_setting(ch_db):
    """On embedded chDB a chart read runs on a companion handle whose session holds executor.shared_settings (the
    limits, READ_SETTINGS, CATEGORY_SETTINGS): its SETTINGS clause names readonly and what differs (a small read's
    max_threads), and ClickHouse still applies every setting to it. A SETTINGS clause costs ~17 us a setting."""
    client, settings = ch_db
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    for key in ("learners_at_risk", "weekday_hour", "video"):
        run_category(client, settings, key, scope="section", scope_id=4)
    assert event_summary(client, settings, "section", 4)
    client.command("SYSTEM FLUSH LOGS")
    logged = client.query(
        "SELECT query, Settings FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE '%xolap:category.%' "
        "AND query NOT LIKE '%FROM system.query_log%' AND has(databases, {db:String})",
        parameters={"db": settings.clickhouse_database},
    ).result_rows
    assert len(logged) >= 4
    shared = executor.shared_settings(settings)
    for query, applied in logged:
        named = dict(re.findall(r"(\w+) = '([^']*)'", query.rsplit("SETTINGS", 1)[1]))
        assert named.get("readonly") == "1" == applied.get("readonly"), query
        for name, value in shared.items():
            sent = _as_logged(value)
            if name in named:  # only a setting this read changes (a small scope's lower row cap)
                assert named[name] == applied.get(name) != sent, (name, query)
            else:
                assert applied.get(name) == sent, (name, value, applied.get(name))


def _as_logged(value: object) -> str:
    """A setting's value as system.query_log's Settings shows it (a whole float without its '.0')."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def test_a_limit_held_by_the_shared_session_still_stops_a_chart_read(ch_db):
    client, settings = ch_db
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    run_category(client, settings, "weekday_hour", scope="section", scope_id=4)  # builds the rollups
    tight = settings.model_copy(update={"query_max_rows_to_read": 1})
    with pytest.raises(CategoryFailure) as failure:
        run_category(client, tight, "weekday_hour", scope="section", scope_id=4)
    assert failure.value.kind == "too_many_rows_read"


class _SeenSettings:
    """A client of our own around chDB's (as a test or fault wrapper is): records the settings each query sends."""

    def __init__(self, client) -> None:
        self._client = client
        self.sent: list[dict] = []

    def query(self, sql, parameters=None, settings=None, **kwargs):
        self.sent.append(dict(settings or {}))
        return self._client.query(sql, parameters=parameters, settings=settings, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_client_that_is_not_chdbs_own_sends_every_setting_with_each_chart_read(ch_db):
    """No companion session for a wrapper or a ClickHouse server's client: each chart read names every setting."""
    client, settings = ch_db
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    wrapped = _SeenSettings(client)
    run_category(wrapped, settings, "weekday_hour", scope="section", scope_id=4)
    chart_reads = [sent for sent in wrapped.sent if sent.get("readonly") == 1]
    assert chart_reads, wrapped.sent
    for sent in chart_reads:
        assert sent.items() >= {**executor.shared_settings(settings), "readonly": 1}.items(), sent
