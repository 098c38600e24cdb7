"""Learners at risk: whether a learner is flagged and why (at_risk, reasons) are words over the three flags the SQL
computes, added in Python (learners_at_risk.flagged): each further expression over the flags was planned again on
every answer (~1.5-2 ms of analysis). The words must stay the ones the former SQL expression gave."""

from __future__ import annotations

from datetime import date
from itertools import product

import orjson

from xolap.analytics.categories import learners_at_risk
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.categories.registry import CATEGORIES

# The former SQL of at_risk and reasons over the three flags (as 0/1 columns), the reference for `flagged`.
FORMER_SQL = """SELECT inactive, low_activity, low_scores,
    toBool(inactive OR low_activity OR low_scores) AS at_risk,
    arrayStringConcat(arrayFilter(x -> x != '', [
        if(inactive, 'inactive 7+ days', ''),
        if(low_activity, 'low recent activity', ''),
        if(low_scores, 'low scores', '')]), ', ') AS reasons
FROM (SELECT toUInt8(c.1) AS inactive, toUInt8(c.2) AS low_activity, toBool(c.3) AS low_scores
      FROM (SELECT arrayJoin({combinations:Array(Tuple(UInt8, UInt8, UInt8))}) AS c))
ORDER BY inactive, low_activity, low_scores"""


def _row(inactive: int, low_activity: int, low_scores: bool) -> dict:
    return {
        "learner": "u1",
        "events": 9,
        "recent_events": 1,
        "last_active": "2026-03-01",
        "days_inactive": 8,
        "scored_attempts": 3,
        "avg_score_pct": 42.5,
        "inactive": inactive,
        "low_activity": low_activity,
        "low_scores": low_scores,
    }


def test_at_risk_and_reasons_are_the_former_sqls_for_every_flag_combination(ch_db):
    client, _ = ch_db
    combinations = list(product((0, 1), repeat=3))
    expected = client.query(FORMER_SQL, parameters={"combinations": combinations}).result_rows
    assert len(expected) == 8
    for inactive, low_activity, low_scores, at_risk, reasons in expected:
        row = learners_at_risk.flagged(_row(inactive, low_activity, bool(low_scores)))
        assert (row["at_risk"], row["reasons"]) == (at_risk, reasons), (inactive, low_activity, low_scores)
        assert list(row) == learners_at_risk.COLUMNS
        assert orjson.dumps(row["at_risk"]) == orjson.dumps(bool(at_risk))


def test_the_chart_sql_computes_neither_at_risk_nor_reasons():
    for start, end in ((None, None), (None, date(2026, 3, 1))):
        sql = learners_at_risk.build_sql(QueryContext("db", "section", start, end))
        assert " AS at_risk" not in sql and " AS reasons" not in sql and "arrayStringConcat" not in sql
    assert CATEGORIES["learners_at_risk"].present is learners_at_risk.present


def test_the_table_lists_flagged_learners_with_their_reasons():
    rows = [_row(1, 0, False), _row(0, 0, False), _row(0, 1, True)]
    presented = learners_at_risk.present(rows, orjson.loads(orjson.dumps(learners_at_risk.CATEGORY.spec)))
    assert [row["reasons"] for row in presented.rows] == ["inactive 7+ days", "", "low recent activity, low scores"]
    assert [row["reasons"] for row in presented.extra["table"]["rows"]] == [
        "inactive 7+ days",
        "low recent activity, low scores",
    ]
    assert presented.columns == learners_at_risk.COLUMNS
    assert learners_at_risk.present([], {}).columns is None  # an empty answer names no columns, as before
