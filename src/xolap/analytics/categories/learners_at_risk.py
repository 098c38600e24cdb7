"""Learners-at-risk category: learners inactive lately, far less active than their peers, or scoring low.

The reference day is the end of the date range when one is given, else the scope's latest active day (so a finished
course is judged at its end, not today). Learner ids are shown as stored (pseudonymous LMS ids); they are returned
to the dashboard only and never logged.
"""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.clickhouse_math import divide, round_float
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.spec_parts import (
    CONTAINER,
    SCHEMA,
    band_height,
    count,
    label_axis,
    tip_count,
    tip_text,
)
from xolap.analytics.categories.sql import (
    END_PARAMETER,
    REFERENCE_DAY_PARAMETER,
    date_filter,
    day_filter,
    events,
    score_fraction,
)

RECENT_DAYS = 14
INACTIVE_DAYS = 7
LOW_ACTIVITY_SHARE = 0.25
LOW_SCORE_PCT = 50
MIN_SCORED_ATTEMPTS = 3
MAX_LEARNERS = 100


def build_sql(ctx: QueryContext) -> str:
    """Per-learner facts from the learner rollup (xolap.analytics.rollups, migration 0014), the reference day from the
    daily rollup (a parameter: xolap.analytics.reference_day); counts and days exact as raw_sql, the average score sums the same held scores in another order.
    Without dates: each learner's whole-slice totals (whole = 1) and the daily rows of the last RECENT_DAYS days only
    (the key starts with whole, day, so the rest of the scope's learner-days is never read); with dates: the daily rows
    in range."""
    reference, parts = _rollup_parts(ctx)
    return _flag(reference, **parts)


def unranked_sql(ctx: QueryContext) -> str:
    """build_sql's per-learner facts (the same reads and aggregates) without its flags, median window, order and limit,
    which `rank` adds in Python for a scope with few learners (their analysis was ~3.5 ms of a small scope's ~10 ms
    answer, docs/rollups.md): one row per learner, by learner, with score_sum in place of avg_score_pct."""
    reference, parts = _rollup_parts(ctx)
    return f"""WITH {reference} AS ref_day
SELECT
    {parts["learner"]} AS learner,
    {parts["events"]} AS events,
    {parts["recent_events"]} AS recent_events,
    {parts["last_active"]} AS last_active,
    toInt32(dateDiff('day', last_active, ref_day)) AS days_inactive,
    {parts["scored_attempts"]} AS scored_attempts,
    {parts["score_sum"]} AS score_sum
FROM {parts["source"]}
GROUP BY learner
ORDER BY learner"""


def _rollup_parts(ctx: QueryContext) -> tuple[str, dict[str, str]]:
    """The reference day and the per-learner aggregates and source build_sql and unranked_sql read."""
    if ctx.end is not None:
        reference = f"{{{END_PARAMETER}:Date32}}"
    else:  # the scope's latest day, computed once per set of builds (no scalar subquery to plan on every answer)
        reference = f"{{{REFERENCE_DAY_PARAMETER}:Date32}}"
    learners = rollups.rollup_read(ctx.database, ctx.scope, "rollup_learners", "l")
    if ctx.start is None and ctx.end is None:
        return reference, {
            "learner": "l.user_id",
            "events": "sumIf(l.events, l.whole = 1)",
            "recent_events": "sumIf(l.events, l.whole = 0)",
            "last_active": "max(l.last_day)",
            "scored_attempts": "sumIf(l.scored, l.whole = 1)",
            "score_sum": "sumIf(l.score_sum, l.whole = 1)",
            "source": f"{learners} AND (l.whole = 1 OR l.day > ref_day - {RECENT_DAYS})",
        }
    return reference, {
        "learner": "l.user_id",
        "events": "sum(l.events)",
        "recent_events": f"sumIf(l.events, l.day > ref_day - {RECENT_DAYS})",
        "last_active": "max(l.day)",
        "scored_attempts": "sum(l.scored)",
        "score_sum": "sum(l.score_sum)",
        "source": f"{learners} AND l.whole = 0{day_filter(ctx, 'l.day')}",
    }


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    if ctx.end is not None:
        reference = f"{{{END_PARAMETER}:Date32}}"
    else:
        reference = f"(SELECT toDate32(max(timestamp)) FROM {events(ctx)} AS r WHERE 1 = 1{date_filter(ctx)})"
    scored = "event_type = 'activity_attempt' AND scaled_score IS NOT NULL"
    return _flag(
        reference,
        learner="assumeNotNull(user_id)",
        events="count()",
        recent_events=f"countIf(toDate32(timestamp) > ref_day - {RECENT_DAYS})",
        last_active="toDate32(max(timestamp))",
        scored_attempts=f"countIf({scored})",
        score_sum=f"sumIf({score_fraction('assumeNotNull(scaled_score)')}, {scored})",
        source=f"{events(ctx)} AS e WHERE user_id IS NOT NULL{date_filter(ctx)}",
    )


