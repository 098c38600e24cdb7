"""Hints vs success category: success rate and average score of part attempts by number of hints requested."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, events

MAX_HINT_GROUP = 3


def build_sql(ctx: QueryContext) -> str:
    return f"""SELECT
    hints,
    if(hints = {MAX_HINT_GROUP}, '{MAX_HINT_GROUP}+', toString(hints)) AS hints_label,
    attempts,
    round(successes / attempts * 100, 1) AS success_rate_pct,
    round(avg_score * 100, 1) AS avg_score_pct
FROM (
    SELECT
        least(ifNull(hints_requested, 0), {MAX_HINT_GROUP}) AS hints,
        count() AS attempts,
        countIf(success) AS successes,
        avg(scaled_score) AS avg_score
    FROM {events(ctx)} AS e
    WHERE event_type = 'part_attempt'{date_filter(ctx)}
    GROUP BY hints
)
ORDER BY hints"""


CATEGORY = Category(
    key="hints_success",
    title="Hints and success",
    description=f"Evaluated part attempts grouped by hints requested (0, 1, 2, {MAX_HINT_GROUP}+): attempts, success "
    "rate and average scaled score.",
    chart_explanation="Bars show the success rate for each number of hints; the line shows the average score. "
    "Hover for the number of attempts behind each bar.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Success by hints requested",
        "width": 360,
        "encoding": {
            "x": {"field": "hints_label", "type": "ordinal", "title": "Hints requested", "sort": {"field": "hints"}},
        },
        "layer": [
            {
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": {"field": "success_rate_pct", "type": "quantitative", "title": "Success rate / avg score (%)",
                          "scale": {"domain": [0, 100]}},
                    "tooltip": [
                        {"field": "hints_label", "title": "Hints"},
                        {"field": "attempts", "type": "quantitative", "title": "Attempts"},
                        {"field": "success_rate_pct", "type": "quantitative", "title": "Success %"},
                        {"field": "avg_score_pct", "type": "quantitative", "title": "Average score %"},
                    ],
                },
            },
            {
                "mark": {"type": "line", "point": True, "color": "#d62728"},
                "encoding": {"y": {"field": "avg_score_pct", "type": "quantitative"}},
            },
        ],
    },
)
