"""Ranked charts of a scope with few rows (learners at risk, videos, activities) are read unranked and ranked in
Python (categories.small_scopes, each chart's rank, categories.clickhouse_math): the same JSON as the ranked SQL
(flags, the median window, rates, title project, order, limit), which a scope over the cap still gets, remembered as
large."""

from __future__ import annotations

import dataclasses
from datetime import date

import orjson
import pytest

from xolap.analytics import title_lookup
from xolap.analytics.categories import (
    assessment,
    clickhouse_math,
    cross_event,
    engagement,
    learners_at_risk,
    run_category,
    small_scopes,
    video,
)
from xolap.analytics.categories.chart_values import json_rows
from xolap.analytics.categories.registry import _context, with_rollup_builds
from xolap.analytics.executor import run
from xolap.clickhouse import data_version

DATES = ((None, None), (date(2026, 3, 1), None), (None, date(2026, 3, 20)), (date(2026, 3, 5), date(2026, 3, 25)))


def learners(client, settings) -> None:
    """13 learners of section 1 (project 10): activity spread over March 2026 so that some are inactive, some far
    below the median's recent events (an even and an odd number of learners in the windows), scores whose averages
    sit on rounding edges (0.35 of a percent step, 12.25, 49.95) and exactly at the 50 % line, ties on every sort key
    but the id, and one learner without scored attempts."""
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, activity_id, scaled_score, success, event_hash)
        SELECT 1, 10, concat('learner-', toString(u)), toDateTime64('2026-03-01 09:00:00', 3) + toIntervalDay(d)
                + toIntervalSecond(n),
            if(n % 3 = 0, 'activity_attempt', 'page_viewed'), 'http://adlnet.gov/expapi/verbs/completed', 700 + n,
            if(n % 3 = 0, [0.0035, 0.1225, 0.4995, 0.5, 0.35, 0.9][u % 6 + 1], NULL), n % 2 = 0,
            concat('r-', toString(u), '-', toString(d), '-', toString(n))
        FROM (SELECT number % 13 AS u, (number * 7 + u * 3) % (12 + u * 2) AS d, number AS n FROM numbers(260))"""
    )
    data_version.rows_written(settings.clickhouse_database)


def content(client, settings) -> None:
    """25 videos, 30 activities and 27 pages of section 1 (project 10, a few events under project 20 or none) in March 2026:
    ties on viewers and plays, rates on rounding edges, a video without progress, unscored and failed attempts."""
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, video_url, video_progress, activity_id, scaled_score, success, event_hash)
        SELECT 1, multiIf(n % 17 = 0, 20, n % 19 = 0, NULL, 10), concat('u', toString(n % 11)),
            toDateTime64('2026-03-01 09:00:00', 3) + toIntervalDay(n % 28) + toIntervalSecond(n),
            if(n % 2 = 0, 'video', 'activity_attempt'),
            if(n % 2 = 0, if(n % 6 = 0, 'https://w3id.org/xapi/video/verbs/played',
                'https://w3id.org/xapi/video/verbs/completed'), 'http://adlnet.gov/expapi/verbs/answered'),
            if(n % 2 = 0, concat('https://videos.example/v', toString(n % 25), '.mp4'), NULL),
            if(n % 2 = 0 AND n % 25 != 3, [0.35, 0.1225, 0.8, 0.4995][n % 4 + 1], NULL),
            if(n % 2 = 1, 500 + intDiv(n, 2) % 30, NULL), if(n % 2 = 1 AND n % 7 != 0, (n % 9) / 8, NULL), n % 3 = 0,
            concat('c-', toString(n))
        FROM (SELECT number AS n FROM numbers(600))"""
    )
    client.command(
        f"""INSERT INTO `{settings.clickhouse_database}`.raw_events (section_id, project_id, user_id, timestamp,
            event_type, verb_id, page_id, completion, event_hash)
        SELECT 1, if(n % 13 = 0, 20, 10), concat('u', toString(n % 9)),
            toDateTime64('2026-03-01 08:00:00', 3) + toIntervalDay(n % 31) + toIntervalSecond(n), 'page_viewed',
            'http://id.tincanapi.com/verb/viewed', 100 + n % 27, n % 4 = 0, concat('p-', toString(n))
        FROM (SELECT number AS n FROM numbers(500))"""
    )
    data_version.rows_written(settings.clickhouse_database)


