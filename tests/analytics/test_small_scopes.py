"""Learners at risk of a scope with few learners is read unranked and ranked in Python (categories.small_scopes,
learners_at_risk.rank): the same JSON as the ranked SQL (flags, the median window, order, limit), which a scope over
the cap still gets, remembered as large."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from xolap.analytics.categories import learners_at_risk, run_category, small_scopes
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


def ranked_sql_answer(client, settings, scope, scope_id, start, end):
    """What the ranked SQL (build_sql) answers, presented as run_category presents it."""
    ctx = _context(settings, scope, scope_id, start, end)
    sql = learners_at_risk.build_sql(ctx)
    result = run(client, settings, sql, parameters=with_rollup_builds(client, settings, ctx, sql, scope_id))
    rows = json_rows(result.columns, result.types, result.rows)
    presented = learners_at_risk.present(rows, orjson.loads(orjson.dumps(learners_at_risk.CATEGORY.spec)))
    presented.spec["data"] = {"values": presented.rows}  # as run_category fills it
    return presented, result


@pytest.fixture()
def fresh_memo(monkeypatch):
    monkeypatch.setattr(small_scopes, "_large", set())


def answer_json(answer) -> bytes:
    return orjson.dumps([answer.rows, answer.columns, answer.extra, answer.spec, answer.truncated])


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
            expected = [presented.rows, presented.columns or list(result.columns), presented.extra, presented.spec]
            assert answer_json(answer) == orjson.dumps([*expected, result.truncated]), (scope, start, end)
            assert answer.rows and any(row["at_risk"] for row in answer.rows)
    assert not small_scopes.known_large(settings.clickhouse_database, "section", 1, "learners_at_risk")


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


def test_clickhouse_round_is_clickhouse_s(ch_db):
    client, _settings = ch_db
    values = [0.35, 2.675, 1.45, 12.25, 49.95, 0.05, -0.35, -12.25, 99.99999, 1e-9, 123456.789]
    values += [step / 400 for step in range(-400, 40_001, 7)]
    got = client.query("SELECT arrayMap(x -> round(x, 1), {values:Array(Float64)})", parameters={"values": values})
    assert got.result_rows[0][0] == [learners_at_risk.clickhouse_round(value, 1) for value in values]
    assert learners_at_risk.clickhouse_round(0.35, 1) == 0.4 != round(0.35, 1)
