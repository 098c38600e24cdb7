"""A curated chart reading only rollup tables whose rows stay few (read_tuning.SMALL_TABLES) runs on one thread; a chart
whose rows grow with learners or content, or that reads raw events, keeps the category settings. Every chart searches
its parts' primary keys on the query's own thread (executor.CATEGORY_SETTINGS: max_threads_for_indexes = 1)."""

from __future__ import annotations

from xolap.analytics import executor, read_tuning
from xolap.analytics.categories import event_summary, run_category
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.categories.registry import event_summary_raw_sql
from xolap.clickhouse import data_version

EVENTS = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    scaled_score, hints_requested, event_hash)
SELECT 6, 60, toString(number % 9), toDateTime64('2026-01-05 10:00:00', 3) + toIntervalHour(number * 7),
    ['part_attempt', 'page_viewed', 'activity_attempt'][number % 3 + 1], 'http://adlnet.gov/expapi/verbs/completed',
    number % 5, 600 + number % 4, if(number % 3 = 1, NULL, (number % 10) / 10), if(number % 3 = 0, number % 3, NULL),
    concat('t', toString(number))
FROM numbers(120)
"""

SINGLE_THREADED = ("performance", "weekday_hour", "hints_success")
PARALLEL = ("learners_at_risk", "course_progress", "assessment", "cross_event")


def _sent(client, tag_prefix: str, database: str, setting: str = "max_threads") -> list[str | None]:
    """`setting` as sent with every finished query tagged `tag_prefix` (None: not set by the query) that read
    `database` (the query log is the process's: other tests' charts are in it too)."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT Settings FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE {m:String} "
        "AND query NOT LIKE '%FROM system.query_log%' AND has(databases, {db:String})",
        parameters={"m": f"%xolap:{tag_prefix}%", "db": database},
    ).result_rows
    return [row[0].get(setting) for row in rows]


def test_small_rollup_reads_run_on_one_thread_and_growing_reads_keep_the_category_settings(ch_db):
    client, settings = ch_db
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    for key in SINGLE_THREADED + PARALLEL:
        assert run_category(client, settings, key, scope="section", scope_id=6).rows, key
    assert event_summary(client, settings, "section", 6)
    for prefix in [f"category.{key}." for key in SINGLE_THREADED] + ["category.summary."]:
        sent = _sent(client, prefix, settings.clickhouse_database)
        assert sent and all(value == "1" for value in sent), (prefix, sent)
    for key in PARALLEL:
        sent = _sent(client, f"category.{key}.", settings.clickhouse_database)
        assert sent and all(value != "1" for value in sent), (key, sent)
    # every chart searches its parts' primary keys on the query's own thread (executor.CATEGORY_SETTINGS)
    for prefix in [f"category.{key}." for key in SINGLE_THREADED + PARALLEL] + ["category.summary."]:
        sent = _sent(client, prefix, settings.clickhouse_database, "max_threads_for_indexes")
        assert sent and all(value == "1" for value in sent), (prefix, sent)


def test_tuning_follows_every_table_the_sql_names():
    small = "SELECT sum(r.events) FROM `db`.rollup_hourly AS r FINAL WHERE r.scope_id = 1"
    assert read_tuning.chart_tuning(small) == read_tuning.SMALL_READ_SETTINGS
    both = small + " UNION ALL SELECT sum(l.events) FROM `db`.rollup_learners AS l FINAL"
    assert read_tuning.chart_tuning(both) == executor.CATEGORY_SETTINGS
    assert read_tuning.chart_tuning("SELECT 1") == executor.CATEGORY_SETTINGS
    raw = event_summary_raw_sql(QueryContext("db", "section", None, None))
    assert read_tuning.tables_read(raw) == {"raw_events"}
    assert read_tuning.chart_tuning(raw) == executor.CATEGORY_SETTINGS


def test_small_read_settings_only_tune():
    assert set(read_tuning.SMALL_READ_SETTINGS) <= executor.TUNING_SETTINGS
    assert read_tuning.SMALL_READ_SETTINGS["max_threads"] == 1
    for name, value in executor.CATEGORY_SETTINGS.items():
        assert read_tuning.SMALL_READ_SETTINGS[name] == value