def ranked_sql_answer(client, settings, scope, scope_id, start, end, chart=learners_at_risk):
    """What the ranked SQL (build_sql) answers, titled and presented as run_category does it."""
    ctx = _context(settings, scope, scope_id, start, end)
    sql = chart.build_sql(ctx)
    result = run(client, settings, sql, parameters=with_rollup_builds(client, settings, ctx, sql, scope_id))
    rows, columns = json_rows(result.columns, result.types, result.rows), list(result.columns)
    if chart.CATEGORY.content_titles is not None:
        columns, rows = title_lookup.with_titles(client, settings, chart.CATEGORY.content_titles, columns, rows)
    presented = chart.present(rows, orjson.loads(orjson.dumps(chart.CATEGORY.spec)))
    columns = list(presented.columns) if presented.columns is not None else columns
    columns += [name for name in (presented.rows[0] if presented.rows else {}) if name not in columns]
    result = dataclasses.replace(result, columns=columns)  # the answer's columns, as run_category makes them
    presented.spec["data"] = {"values": presented.rows}  # as run_category fills it
    return presented, result


@pytest.fixture()
def fresh_memo(monkeypatch):
    monkeypatch.setattr(small_scopes, "_large", set())


def answer_json(answer) -> list[bytes]:
    return [orjson.dumps(part) for part in (answer.rows, answer.columns, answer.extra, answer.spec, answer.truncated)]


def test_a_small_scope_is_ranked_in_python_to_the_ranked_sql_s_answer(ch_db, fresh_memo):
    client, settings = ch_db
    learners(client, settings)
    for scope, scope_id in (("section", 1), ("project", 10)):
        for start, end in DATES:
            answer = run_category(
                client, settings, "learners_at_risk", scope=scope, scope_id=scope_id, start=start, end=end
            )
            assert " OVER " not in answer.sql and "LIMIT" not in answer.sql  # read unranked
            presented, result = ranked_sql_answer(client, settings, scope, scope_id, start, end)
            expected = [presented.rows, result.columns, presented.extra, presented.spec]
            assert answer_json(answer) == [orjson.dumps(part) for part in (*expected, result.truncated)], (
                scope,
                start,
                end,
            )
            assert answer.rows and any(row["at_risk"] for row in answer.rows)
    assert not small_scopes.known_large(settings.clickhouse_database, "section", 1, "learners_at_risk")


@pytest.mark.parametrize(
    "chart", [video, assessment, engagement, cross_event], ids=["video", "assessment", "engagement", "cross_event"]
)
def test_a_small_scope_s_content_is_ranked_in_python_to_the_ranked_sql_s_answer(ch_db, fresh_memo, chart):
    client, settings = ch_db
    content(client, settings)
    for scope, scope_id in (("section", 1), ("project", 10), ("project", 20)):
        for start, end in (*DATES, (date(2027, 1, 1), None), (date(2027, 1, 1), date(2027, 2, 1))):  # and no rows
            key = chart.CATEGORY.key
            answer = run_category(client, settings, key, scope=scope, scope_id=scope_id, start=start, end=end)
            assert "LIMIT" not in answer.sql and "groupArray" not in answer.sql  # read unranked
            presented, result = ranked_sql_answer(client, settings, scope, scope_id, start, end, chart)
            expected = [presented.rows, result.columns, presented.extra, presented.spec]
            assert answer_json(answer) == [orjson.dumps(part) for part in (*expected, result.truncated)], (
                key,
                scope,
                start,
                end,
            )
            if scope_id == 10 and start is None and chart is not cross_event:  # more items than the top 20
                assert len(result.rows) == 20 and answer.rows


