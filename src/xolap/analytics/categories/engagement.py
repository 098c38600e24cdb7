"""Engagement category: views, unique viewers and completion per page, plus a period × page heatmap of views.

One scan with GROUPING SETS gives per-page totals (their `day` is the zero date) and per (page, day) counts; window
functions over that small result then spread the page totals, rank the pages and find the overall span, which picks
the heatmap period (day ≤ 25 days, week ≤ 175 days, else month) so that 20 pages × 25 periods stays within 500 cells.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.periods import PARTIAL_OPACITY, coverage
from xolap.analytics.categories.spec_parts import (
    COUNT_FORMAT,
    DATE_FORMAT,
    LEGEND,
    SCHEMA,
    count,
    label_axis,
    tip_count,
    tip_percent,
    tip_text,
)
from xolap.analytics.categories.sql import (
    END_PARAMETER,
    START_PARAMETER,
    date_filter,
    day_filter,
    distinct_learners,
    events,
    title_or,
    title_project,
    titles,
)
from xolap.analytics.labels import add_labels

TOP_PAGES = 20
MAX_CELLS = 500
CONCAT_WIDTH = 340  # each part of the vconcat; concatenated views cannot be sized to a container


def span_first(ctx: QueryContext) -> str:
    """The charted span's first day: the start date, else the first day with page views."""
    return f"{{{START_PARAMETER}:Date}}" if ctx.start is not None else "c.first_event_day"


def span_last(ctx: QueryContext) -> str:
    """The charted span's last day: the end date, else the last day with page views."""
    return f"{{{END_PARAMETER}:Date}}" if ctx.end is not None else "c.last_event_day"


def build_sql(ctx: QueryContext) -> str:
    """Page totals from the content rollup (whole-slice totals without dates; xolap.analytics.rollups): viewers
    merged exactly from their uniqExact states, views and completed views exact; the title's project is the one with
    most views (raw: anyHeavy, the same when one project has most of them). Per-day views come from the daily rows
    without merging any state (the heatmap needs views only)."""
    totals = rollups.rollup_source(ctx.database, ctx.scope, rollups.daily_or_totals("rollup_content_daily", ctx))
    daily = rollups.rollup_source(ctx.database, ctx.scope, "rollup_content_daily")
    return _chart_sql(
        ctx,
        f"""SELECT
                    ifNull(argMax(c.project_id, c.project_views), 0) AS page_project,
                    toUInt64(c.content_id) AS page_id,
                    toDate(0) AS day,
                    sum(c.project_views) AS views,
                    sum(c.project_completed) AS completed,
                    uniqExactMerge(c.project_viewers) AS viewers,
                    true AS is_page_total
                FROM (
                    SELECT r.content_id AS content_id, r.project_id AS project_id, sum(r.events) AS project_views,
                        sum(r.completed) AS project_completed, uniqExactMergeState(r.learners) AS project_viewers
                    FROM {totals} AS r
                    WHERE r.kind = 'page'{day_filter(ctx)}
                    GROUP BY content_id, project_id
                ) AS c
                GROUP BY c.content_id
                UNION ALL
                SELECT toUInt64(0) AS page_project, toUInt64(d.content_id) AS page_id, d.day AS day,
                    sum(d.events) AS views, toUInt64(0) AS completed, toUInt64(0) AS viewers, false AS is_page_total
                FROM {daily} AS d
                WHERE d.kind = 'page'{day_filter(ctx)}
                GROUP BY page_id, day""",
    )


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    return _chart_sql(
        ctx,
        f"""SELECT
                    {title_project()} AS page_project,
                    assumeNotNull(page_id) AS page_id,
                    toDate(timestamp) AS day,
                    count() AS views,
                    countIf(completion) AS completed,
                    {distinct_learners()} AS viewers,
                    day = toDate(0) AS is_page_total
                FROM {events(ctx)} AS e
                WHERE event_type = 'page_viewed' AND e.page_id IS NOT NULL{date_filter(ctx)}
                GROUP BY GROUPING SETS ((page_id), (page_id, day))""",
    )


def _chart_sql(ctx: QueryContext, per_page_and_day: str) -> str:
    """The chart's rows over per-page totals (day = the zero date, is_page_total) and per (page, day) counts."""
    return f"""SELECT
    {title_or("concat('Page ', toString(c.page_id))")} AS page_title,
    c.page_id AS page_id,
    c.period AS period,
    c.granularity AS granularity,
    c.period_views AS period_views,
    c.views AS views,
    c.viewers AS viewers,
    c.completed AS completed,
    round(c.completed / c.views * 100, 1) AS completion_pct,
    {span_first(ctx)} AS first_day,
    {span_last(ctx)} AS last_day
FROM (
    SELECT page_id, any(title_project) AS title_project, period, any(granularity) AS granularity,
        sum(day_views) AS period_views,
        any(page_views) AS views, any(page_viewers) AS viewers, any(page_completed) AS completed,
        any(first_event_day) AS first_event_day, any(last_event_day) AS last_event_day
    FROM (
        SELECT page_id, title_project, day_views, page_views, page_viewers, page_completed, is_page_total,
            first_event_day, last_event_day,
            dense_rank() OVER (ORDER BY page_views DESC, page_id) AS page_rank,
            multiIf(span_days <= 25, 'day', span_days <= 175, 'week', 'month') AS granularity,
            multiIf(span_days <= 25, day, span_days <= 175, toMonday(day), toStartOfMonth(day)) AS period
        FROM (
            SELECT page_id, day, views AS day_views, is_page_total,
                max(if(is_page_total, page_project, 0)) OVER page AS title_project,
                max(if(is_page_total, views, 0)) OVER page AS page_views,
                max(if(is_page_total, viewers, 0)) OVER page AS page_viewers,
                max(if(is_page_total, completed, 0)) OVER page AS page_completed,
                minIf(day, NOT is_page_total) OVER () AS first_event_day,
                maxIf(day, NOT is_page_total) OVER () AS last_event_day,
                dateDiff('day', first_event_day, last_event_day) AS span_days
            FROM (
                {per_page_and_day}
            )
            WINDOW page AS (PARTITION BY page_id)
        )
    )
    WHERE page_rank <= {TOP_PAGES} AND NOT is_page_total
    GROUP BY page_id, period
) AS c
LEFT JOIN {titles(ctx, "page")} AS t ON t.project_id = c.title_project AND t.content_id = toString(c.page_id)
ORDER BY c.views DESC, c.page_id, c.period
LIMIT {MAX_CELLS}"""


