"""Section-comparison category (project scope only): learners, events, average score and page completion per section."""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.spec_parts import (
    NAME_LEGEND,
    SCHEMA,
    count,
    label_axis,
    percent,
    tip_count,
    tip_percent,
    tip_text,
)
from xolap.analytics.categories.sql import date_filter, day_filter, distinct_learners, events, score_fraction
from xolap.analytics.labels import short_names, unique_labels

MAX_SECTIONS = 100
CONCAT_WIDTH = 220  # each part of the hconcat; concatenated views cannot be sized to a container


_OUTER = """SELECT
    concat('Section ', toString(section_id)) AS section,
    section_id,
    learners,
    events,
    round(avg_score * 100, 1) AS avg_score_pct,
    round(completed_views / nullIf(page_views, 0) * 100, 1) AS page_completion_pct
FROM ("""


_ACTIVITY = "r.event_type = 'activity_attempt'"
_SUMS = f"""sum(r.events) AS events,
        if(sumIf(r.scored, {_ACTIVITY}) = 0, NULL, sumIf(r.score_sum, {_ACTIVITY}) / sumIf(r.scored, {_ACTIVITY}))
            AS avg_score,
        sumIf(r.events, r.event_type = 'page_viewed') AS page_views,
        sumIf(r.completed, r.event_type = 'page_viewed') AS completed_views"""
_ORDER = f"""ORDER BY events DESC, section_id
LIMIT {MAX_SECTIONS}"""


def build_sql(ctx: QueryContext) -> str:
    """From the rollups (xolap.analytics.rollups): learners merged exactly from their states, counts exact as raw_sql;
    the average score sums the same held scores in another order. With dates, everything from the daily rows in
    range. Without dates, the learners from the whole-slice rows (one state per section and event type) and only the
    sums from the daily rows, joined per section: merging a state per section, day and type was most of the answer
    (the largest 5M project: 40k daily rows, 29.5 -> 16-18 ms CPU, same process, interleaved)."""
    daily = rollups.rollup_read(ctx.database, ctx.scope, "rollup_events_daily")
    if ctx.start is not None or ctx.end is not None:
        return f"""{_OUTER}
    SELECT
        assumeNotNull(r.section_id) AS section_id,
        {rollups.merged_learners("r")} AS learners,
        {_SUMS}
    FROM {daily}
    AND r.section_id IS NOT NULL{day_filter(ctx)}
    GROUP BY section_id
)
{_ORDER}"""
    totals = rollups.rollup_read(ctx.database, ctx.scope, "rollup_events_slice", "s")
    return f"""{_OUTER}
    SELECT assumeNotNull(r.section_id) AS section_id, {_SUMS}
    FROM {daily}
    AND r.section_id IS NOT NULL
    GROUP BY section_id
) AS d
LEFT JOIN (
    SELECT assumeNotNull(s.section_id) AS section_id, {rollups.merged_learners("s")} AS learners
    FROM {totals}
    AND s.section_id IS NOT NULL
    GROUP BY section_id
) AS l USING (section_id)
{_ORDER}"""


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    return f"""{_OUTER}
    SELECT
        assumeNotNull(section_id) AS section_id,
        {distinct_learners()} AS learners,
        count() AS events,
        avgIf({score_fraction()}, event_type = 'activity_attempt') AS avg_score,
        countIf(event_type = 'page_viewed') AS page_views,
        countIf(event_type = 'page_viewed' AND completion) AS completed_views
    FROM {events(ctx)} AS e
    WHERE e.section_id IS NOT NULL{date_filter(ctx)}
    GROUP BY section_id
)
ORDER BY events DESC, section_id
LIMIT {MAX_SECTIONS}"""


_METRIC_TOOLTIP = [
    tip_text("section", "Section"),
    tip_count("learners", "Learners"),
    tip_count("events", "Events"),
    tip_percent("avg_score_pct", "Average score"),
    tip_percent("page_completion_pct", "Page completion"),
]


def label_sections(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`section_label`: the section names without the start they all share ("Probability and Statistics — Spring
    2026 (Section 02)" → "Section 02"), shortened and unique per section id. Call again after renaming sections."""
    names = [str(row.get("section") or f"Section {row['section_id']}") for row in rows]
    short = dict(zip((row["section_id"] for row in rows), short_names(names), strict=False))
    labels = unique_labels((row["section_id"], short[row["section_id"]], f"#{row['section_id']}") for row in rows)
    return [{**row, "section_label": labels[row["section_id"]]} for row in rows]


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    return Presented(label_sections(rows), spec)


CATEGORY = Category(
    key="section_comparison",
    title="Sections compared",
    description=f"Per section of the project (up to {MAX_SECTIONS}, busiest first): distinct learners, events, average "
    "activity score and the share of page views marked completed. Sections are named without the words every "
    "section's name starts with.",
    # side by side on a wide screen, one above the other on a phone (the page stacks them): no "left" or "right"
    chart_explanation="Bars: learners per section. Circles and squares: average score and page completion per "
    "section, both in percent, so sections can be compared on the same scale.",
    build_sql=build_sql,
    scopes=("project",),
    present=present,
    spec={
        "$schema": SCHEMA,
        "title": "Sections of this project",
        "hconcat": [
            {
                "width": CONCAT_WIDTH,
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": label_axis("section_label", "Section", sort="-x"),
                    "x": count("learners", "Learners"),
                    "tooltip": _METRIC_TOOLTIP,
                },
            },
            {
                "width": CONCAT_WIDTH,
                "transform": [
                    {"fold": ["avg_score_pct", "page_completion_pct"], "as": ["metric_field", "value"]},
                    {
                        "calculate": "datum.metric_field == 'avg_score_pct' ? 'Average score' : 'Page completion'",
                        "as": "metric",
                    },
                ],
                "mark": {"type": "point", "filled": True, "tooltip": True},
                "encoding": {
                    "y": label_axis(
                        "section_label", None, sort={"field": "learners", "op": "max", "order": "descending"}
                    ),
                    "x": percent("value", "Percent"),
                    "color": {"field": "metric", "type": "nominal", "title": "Measure", "legend": NAME_LEGEND},
                    "shape": {"field": "metric", "type": "nominal"},
                    "tooltip": _METRIC_TOOLTIP,
                },
            },
        ],
    },
)