def test_a_scope_over_the_cap_gets_the_ranked_sql_and_is_remembered(ch_db, fresh_memo, monkeypatch):
    client, settings = ch_db
    learners(client, settings)
    monkeypatch.setattr(small_scopes, "SMALL_SCOPE_ROWS", 12)  # 13 learners: one too many
    for _ in range(2):
        answer = run_category(client, settings, "learners_at_risk", scope="section", scope_id=1)
        assert " OVER " in answer.sql
        assert small_scopes.known_large(settings.clickhouse_database, "section", 1, "learners_at_risk")
        presented, result = ranked_sql_answer(client, settings, "section", 1, None, None)
        assert orjson.dumps(answer.rows) == orjson.dumps(presented.rows)
    monkeypatch.setattr(small_scopes, "SMALL_SCOPE_ROWS", 13)  # fits now, but the scope is remembered as large
    assert " OVER " in run_category(client, settings, "learners_at_risk", scope="section", scope_id=1).sql


def test_a_lower_configured_row_limit_is_kept(ch_db, fresh_memo):
    """The cap only lowers the result row limit: with 5 allowed, 13 learners give the ranked SQL's 5, truncated."""
    client, base = ch_db
    learners(client, base)
    settings = base.model_copy(update={"query_max_result_rows": 5})
    answer = run_category(client, settings, "learners_at_risk", scope="section", scope_id=1)
    presented, result = ranked_sql_answer(client, settings, "section", 1, None, None)
    assert answer.truncated and result.truncated and len(answer.rows) == 5
    assert orjson.dumps(answer.rows) == orjson.dumps(presented.rows)


def test_the_memo_of_large_scopes_is_bounded(fresh_memo, monkeypatch):
    monkeypatch.setattr(small_scopes, "LARGE_SCOPE_ENTRIES", 3)
    for scope_id in range(10):
        small_scopes.remember_large("db", "section", scope_id, "learners_at_risk")
        assert small_scopes.known_large("db", "section", scope_id, "learners_at_risk")
    assert len(small_scopes._large) <= 3


def test_round_is_clickhouse_s(ch_db):
    client, _settings = ch_db
    values = [0.35, 2.675, 1.45, 12.25, 49.95, 0.05, -0.35, -12.25, 99.99999, 1e-9, 123456.789]
    values += [step / 400 for step in range(-400, 40_001, 7)]
    got = client.query("SELECT arrayMap(x -> round(x, 1), {values:Array(Float64)})", parameters={"values": values})
    assert got.result_rows[0][0] == [clickhouse_math.round_float(value, 1) for value in values]
    assert clickhouse_math.round_float(0.35, 1) == 0.4 != round(0.35, 1)


def test_division_and_the_heaviest_project_are_clickhouse_s(ch_db):
    client, _settings = ch_db
    pairs = [(0, 0), (3, 0), (-2.5, 0), (1, 3), (2.0, 7), (10**15, 3), (0.1, 0.3)]
    got = client.query(
        "SELECT arrayMap(p -> p.1 / p.2, {pairs:Array(Tuple(Float64, Float64))})", parameters={"pairs": pairs}
    ).result_rows[0][0]
    want = [clickhouse_math.divide(a, b) for a, b in pairs]
    assert [str(value) for value in got] == [str(value) for value in want]
    maps = [{}, {3: 5, 1: 5}, {7: 1, 2: 9, 4: 9}, {10: 0}]
    literals = ", ".join(
        "CAST(map(" + ", ".join(f"{key}, {count}" for key, count in counts.items()) + "), 'Map(UInt64, UInt64)')"
        for counts in maps
    )
    got = client.query(
        f"SELECT arrayMap(m -> arrayElement(mapKeys(m), indexOf(mapValues(m), arrayMax(mapValues(m)))), [{literals}])"
    ).result_rows[0][0]
    as_json = [{str(key): count for key, count in counts.items()} for counts in maps]  # in the maps' order
    assert got == [clickhouse_math.heaviest_key(counts) for counts in as_json]
