"""The settings sent with the curated charts' reads only (executor.CATEGORY_SETTINGS): they reach ClickHouse with every
category and summary query, never with custom SQL, and may only tune how a query runs, never a limit or readonly."""

from __future__ import annotations

import pytest

from xolap.analytics import executor
from xolap.analytics.categories import event_summary, run_category
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
