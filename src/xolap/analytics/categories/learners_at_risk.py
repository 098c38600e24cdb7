"""Learners-at-risk category: learners inactive lately, far less active than their peers, or scoring low.

The reference day is the end of the date range when one is given, else the scope's latest active day (so a finished
course is judged at its end, not today). Learner ids are shown as stored (pseudonymous LMS ids); they are returned
to the dashboard only and never logged.
"""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import END_PARAMETER, date_filter, events

RECENT_DAYS = 14
INACTIVE_DAYS = 7
LOW_ACTIVITY_SHARE = 0.25
LOW_SCORE_PCT = 50
MIN_SCORED_ATTEMPTS = 3
MAX_LEARNERS = 100


def build_sql(ctx: QueryContext) -> str:
    if ctx.end is not None:
        reference = f"{{{END_PARAMETER}:Date}}"
    else:
        reference = f"(SELECT toDate(max(timestamp)) FROM {events(ctx)} AS r WHERE 1 = 1{date_filter(ctx)})"
    scored = "event_type = 'activity_attempt' AND scaled_score IS NOT NULL"
    return f"""SELECT
    learner, at_risk, reasons, events, recent_events, last_active, days_inactive, scored_attempts, avg_score_pct
FROM (
    SELECT *,
        toBool(inactive OR low_activity OR low_scores) AS at_risk,
        arrayStringConcat(arrayFilter(x -> x != '', [
            if(inactive, 'inactive {INACTIVE_DAYS}+ days', ''),
            if(low_activity, 'low recent activity', ''),
            if(low_scores, 'low scores', '')]), ', ') AS reasons,
        toUInt8(inactive) + toUInt8(low_activity) + toUInt8(low_scores) AS risk_count
    FROM (
        SELECT *,
            days_inactive >= {INACTIVE_DAYS} AS inactive,
            recent_events < {LOW_ACTIVITY_SHARE} * quantileExact(0.5)(recent_events) OVER () AS low_activity,
            ifNull(scored_attempts >= {MIN_SCORED_ATTEMPTS} AND avg_score_pct < {LOW_SCORE_PCT}, false) AS low_scores
        FROM (
            WITH {reference} AS ref_day
            SELECT
                assumeNotNull(user_id) AS learner,
                count() AS events,
                countIf(toDate(timestamp) > ref_day - {RECENT_DAYS}) AS recent_events,
                toDate(max(timestamp)) AS last_active,
                toInt32(dateDiff('day', last_active, ref_day)) AS days_inactive,
                countIf({scored}) AS scored_attempts,
                round(sumIf(assumeNotNull(scaled_score), {scored}) / nullIf(scored_attempts, 0) * 100, 1) AS avg_score_pct
            FROM {events(ctx)} AS e
            WHERE user_id IS NOT NULL{date_filter(ctx)}
            GROUP BY learner
        )
    )
)
ORDER BY risk_count DESC, days_inactive DESC, recent_events, learner
LIMIT {MAX_LEARNERS}"""


CATEGORY = Category(
    key="learners_at_risk",
    title="Learners at risk",
    description=f"Learners flagged when inactive for {INACTIVE_DAYS}+ days, when their events in the last "
    f"{RECENT_DAYS} days are under {int(LOW_ACTIVITY_SHARE * 100)}% of the median learner's, or when their average "
    f"activity score is under {LOW_SCORE_PCT}% over {MIN_SCORED_ATTEMPTS}+ scored attempts. Days are counted back "
    f"from the end date, or from the last day with activity. Up to {MAX_LEARNERS} learners, most at risk first.",
    chart_explanation="One point per flagged learner (pseudonymous id): further right means longer since their last "
    "activity, lower means fewer events in the last two weeks; the colour says why they were flagged. Hover for the "
    "learner id and average score.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Learners at risk",
        "width": 420,
        "height": 280,
        "transform": [{"filter": "datum.at_risk"}],
        "mark": {"type": "circle", "size": 80, "opacity": 0.8, "tooltip": True},
        "encoding": {
            "x": {"field": "days_inactive", "type": "quantitative", "title": "Days since last activity"},
            "y": {"field": "recent_events", "type": "quantitative", "title": f"Events in the last {RECENT_DAYS} days"},
            "color": {"field": "reasons", "type": "nominal", "title": "Flagged for"},
            "tooltip": [
                {"field": "learner", "title": "Learner"},
                {"field": "reasons", "title": "Flagged for"},
                {"field": "days_inactive", "type": "quantitative", "title": "Days inactive"},
                {"field": "recent_events", "type": "quantitative", "title": f"Events, last {RECENT_DAYS} days"},
                {"field": "avg_score_pct", "type": "quantitative", "title": "Average score %"},
            ],
        },
    },
)