def _flag(reference: str, *, learner: str, source: str, **aggregates: str) -> str:
    """One row per learner (the `aggregates` events, recent_events, last_active, scored_attempts and score_sum over
    `source`, a FROM clause's table and WHERE) with the three flags, most at risk first; at_risk and the reasons are
    words over the flags, added by `present` (flagged). One SELECT level: the query's analysis, not its rows, is most
    of a small scope's answer (each nested SELECT * level cost ~1.5 ms of planning, measured), so the flags are
    computed beside the aggregates (the median over a window); each further expression over them was planned again
    (at_risk and reasons: ~1.5-2 ms of analysis on every answer)."""
    return f"""WITH {reference} AS ref_day
SELECT
    {learner} AS learner,
    {aggregates["events"]} AS events,
    {aggregates["recent_events"]} AS recent_events,
    {aggregates["last_active"]} AS last_active,
    toInt32(dateDiff('day', last_active, ref_day)) AS days_inactive,
    {aggregates["scored_attempts"]} AS scored_attempts,
    round({aggregates["score_sum"]} / nullIf(scored_attempts, 0) * 100, 1) AS avg_score_pct,
    days_inactive >= {INACTIVE_DAYS} AS inactive,
    recent_events < {LOW_ACTIVITY_SHARE} * quantileExact(0.5)(recent_events) OVER () AS low_activity,
    ifNull(scored_attempts >= {MIN_SCORED_ATTEMPTS} AND avg_score_pct < {LOW_SCORE_PCT}, false) AS low_scores
FROM {source}
GROUP BY learner
ORDER BY toUInt8(inactive) + toUInt8(low_activity) + toUInt8(low_scores) DESC, days_inactive DESC, recent_events, learner
LIMIT {MAX_LEARNERS}"""


REASON_WORDS = {
    "inactive": f"Inactive {INACTIVE_DAYS}+ days",
    "low_activity": "Low recent activity",
    "low_scores": "Low scores",
}

# The sortable table the dashboard shows (category JSON `table`): one column per entry, `type` says how to format
# and sort it (text, date, count, percent); rows are the flagged learners, most at risk first.
TABLE_COLUMNS = [
    {"field": "learner", "title": "Learner", "type": "text"},
    {"field": "last_active", "title": "Last active", "type": "date"},
    {"field": "days_inactive", "title": "Days inactive", "type": "count"},
    {"field": "recent_events", "title": f"Events in {RECENT_DAYS} days", "type": "count"},
    {"field": "avg_score_pct", "title": "Average score (%)", "type": "percent"},
    {"field": "reasons", "title": "Flagged for", "type": "text"},
]


# The rows' fields in order: the learner, whether flagged and why (words over the three flags: flagged), the SQL's facts.
COLUMNS = [
    "learner",
    "at_risk",
    "reasons",
    "events",
    "recent_events",
    "last_active",
    "days_inactive",
    "scored_attempts",
    "avg_score_pct",
    "inactive",
    "low_activity",
    "low_scores",
]
REASON_TEXTS = {
    "inactive": f"inactive {INACTIVE_DAYS}+ days",
    "low_activity": "low recent activity",
    "low_scores": "low scores",
}


