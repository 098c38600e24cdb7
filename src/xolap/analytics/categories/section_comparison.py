"""Section-comparison category (project scope only): learners, events, average score and page completion per section."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, distinct_learners, events

MAX_SECTIONS = 100


def build_sql(ctx: QueryContext) -> str:
    return f"""SELECT
    concat('Section ', toString(section_id)) AS section,
    section_id,
    learners,
    events,
    round(avg_score * 100, 1) AS avg_score_pct,
    round(completed_views / nullIf(page_views, 0) * 100, 1) AS page_completion_pct
FROM (
    SELECT
        assumeNotNull(section_id) AS section_id,
        {distinct_learners()} AS learners,
        count() AS events,
        avgIf(scaled_score, event_type = 'activity_attempt') AS avg_score,
        countIf(event_type = 'page_viewed') AS page_views,
        countIf(event_type = 'page_viewed' AND completion) AS completed_views
    FROM {events(ctx)} AS e
    WHERE section_id IS NOT NULL{date_filter(ctx)}
    GROUP BY section_id
)
ORDER BY events DESC, section_id
LIMIT {MAX_SECTIONS}"""


_METRIC_TOOLTIP = [
    {"field": "section", "title": "Section"},
    {"field": "learners", "type": "quantitative", "title": "Learners"},
    {"field": "events", "type": "quantitative", "title": "Events"},
    {"field": "avg_score_pct", "type": "quantitative", "title": "Average score %"},
    {"field": "page_completion_pct", "type": "quantitative", "title": "Page completion %"},
]

CATEGORY = Category(
    key="section_comparison",
    title="Sections compared",
    description=f"Per section of the project (up to {MAX_SECTIONS}, busiest first): distinct learners, events, average "
    "activity score and the share of page views marked completed.",
    chart_explanation="Left: learners per section. Right: average score (circles) and page completion (squares) per "
    "section, both in percent, so sections can be compared on the same scale.",
    build_sql=build_sql,
    scopes=("project",),
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Sections of this project",
        "hconcat": [
            {
                "width": 240,
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": {"field": "section", "type": "nominal", "title": "Section", "sort": "-x"},
                    "x": {"field": "learners", "type": "quantitative", "title": "Learners"},
                    "tooltip": _METRIC_TOOLTIP,
                },
            },
            {
                "width": 240,
                "transform": [
                    {"fold": ["avg_score_pct", "page_completion_pct"], "as": ["metric_field", "value"]},
                    {"calculate": "datum.metric_field == 'avg_score_pct' ? 'Average score' : 'Page completion'",
                     "as": "metric"},
                ],
                "mark": {"type": "point", "filled": True, "tooltip": True},
                "encoding": {
                    "y": {"field": "section", "type": "nominal", "title": None,
                          "sort": {"field": "learners", "op": "max", "order": "descending"}},
                    "x": {"field": "value", "type": "quantitative", "title": "%", "scale": {"domain": [0, 100]}},
                    "color": {"field": "metric", "type": "nominal", "title": "Metric"},
                    "shape": {"field": "metric", "type": "nominal"},
                    "tooltip": _METRIC_TOOLTIP,
                },
            },
        ],
    },
)