_TOOLTIP = [
    tip_text("page_title", "Page"),
    tip_count("views", "Views"),
    tip_count("viewers", "Unique viewers"),
    tip_percent("completion_pct", "Completion"),
]


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Label each page (one per id) by its title; repeated titles get '· #<id>' after them. Each heatmap cell says
    whether its period lies only partly inside the charted span (xolap.analytics.categories.periods, as the time
    series does); the span's days themselves are not a row column. The JSON's `grain` is the heatmap's period ('day',
    'week' or 'month')."""
    grain = rows[0]["granularity"] if rows else None
    marked = []
    for row in rows:
        cell = {name: value for name, value in row.items() if name not in ("first_day", "last_day")}
        first, last = date.fromisoformat(row["first_day"]), date.fromisoformat(row["last_day"])
        cell.update(coverage(date.fromisoformat(row["period"]), row["granularity"], first, last))
        marked.append(cell)
    columns = [name for name in (marked[0] if marked else {}) if name != "page_label"]
    return Presented(
        add_labels(marked, id_field="page_id", title_field="page_title", label_field="page_label"),
        spec,
        {"grain": grain},
        columns=columns or None,
    )


CATEGORY = Category(
    key="engagement",
    title="Page engagement",
    description=f"Per page (top {TOP_PAGES} by views, one per page id): page views, unique viewers, completed views "
    f"and completion rate; and views per page over time (per day, week or month depending on the span, at most "
    f"{MAX_CELLS} cells); a first or last period only partly inside the dates is marked partial. One row per page and "
    "period; the page totals repeat on each row. Pages that share a "
    "title get labels that tell them apart.",
    chart_explanation=f"Top: one bar per page (top {TOP_PAGES}), its length the number of views, its colour the "
    "completion rate. Bottom: a heatmap with a row per page and a column per period; darker cells had more views. "
    "Faded cells are partial periods (only some of their days are in the range), so fewer views there is not a "
    "decline.",
    build_sql=build_sql,
    present=present,
    spec={
        "$schema": SCHEMA,
        "title": "Page engagement",
        "resolve": {"scale": {"color": "independent"}, "legend": {"color": "independent"}},
        "vconcat": [
            {
                "width": CONCAT_WIDTH,
                "transform": [
                    {
                        "aggregate": [
                            {"op": "max", "field": "views", "as": "views"},
                            {"op": "max", "field": "viewers", "as": "viewers"},
                            {"op": "max", "field": "completion_pct", "as": "completion_pct"},
                        ],
                        "groupby": ["page_id", "page_label", "page_title"],
                    }
                ],
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "y": label_axis("page_label", "Page", sort="-x"),
                    "x": count("views", "Views"),
                    "color": {
                        "field": "completion_pct",
                        "type": "quantitative",
                        "title": "Completion (%)",
                        "scale": {"domain": [0, 100], "scheme": "greens"},
                        "legend": {"format": ".0f", **LEGEND},
                    },
                    "tooltip": _TOOLTIP,
                },
            },
            {
                "width": CONCAT_WIDTH,
                "mark": {"type": "rect", "tooltip": True},
                "encoding": {
                    "x": {
                        "field": "period",
                        "type": "ordinal",
                        "timeUnit": "utcyearmonthdate",
                        "title": "Period start",
                        "axis": {"format": DATE_FORMAT, "labelAngle": -45, "labelOverlap": True},
                    },
                    "y": label_axis("page_label", "Page", sort={"field": "views", "op": "max", "order": "descending"}),
                    "opacity": {**PARTIAL_OPACITY, "legend": LEGEND},
                    "color": {
                        "field": "period_views",
                        "type": "quantitative",
                        "title": "Views in period",
                        "scale": {"scheme": "blues"},
                        "legend": {"format": COUNT_FORMAT, **LEGEND},
                    },
                    "tooltip": [
                        tip_text("page_title", "Page"),
                        {
                            "field": "period",
                            "type": "temporal",
                            "timeUnit": "utcyearmonthdate",
                            "title": "Period start",
                            "format": DATE_FORMAT,
                        },
                        tip_text("granularity", "Period"),
                        tip_count("period_views", "Views"),
                        tip_text("period_status", "Whole period or partial"),
                        tip_count("covered_days", "Days in range"),
                    ],
                },
            },
        ],
    },
)
