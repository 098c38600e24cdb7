"""Engagement category: views, unique viewers and completion per page, plus a period × page heatmap of views.

One aggregate per page gives its totals and its views per day (a map of day to views); a window over those pages
gives the span of days with views before the top pages are kept. `present` buckets each page's days into the heatmap
period in Python (day ≤ 25 days, week ≤ 175 days, else month, so that 20 pages × 25 periods stays within 500 cells)
and marks partial periods. Planning dominates a small scope's answer (measured: the former window-over-cells form
cost ~20 ms of analysis alone), so the SQL stays one level over the rows; titles are looked up in Python
(xolap.analytics.title_lookup).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.clickhouse_math import divide, heaviest_key, round_float
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.periods import PARTIAL_OPACITY, PERIOD_MEMO_ENTRIES, coverage, period_of
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
    heaviest_project,
    joined_titles,
    title_project,
)
from xolap.analytics.labels import unique_labels
from xolap.analytics.title_lookup import TitleColumn

TOP_PAGES = 20
MAX_CELLS = 500
CONCAT_WIDTH = 340  # each part of the vconcat; concatenated views cannot be sized to a container


TITLE = TitleColumn(kind="page", field="page_title", id_field="page_id", fallback=lambda page: f"Page {page}")
_FALLBACK = "concat('Page ', toString(c.page_id))"  # TITLE's fallback in SQL (raw_sql)
_ORDER = "views DESC, page_id"


def span_first(ctx: QueryContext) -> str:
    """The charted span's first day: the start date, else the first day with page views."""
    return f"{{{START_PARAMETER}:Date32}}" if ctx.start is not None else "first_event_day"


def span_last(ctx: QueryContext) -> str:
    """The charted span's last day: the end date, else the last day with page views."""
    return f"{{{END_PARAMETER}:Date32}}" if ctx.end is not None else "last_event_day"


def build_sql(ctx: QueryContext) -> str:
    """Page totals and views per day from the content rollup (xolap.analytics.rollups): without dates the whole-slice
    rows (their day_views map), with dates the daily rows in range; viewers merged exactly from their uniqExact states,
    views and completed views exact; the title's project is the one with most views (raw: anyHeavy, the same when one
    project has most of them), its title looked up in Python (TITLE)."""
    table = rollups.daily_or_totals("rollup_content_daily", ctx)
    day_views = (
        rollups.summed_days("mapKeys(r.day_views)", "mapValues(r.day_views)")
        if table != "rollup_content_daily"
        else rollups.summed_days("[r.day]", "[r.events]")
    )
    project_views = "sumMapIf(map(assumeNotNull(r.project_id), r.events), r.project_id IS NOT NULL)"
    chart = _chart_sql(
        ctx,
        f"""{heaviest_project("project_views")} AS title_project,
    toUInt64(r.content_id) AS page_id,
    sum(r.events) AS views,
    {rollups.merged_learners("r")} AS viewers,
    sum(r.completed) AS completed""",
        f"""{rollups.rollup_read(ctx.database, ctx.scope, table)}
AND r.kind = 'page'{day_filter(ctx)}""",
        day_views,
    )
    return f"WITH {project_views} AS project_views\n{chart}"


def unranked_sql(ctx: QueryContext) -> str:
    """build_sql's per-page facts (the same read and merges) without the title project's pick, the completion rate,
    the span's window, the order and the limit, which `rank` adds in Python for a scope with few pages
    (xolap.analytics.categories.small_scopes): one row per page, by id, with the dates given as first_day and
    last_day."""
    table = rollups.daily_or_totals("rollup_content_daily", ctx)
    day_views = (
        rollups.summed_days("mapKeys(r.day_views)", "mapValues(r.day_views)")
        if table != "rollup_content_daily"
        else rollups.summed_days("[r.day]", "[r.events]")
    )
    dates = "".join(
        f",\n    {{{parameter}:Date32}} AS {name}"
        for parameter, name, given in ((START_PARAMETER, "first_day", ctx.start), (END_PARAMETER, "last_day", ctx.end))
        if given is not None
    )
    return f"""SELECT
    sumMapIf(map(assumeNotNull(r.project_id), r.events), r.project_id IS NOT NULL) AS project_views,
    toUInt64(r.content_id) AS page_id,
    sum(r.events) AS views,
    {rollups.merged_learners("r")} AS viewers,
    sum(r.completed) AS completed,
    {day_views} AS day_views{dates}
FROM {rollups.rollup_read(ctx.database, ctx.scope, table)}
AND r.kind = 'page'{day_filter(ctx)}
GROUP BY page_id
ORDER BY page_id"""


