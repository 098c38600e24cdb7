"""Assessment category: attempts, learners, average score and success rate per activity (activity attempts)."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, distinct_learners, events, title_or, titles


def build_sql(ctx: QueryContext) -> str:
    return f"""SELECT
    {title_or("concat('Activity ', toString(a.activity_id))")} AS activity_title,
    a.activity_id AS activity_id,
    a.attempts AS attempts,
    a.learners AS learners,
    round(a.avg_score * 100, 1) AS avg_score_pct,
    round(a.successes / a.attempts * 100, 1) AS success_rate_pct
FROM (
    SELECT
        ifNull(project_id, 0) AS project_id,
        assumeNotNull(activity_id) AS activity_id,
        count() AS attempts,
        {distinct_learners()} AS learners,
        avg(scaled_score) AS avg_score,
        countIf(success) AS successes
    FROM {events(ctx)} AS e
    WHERE event_type = 'activity_attempt' AND activity_id IS NOT NULL{date_filter(ctx)}
    GROUP BY project_id, activity_id
) AS a
LEFT JOIN {titles(ctx, 'activity')} AS t ON t.project_id = a.project_id AND t.content_id = toString(a.activity_id)
ORDER BY a.attempts DESC, a.activity_id
LIMIT 20"""


CATEGORY = Category(
    key="assessment",
    title="Assessment results",
    description="Per activity (evaluated activity attempts): attempts, distinct learners, average scaled score and "
    "success rate. Top 20 activities by attempts.",
    chart_explanation="Each bubble is an activity (top 10 by attempts): further right means higher average score, "
    "higher up means a larger share of successful attempts, and bigger bubbles had more attempts.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Activities: average score vs success rate",
        "width": 480,
        "height": 320,
        "transform": [{"window": [{"op": "row_number", "as": "rank"}]}, {"filter": "datum.rank <= 10"}],
        "mark": {"type": "circle", "opacity": 0.7, "tooltip": True},
        "encoding": {
            "x": {"field": "avg_score_pct", "type": "quantitative", "title": "Average score (%)",
                  "scale": {"domain": [0, 100]}},
            "y": {"field": "success_rate_pct", "type": "quantitative", "title": "Success rate (%)",
                  "scale": {"domain": [0, 100]}},
            "size": {"field": "attempts", "type": "quantitative", "title": "Attempts"},
            "color": {"field": "activity_title", "type": "nominal", "title": "Activity"},
            "tooltip": [
                {"field": "activity_title", "title": "Activity"},
                {"field": "attempts", "type": "quantitative", "title": "Attempts"},
                {"field": "learners", "type": "quantitative", "title": "Learners"},
                {"field": "avg_score_pct", "type": "quantitative", "title": "Average score %"},
                {"field": "success_rate_pct", "type": "quantitative", "title": "Success %"},
            ],
        },
    },
)
