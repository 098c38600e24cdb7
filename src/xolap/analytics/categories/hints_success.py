"""Hints vs success category: success rate and average score of question (part) attempts by hints requested."""

from __future__ import annotations

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.spec_parts import CONTAINER, SCHEMA, percent, tip_count, tip_percent
from xolap.analytics.categories.sql import date_filter, day_filter, events, score_fraction

MAX_HINT_GROUP = 3


_OUTER = f"""SELECT
    hints,
    if(hints = {MAX_HINT_GROUP}, '{MAX_HINT_GROUP}+', toString(hints)) AS hints_label,
    attempts,
    round(successes / attempts * 100, 1) AS success_rate_pct,
    round(avg_score * 100, 1) AS avg_score_pct
FROM ("""


def build_sql(ctx: QueryContext) -> str:
    """From the part-attempt rollup (xolap.analytics.rollups), in one SQL level: counts exact as raw_sql; the average
    score sums the same held scores in another order (equal up to float rounding)."""
    return f"""SELECT
    least(r.hints, {MAX_HINT_GROUP}) AS hints,
    if(hints = {MAX_HINT_GROUP}, '{MAX_HINT_GROUP}+', toString(hints)) AS hints_label,
    sum(r.attempts) AS attempts,
    round(sum(r.successes) / attempts * 100, 1) AS success_rate_pct,
    round(if(sum(r.scored) = 0, NULL, sum(r.score_sum) / sum(r.scored)) * 100, 1) AS avg_score_pct
FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_part_attempts")}{day_filter(ctx)}
GROUP BY hints
ORDER BY hints"""


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    return f"""{_OUTER}
    SELECT
        least(ifNull(hints_requested, 0), {MAX_HINT_GROUP}) AS hints,
        count() AS attempts,
        countIf(success) AS successes,
        avg({score_fraction()}) AS avg_score
    FROM {events(ctx)} AS e
    WHERE event_type = 'part_attempt'{date_filter(ctx)}
    GROUP BY hints
)
ORDER BY hints"""


CATEGORY = Category(
    key="hints_success",
    title="Hints and success",
    description=f"Evaluated question attempts (part attempts) grouped by hints requested (0, 1, 2, {MAX_HINT_GROUP}+): "
    "attempts, success rate and average scaled score.",
    chart_explanation="Bars show the success rate for each number of hints; the line shows the average score. "
    "Hover for the number of attempts behind each bar.",
    build_sql=build_sql,
    spec={
        "$schema": SCHEMA,
        "title": "Success by hints requested",
        "width": CONTAINER,
        "encoding": {
            "x": {
                "field": "hints_label",
                "type": "ordinal",
                "title": "Hints requested",
                "sort": [str(hints) for hints in range(MAX_HINT_GROUP)] + [f"{MAX_HINT_GROUP}+"],
            },
        },
        "layer": [
            {
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": percent("success_rate_pct", "Success rate / average score (%)"),
                    "tooltip": [
                        {"field": "hints_label", "title": "Hints"},
                        tip_count("attempts", "Question attempts"),
                        tip_percent("success_rate_pct", "Success"),
                        tip_percent("avg_score_pct", "Average score"),
                    ],
                },
            },
            {
                "mark": {"type": "line", "point": True, "color": "#d62728"},
                "encoding": {"y": percent("avg_score_pct", "Success rate / average score (%)")},
            },
        ],
    },
)
