"""Hints vs success category: success rate and average score of question (part) attempts by hints requested."""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.spec_parts import CONTAINER, SCHEMA, percent, tip_count, tip_percent
from xolap.analytics.categories.sql import date_filter, day_filter, events, score_fraction

MAX_HINT_GROUP = 3
COLUMNS = ["hints", "hints_label", "attempts", "success_rate_pct", "avg_score_pct"]


_OUTER = f"""SELECT
    hints,
    if(hints = {MAX_HINT_GROUP}, '{MAX_HINT_GROUP}+', toString(hints)) AS hints_label,
    attempts,
    round(successes / attempts * 100, 1) AS success_rate_pct,
    round(avg_score * 100, 1) AS avg_score_pct
FROM ("""


def build_sql(ctx: QueryContext) -> str:
    """From the part-attempt rollup (xolap.analytics.rollups), in one SQL level: counts exact as raw_sql; the average
    score sums the same held scores in another order (equal up to float rounding). `present` adds the labels."""
    return f"""SELECT
    least(r.hints, {MAX_HINT_GROUP}) AS hints,
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


def hints_label(hints: int) -> str:
    """A hint group's words as raw_sql spells them: '0', '1', '2', '3+'."""
    return f"{MAX_HINT_GROUP}+" if hints == MAX_HINT_GROUP else str(hints)


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Each hint group with its label after the number (the columns and order raw_sql gives)."""
    labelled = [
        {
            "hints": row["hints"],
            "hints_label": hints_label(row["hints"]),
            "attempts": row["attempts"],
            "success_rate_pct": row["success_rate_pct"],
            "avg_score_pct": row["avg_score_pct"],
        }
        for row in rows
    ]
    return Presented(labelled, spec, columns=COLUMNS if labelled else None)  # no rows: no columns, as the SQL gives


CATEGORY = Category(
    key="hints_success",
    title="Hints and success",
    description=f"Evaluated question attempts (part attempts) grouped by hints requested (0, 1, 2, {MAX_HINT_GROUP}+): "
    "attempts, success rate and average scaled score.",
    chart_explanation="Bars show the success rate for each number of hints; the line shows the average score. "
    "Hover for the number of attempts behind each bar.",
    build_sql=build_sql,
    present=present,
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
