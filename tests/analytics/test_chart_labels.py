"""Label columns of the count charts (weekday x hour's day name, score distribution's range, hints and success's
label) are words over a number the query returns, so `present` adds them in Python instead of the query computing
them (~0.2-0.3 ms of a small scope's ~6 ms chart query each, docs/rollups.md): the same JSON as the former SQL."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from xolap.analytics.categories import hints_success, performance, run_category, weekday_hour
from xolap.analytics.categories.chart_values import json_rows
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.categories.registry import _context
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse import data_version

LABELS = [(weekday_hour, "day_name"), (performance, "score_range"), (hints_success, "hints_label")]
DATES = ((None, None), (date(2026, 3, 2), None), (date(2026, 3, 2), date(2026, 3, 4)), (date(2027, 1, 1), None))


@pytest.mark.parametrize(("chart", "label"), LABELS, ids=lambda item: getattr(item, "__name__", item))
def test_chart_queries_compute_no_label(chart, label):
    for scope in ("section", "project"):
        for start, end in DATES:
            assert label not in chart.build_sql(QueryContext("db", scope, start, end))


def test_python_labels_are_the_former_sql_expressions_for_every_value(ch_db):
    client, _settings = ch_db
    days = client.query(
        "SELECT w, arrayElement(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], w) FROM "
        "(SELECT toDayOfWeek(toDate('2026-03-02') + number) AS w FROM numbers(7))"
    ).result_rows
    assert sorted(days) == [(weekday, weekday_hour.day_name(weekday)) for weekday in range(1, 8)]
    ranges = client.query(
        "SELECT bucket, concat(toString(bucket * 20), '–', toString(bucket * 20 + 20), '%') "
        "FROM (SELECT toUInt8(number) AS bucket FROM numbers(5))"
    ).result_rows
    assert ranges == [(bucket, performance.score_range(bucket)) for bucket in range(performance.BUCKETS)]
    hints = client.query(
        "SELECT hints, if(hints = 3, '3+', toString(hints)) FROM (SELECT least(toUInt32(number), 3) AS hints "
        "FROM numbers(5))"
    ).result_rows
    assert hints == [(value, hints_success.hints_label(value)) for value in (0, 1, 2, 3, 3)]


def part_attempts(client, settings) -> None:
    """Attempts on three days (Monday to Wednesday) at several hours, every hint count 0-5 and score fifth, a
    duplicate line (counted once by FINAL) and a NULL score."""
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, activity_id, scaled_score, success, hints_requested, event_hash)
        SELECT 1, 10, concat('u', toString(number % 4)), toDateTime64('2026-03-02 08:00:00', 3) + number * 5000,
            'part_attempt', 'http://adlnet.gov/expapi/verbs/completed', 500,
            if(number % 7 = 0, NULL, (number % 10) / 9), number % 3 = 0, toUInt32(number % 6),
            concat('label-', toString(number % 45))
        FROM numbers(48)"""
    )
    data_version.rows_written(settings.clickhouse_database)


@pytest.mark.parametrize(("chart", "label"), LABELS, ids=lambda item: getattr(item, "__name__", item))
def test_labelled_answers_are_raw_sql_s_byte_for_byte(ch_db, chart, label):
    """The rollup answer with its Python labels: raw_sql's rows, columns and order (labels computed in SQL there)."""
    client, settings = ch_db
    part_attempts(client, settings)
    key = chart.CATEGORY.key
    for scope, scope_id in (("section", 1), ("project", 10)):
        for start, end in DATES:
            answer = run_category(client, settings, key, scope=scope, scope_id=scope_id, start=start, end=end)
            ctx = _context(settings, scope, scope_id, start, end)
            raw = run(client, settings, chart.raw_sql(ctx), parameters=parameters(ctx, scope_id))
            raw_rows = json_rows(raw.columns, raw.types, raw.rows)
            if chart is not weekday_hour:  # averages: the rollup sums the same scores in another order
                for rows in (answer.rows, raw_rows):
                    for row in rows:
                        row.update({name: round(row[name] or 0, 6) for name in row if name.startswith("avg_")})
            assert orjson.dumps(answer.rows) == orjson.dumps(raw_rows), (key, scope, start, end)
            assert answer.columns == list(raw.columns)
            if start is None:
                assert any(row[label] for row in answer.rows)