def flagged(row: dict[str, Any]) -> dict[str, Any]:
    """One learner's row (the SQL's columns) with at_risk (any flag) and reasons (the flags' words, ', '-joined, in
    REASON_TEXTS order), fields in COLUMNS order."""
    reasons = [text for flag, text in REASON_TEXTS.items() if row[flag]]
    marked = {"learner": row["learner"], "at_risk": bool(reasons), "reasons": ", ".join(reasons)}
    marked.update((name, row[name]) for name in COLUMNS[3:])
    return marked


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """unranked_sql's rows (one per learner, by learner) as build_sql gives them: avg_score_pct (clickhouse_math: round and divide as the SQL's),
    the three flags (0/1, as the SQL's UInt8), the median of recent
    events as quantileExact(0.5) takes it (the element at index n // 2 of the sorted values, the upper middle one), most
    at risk first (flags, then days inactive, descending; recent events; the learner, the rows' own order) and at most
    MAX_LEARNERS."""
    recent = sorted(row["recent_events"] for row in rows)
    threshold = LOW_ACTIVITY_SHARE * recent[int(0.5 * len(recent))] if recent else 0.0
    ranked = []
    for row in rows:
        scored = row["scored_attempts"]
        average = None if scored == 0 else round_float(divide(row["score_sum"], scored) * 100, 1)
        ranked.append(
            {
                "learner": row["learner"],
                "events": row["events"],
                "recent_events": row["recent_events"],
                "last_active": row["last_active"],
                "days_inactive": row["days_inactive"],
                "scored_attempts": scored,
                "avg_score_pct": average,
                "inactive": int(row["days_inactive"] >= INACTIVE_DAYS),
                "low_activity": int(row["recent_events"] < threshold),
                "low_scores": int(scored >= MIN_SCORED_ATTEMPTS and average is not None and average < LOW_SCORE_PCT),
            }
        )
    ranked.sort(  # stable: learners tied on every key keep the rows' order, by learner as ClickHouse compares them
        key=lambda row: (
            -(row["inactive"] + row["low_activity"] + row["low_scores"]),
            -row["days_inactive"],
            row["recent_events"],
        )
    )
    return ranked[:MAX_LEARNERS]


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """The learners with at_risk and reasons (flagged); the flagged ones as a sortable table (JSON `table`); the chart
    counts flagged learners per reason."""
    rows = [flagged(row) for row in rows]
    flagged_rows = [
        {column["field"]: row[column["field"]] for column in TABLE_COLUMNS} for row in rows if row["at_risk"]
    ]
    table = {
        "columns": TABLE_COLUMNS,
        "rows": flagged_rows,
        "sort": {"field": "days_inactive", "order": "descending"},
        "export": "csv",
        # what the page shows in the table's and the chart's place when no learner returned is flagged
        "empty": f"No learner is flagged: none inactive {INACTIVE_DAYS}+ days, under "
        f"{int(LOW_ACTIVITY_SHARE * 100)}% of the median learner's recent events, or under {LOW_SCORE_PCT}% "
        f"average score over {MIN_SCORED_ATTEMPTS}+ scored attempts.",
    }
    spec["height"] = band_height(sum(any(row[key] for row in rows if row["at_risk"]) for key in REASON_WORDS))
    # the columns as the SQL named them before at_risk and reasons moved here: none for an empty answer
    return Presented(rows, spec, {"table": table}, columns=COLUMNS if rows else None)


CATEGORY = Category(
    key="learners_at_risk",
    title="Learners at risk",
    description=f"Learners flagged when inactive for {INACTIVE_DAYS}+ days, when their events in the last "
    f"{RECENT_DAYS} days are under {int(LOW_ACTIVITY_SHARE * 100)}% of the median learner's, or when their average "
    f"activity score is under {LOW_SCORE_PCT}% over {MIN_SCORED_ATTEMPTS}+ scored attempts. Days are counted back "
    f"from the end date, or from the last day with activity. Up to {MAX_LEARNERS} learners, most at risk first; the "
    "table lists the flagged ones (learner, last active, events in the last "
    f"{RECENT_DAYS} days, average score, reasons) and sorts by any column; CSV export has every learner returned.",
    chart_explanation="Each bar counts the flagged learners with that reason (a learner can have several). The "
    "table below lists them; click a column heading to sort.",
    build_sql=build_sql,
    present=present,
    unranked_sql=unranked_sql,
    rank=rank,
    spec={
        "$schema": SCHEMA,
        "title": "Why learners were flagged",
        "width": CONTAINER,
        "transform": [
            {"filter": "datum.at_risk"},
            {"fold": list(REASON_WORDS), "as": ["reason_key", "flagged"]},
            {"filter": "datum.flagged"},
            {
                "calculate": " : ".join(
                    f"datum.reason_key == '{key}' ? '{words}'" for key, words in REASON_WORDS.items()
                )
                + " : 'Other'",
                "as": "reason",
            },
            {"aggregate": [{"op": "count", "as": "learners"}], "groupby": ["reason"]},
        ],
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": label_axis("reason", "Flagged for", sort="-x"),
            "x": count("learners", "Learners"),
            "tooltip": [tip_text("reason", "Flagged for"), tip_count("learners", "Learners")],
        },
    },
)
