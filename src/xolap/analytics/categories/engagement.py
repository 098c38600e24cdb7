"""Engagement category: views, unique viewers and completion per page, plus a period × page heatmap of views.

One scan with GROUPING SETS gives per-page totals (their `day` is the zero date) and per (page, day) counts; window
functions over that small result then spread the page totals, rank the pages and find the overall span, which picks
the heatmap period (day ≤ 25 days, week ≤ 175 days, else month) so that 20 pages × 25 periods stays within 500 cells.
"""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, distinct_learners, events, title_or, titles

TOP_PAGES = 20
MAX_CELLS = 500


def build_sql(ctx: QueryContext) -> str:
    return f"""SELECT
    {title_or("concat('Page ', toString(c.page_id))")} AS page_title,
    c.page_id AS page_id,
    c.period AS period,
    c.granularity AS granularity,
    c.period_views AS period_views,
    c.views AS views,
    c.viewers AS viewers,
    c.completed AS completed,
    round(c.completed / c.views * 100, 1) AS completion_pct
FROM (
    SELECT project_id, page_id, period, any(granularity) AS granularity, sum(day_views) AS period_views,
        any(page_views) AS views, any(page_viewers) AS viewers, any(page_completed) AS completed
    FROM (
        SELECT project_id, page_id, day_views, page_views, page_viewers, page_completed, is_page_total,
            dense_rank() OVER (ORDER BY page_views DESC, project_id, page_id) AS page_rank,
            multiIf(span_days <= 25, 'day', span_days <= 175, 'week', 'month') AS granularity,
            multiIf(span_days <= 25, day, span_days <= 175, toMonday(day), toStartOfMonth(day)) AS period
        FROM (
            SELECT project_id, page_id, day, views AS day_views, is_page_total,
                max(if(is_page_total, views, 0)) OVER page AS page_views,
                max(if(is_page_total, viewers, 0)) OVER page AS page_viewers,
                max(if(is_page_total, completed, 0)) OVER page AS page_completed,
                dateDiff('day', minIf(day, NOT is_page_total) OVER (), maxIf(day, NOT is_page_total) OVER ()) AS span_days
            FROM (
                SELECT
                    ifNull(project_id, 0) AS project_id,
                    assumeNotNull(page_id) AS page_id,
                    toDate(timestamp) AS day,
                    count() AS views,
                    countIf(completion) AS completed,
                    {distinct_learners()} AS viewers,
                    day = toDate(0) AS is_page_total
                FROM {events(ctx)} AS e
                WHERE event_type = 'page_viewed' AND page_id IS NOT NULL{date_filter(ctx)}
                GROUP BY GROUPING SETS ((project_id, page_id), (project_id, page_id, day))
            )
            WINDOW page AS (PARTITION BY project_id, page_id)
        )
    )
    WHERE page_rank <= {TOP_PAGES} AND NOT is_page_total
    GROUP BY project_id, page_id, period
) AS c
LEFT JOIN {titles(ctx, 'page')} AS t ON t.project_id = c.project_id AND t.content_id = toString(c.page_id)
ORDER BY c.views DESC, c.page_id, c.period
LIMIT {MAX_CELLS}"""


_TOOLTIP = [
    {"field": "page_title", "title": "Page"},
    {"field": "views", "type": "quantitative", "title": "Views"},
    {"field": "viewers", "type": "quantitative", "title": "Unique viewers"},
    {"field": "completion_pct", "type": "quantitative", "title": "Completion %"},
]

CATEGORY = Category(
    key="engagement",
    title="Page engagement",
    description="Per page (top 20 by views): page views, unique viewers, completed views and completion rate; and "
    "views per page over time (per day, week or month depending on the span, at most 500 cells). One row per page "
    "and period; the page totals repeat on each row.",
    chart_explanation="Top: one bar per page, its length the number of views, its colour the completion rate. "
    "Bottom: a heatmap with a row per page and a column per period; darker cells had more views.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Page engagement",
        "resolve": {"scale": {"color": "independent"}, "legend": {"color": "independent"}},
        "vconcat": [
            {
                "width": 480,
                "transform": [
                    {"aggregate": [{"op": "max", "field": "views", "as": "views"},
                                   {"op": "max", "field": "viewers", "as": "viewers"},
                                   {"op": "max", "field": "completion_pct", "as": "completion_pct"}],
                     "groupby": ["page_title"]}
                ],
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": {"field": "page_title", "type": "nominal", "sort": "-x", "title": "Page"},
                    "x": {"field": "views", "type": "quantitative", "title": "Views"},
                    "color": {"field": "completion_pct", "type": "quantitative", "title": "Completion %",
                              "scale": {"domain": [0, 100], "scheme": "greens"}},
                    "tooltip": _TOOLTIP,
                },
            },
            {
                "width": 480,
                "mark": {"type": "rect", "tooltip": True},
                "encoding": {
                    "x": {"field": "period", "type": "ordinal", "timeUnit": "yearmonthdate", "title": "Period start"},
                    "y": {"field": "page_title", "type": "nominal", "title": "Page",
                          "sort": {"field": "views", "op": "max", "order": "descending"}},
                    "color": {"field": "period_views", "type": "quantitative", "title": "Views in period",
                              "scale": {"scheme": "blues"}},
                    "tooltip": [
                        {"field": "page_title", "title": "Page"},
                        {"field": "period", "type": "temporal", "title": "Period start"},
                        {"field": "granularity", "title": "Period"},
                        {"field": "period_views", "type": "quantitative", "title": "Views"},
                    ],
                },
            },
        ],
    },
)
