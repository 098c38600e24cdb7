"""Chart queries in one SQL level (each nested SELECT cost a small scope's answer ~0.5-1.5 ms of planning, measured
at 5M events), with what the outer level did done in Python giving the same JSON: the empty buckets of score
distribution and course progress."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from support import RecordingClient
from xolap.analytics.categories import (
    assessment,
    course_progress,
    engagement,
    hints_success,
    learners_at_risk,
    performance,
    run_category,
    video,
)
from xolap.analytics.categories import weekday_hour as weekday_hour_chart
from xolap.analytics.categories.chart_values import json_rows
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.categories.registry import _context
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse import data_version

ONE_LEVEL = [performance, hints_success, weekday_hour_chart, video, assessment, engagement, learners_at_risk]


@pytest.mark.parametrize("chart", ONE_LEVEL, ids=lambda chart: chart.CATEGORY.key)
def test_chart_queries_are_one_select_level(chart):
    for scope in ("section", "project"):
        for start, end in ((None, None), (date(2026, 1, 1), None), (date(2026, 1, 1), date(2026, 2, 1))):
            sql = chart.build_sql(QueryContext("db", scope, start, end))
            assert sql.count("SELECT") == 1, sql


def test_course_progress_is_two_select_levels():
    for scope in ("section", "project"):
        for start, end in ((None, None), (date(2026, 1, 1), date(2026, 2, 1))):
            assert course_progress.build_sql(QueryContext("db", scope, start, end)).count("SELECT") == 2


def part_attempts(client, settings, section: int, scores: list[float | None]) -> None:
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, activity_id, scaled_score, success, hints_requested, event_hash)
        SELECT {section}, 10, concat('u', toString(number % 3)), toDateTime64('2026-03-02 10:00:00', 3) + number,
            'part_attempt', 'http://adlnet.gov/expapi/verbs/completed', 500, s, s >= 0.5, toUInt32(number % 4),
            concat('h{section}-', toString(number))
        FROM (SELECT number, {{scores:Array(Nullable(Float64))}}[number % {len(scores)} + 1] AS s FROM numbers(40))""",
        parameters={"scores": scores},
    )
    data_version.rows_written(settings.clickhouse_database)


@pytest.mark.parametrize(
    "scores",
    [[0.25, 0.65], [0.95], [None], []],
    ids=["two buckets", "last bucket", "unscored only", "no attempts"],
)
def test_performance_buckets_without_attempts_are_the_sql_fill_s(ch_db, scores):
    """The rollup chart fills missing buckets in Python: the same rows, columns, types and order as raw_sql's
    WITH FILL (0 attempts, 0.0 hints), byte for byte in JSON."""
    client, settings = ch_db
    if scores:
        part_attempts(client, settings, 1, scores)
    for start, end in ((None, None), (date(2026, 3, 2), date(2026, 3, 2)), (date(2027, 1, 1), None)):
        answer = run_category(client, settings, "performance", scope="section", scope_id=1, start=start, end=end)
        ctx = _context(settings, "section", 1, start, end)
        raw = run(client, settings, performance.raw_sql(ctx), parameters=parameters(ctx, 1))
        raw_rows = json_rows(raw.columns, raw.types, raw.rows)
        assert orjson.dumps(answer.rows) == orjson.dumps(raw_rows)
        assert answer.columns == list(raw.columns) == performance.COLUMNS
        assert answer.enough_data == any(row["attempts"] for row in raw_rows)


def page_views(client, settings, section: int, pages_per_learner: list[int]) -> None:
    """Learner i of the section views pages 1..pages_per_learner[i]."""
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, page_id, completion, event_hash)
        SELECT {section}, 10, concat('u', toString(learner)), toDateTime64('2026-03-02 10:00:00', 3) + page,
            'page_viewed', 'http://id.tincanapi.com/verb/viewed', page, true,
            concat('p{section}-', toString(learner), '-', toString(page))
        FROM (SELECT learner, arrayJoin(range(1, {{pages:Array(UInt32)}}[learner + 1] + 1)) AS page
              FROM (SELECT arrayJoin(range(length({{pages:Array(UInt32)}}))) AS learner))""",
        parameters={"pages": pages_per_learner},
    )
    data_version.rows_written(settings.clickhouse_database)


@pytest.mark.parametrize(
    "pages_per_learner",
    [[10, 10, 3], [10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], []],
    ids=["three learners", "one learner", "every bucket", "no views"],
)
def test_course_progress_buckets_without_learners_are_the_sql_fill_s(ch_db, pages_per_learner):
    """Course progress fills missing buckets in Python: the same rows, columns and types as raw_sql's WITH FILL
    (0 learners of 0 pages), byte for byte in JSON."""
    client, settings = ch_db
    if pages_per_learner:
        page_views(client, settings, 1, pages_per_learner)
    for start, end in ((None, None), (date(2026, 3, 2), date(2026, 3, 2)), (date(2027, 1, 1), None)):
        answer = run_category(client, settings, "course_progress", scope="section", scope_id=1, start=start, end=end)
        ctx = _context(settings, "section", 1, start, end)
        raw = run(client, settings, course_progress.raw_sql(ctx), parameters=parameters(ctx, 1))
        raw_rows = json_rows(raw.columns, raw.types, raw.rows)
        assert orjson.dumps(answer.rows) == orjson.dumps(raw_rows)
        assert answer.columns == list(raw.columns) == course_progress.COLUMNS
        assert answer.enough_data == any(row["learners"] for row in raw_rows)


def test_learners_at_risk_reference_day_is_read_once_per_set_of_builds(ch_db):
    """The scope's latest day is a parameter computed once per set of rollup builds: a repeated answer reads it no
    more, and new events on a later day (new builds) move it, as the subquery did."""
    client, settings = ch_db
    part_attempts(client, settings, 1, [0.25, 0.65])  # 40 attempts on 2026-03-02 by three learners
    recording = RecordingClient(client)
    first = run_category(recording, settings, "learners_at_risk", scope="section", scope_id=1)
    again = run_category(recording, settings, "learners_at_risk", scope="section", scope_id=1)
    assert [sql.count("max(d.day)") for sql in recording.statements if "max(d.day)" in sql] == [1]
    assert first.rows == again.rows and {row["days_inactive"] for row in first.rows} == {0}
    assert first.parameters["xolap_reference_day"] == "2026-03-02"
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, event_hash)
        VALUES (1, 10, 'u9', '2026-03-20 09:00:00', 'page_viewed', 'http://id.tincanapi.com/verb/viewed', 'later')"""
    )
    data_version.rows_written(settings.clickhouse_database)
    later = run_category(recording, settings, "learners_at_risk", scope="section", scope_id=1)
    assert later.parameters["xolap_reference_day"] == "2026-03-20"
    assert {row["learner"]: row["days_inactive"] for row in later.rows}["u0"] == 18