# arrayMin / arrayMax of an empty array of days: the Date default, as the span's window takes it.
_NO_DAY = "1970-01-01"


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """unranked_sql's rows (by id) as build_sql gives them: the title project (sql.heaviest_project), the completion
    rate (clickhouse_math), the first and last day with views over every page (the span's window, before the limit),
    the span (the dates given, else those days), most views first, then id (the rows' order), at most TOP_PAGES."""
    if not rows:
        return []
    first_event = min((min(row["day_views"]) if row["day_views"] else _NO_DAY) for row in rows)
    last_event = max((max(row["day_views"]) if row["day_views"] else _NO_DAY) for row in rows)
    ranked = [
        {
            "title_project": heaviest_key(row["project_views"]),
            "page_id": row["page_id"],
            "views": row["views"],
            "viewers": row["viewers"],
            "completed": row["completed"],
            "completion_pct": round_float(divide(row["completed"], row["views"]) * 100, 1),
            "day_views": row["day_views"],
            "first_event_day": first_event,
            "last_event_day": last_event,
            "first_day": row.get("first_day", first_event),
            "last_day": row.get("last_day", last_event),
        }
        for row in rows
    ]
    ranked.sort(key=lambda row: -row["views"])
    return ranked[:TOP_PAGES]


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against), its titles
    joined in SQL (the reference for TITLE's lookup)."""
    chart = _chart_sql(
        ctx,
        f"""{title_project()} AS title_project,
    assumeNotNull(page_id) AS page_id,
    count() AS views,
    {distinct_learners()} AS viewers,
    countIf(completion) AS completed""",
        f"""{events(ctx)} AS e
WHERE event_type = 'page_viewed' AND e.page_id IS NOT NULL{date_filter(ctx)}""",
        rollups.summed_days("[toDate32(timestamp)]", "[toUInt64(1)]"),
    )
    return joined_titles(ctx, TITLE, chart, _FALLBACK, "toString(c.page_id)", _ORDER)


def _chart_sql(ctx: QueryContext, per_page: str, source: str, day_views: str) -> str:
    """The top pages (by views, then id) in one SQL level: `per_page` (title_project, page_id, views, viewers,
    completed over `source`, a FROM clause's table and WHERE), the completion rate, views per day (`day_views`, a map
    expression) and the span: the first and last day with views over every page (a window before the LIMIT) and the
    charted span's days."""
    return f"""SELECT
    {per_page},
    round(completed / views * 100, 1) AS completion_pct,
    {day_views} AS day_views,
    min(arrayMin(mapKeys(day_views))) OVER () AS first_event_day,
    max(arrayMax(mapKeys(day_views))) OVER () AS last_event_day,
    {span_first(ctx)} AS first_day,
    {span_last(ctx)} AS last_day
FROM {source}
GROUP BY page_id
ORDER BY {_ORDER}
LIMIT {TOP_PAGES}"""


def grain_of(span_days: int) -> str:
    """The heatmap's period for a span of days with views: day up to 25 days, week up to 175, else month."""
    return "day" if span_days <= 25 else "week" if span_days <= 175 else "month"


@functools.lru_cache(maxsize=PERIOD_MEMO_ENTRIES)
def period_start(day: str, grain: str) -> str:
    """The first day (ISO text) of the `grain` period holding the ISO day `day` (remembered: every page of an answer
    names the same days, and the text is what the cell carries)."""
    return period_of(date.fromisoformat(day), grain)[0].isoformat()


def heatmap_cells(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per page and period (views summed over the period's days), pages in the query's order (views, then
    id), periods in order; at most MAX_CELLS. The page totals repeat on each of its rows."""
    if not pages:
        return []
    first, last = date.fromisoformat(pages[0]["first_event_day"]), date.fromisoformat(pages[0]["last_event_day"])
    grain = grain_of((last - first).days)
    cells: list[dict[str, Any]] = []
    for page in pages:
        in_period: dict[str, int] = {}
        for day, views in page["day_views"].items():
            period = period_start(day, grain)
            in_period[period] = in_period.get(period, 0) + views
        for period in sorted(in_period):  # ISO dates sort in time order
            cells.append(
                {
                    "page_title": page["page_title"],
                    "page_id": page["page_id"],
                    "period": period,
                    "granularity": grain,
                    "period_views": in_period[period],
                    "views": page["views"],
                    "viewers": page["viewers"],
                    "completed": page["completed"],
                    "completion_pct": page["completion_pct"],
                    "first_day": page["first_day"],
                    "last_day": page["last_day"],
                }
            )
        if len(cells) >= MAX_CELLS:
            break
    return cells[:MAX_CELLS]


_TOOLTIP = [
    tip_text("page_title", "Page"),
    tip_count("views", "Views"),
    tip_count("viewers", "Unique viewers"),
    tip_percent("completion_pct", "Completion"),
]


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """The query's rows (one per page) as heatmap cells (heatmap_cells), each page labelled by its title; repeated
    titles get '· #<id>' after them. Each heatmap cell says
    whether its period lies only partly inside the charted span (xolap.analytics.categories.periods, as the time
    series does); the span's days themselves are not a row column. The JSON's `grain` is the heatmap's period ('day',
    'week' or 'month')."""
    marked = heatmap_cells(rows)  # new dicts: marked in place
    grain = marked[0]["granularity"] if marked else None
    covered: dict[tuple[str, str, str], dict[str, Any]] = {}  # the periods repeat on every page
    for cell in marked:
        span = (cell["period"], cell.pop("first_day"), cell.pop("last_day"))
        fields = covered.get(span)
        if fields is None:
            period, first, last = (date.fromisoformat(day) for day in span)
            fields = covered[span] = coverage(period, cell["granularity"], first, last)
        cell.update(fields)
    columns = [name for name in (marked[0] if marked else {}) if name != "page_label"]
    # Labelled once per page, not per cell (~17 cells a page): the cells are this call's own dicts, so the label is
    # set in place, last, as labels.add_labels would add it to a copy.
    pages: dict[Any, str] = {}
    for cell in marked:
        pages.setdefault(cell["page_id"], cell.get("page_title") or "")
    labels = unique_labels((page_id, title, f"#{page_id}") for page_id, title in pages.items())
    for cell in marked:
        cell["page_label"] = labels[cell["page_id"]]
    return Presented(marked, spec, {"grain": grain}, columns=columns or None)


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
    unranked_sql=unranked_sql,
    rank=rank,
    present=present,
    content_titles=TITLE,
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
