"""Cross-event category: how many events of each type happened per day, week or month, whichever fits the span.

One scan counts events per (day, event type) and returns them as one array with the span's first and last day;
`present` buckets them in Python at the grain the span calls for: daily up to 6 weeks, weekly (Monday to Sunday) up
to 26 weeks (a term), monthly beyond. The span runs from the start date (else the first day with events) to the end
date (else the last day with events); a period only partly inside it is marked `partial` with the days it covers, so
a half month does not look like a collapse.

Rows: period (first day), grain ('day' | 'week' | 'month'), event_type, event_type_label (instructor words, see
xolap.analytics.labels), events, period_days, covered_days, partial, period_status ('complete' | 'partial').
The category JSON also carries `grain`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.periods import PARTIAL_OPACITY, coverage, period_of
from xolap.analytics.categories.spec_parts import (
    CONTAINER,
    COUNT_FORMAT,
    DATE_FORMAT,
    NAME_LEGEND,
    SCHEMA,
    count,
    tip_count,
    tip_text,
)
from xolap.analytics.categories.sql import END_PARAMETER, START_PARAMETER, date_filter, day_filter, events
from xolap.analytics.labels import event_type_labels

DAILY_UP_TO_DAYS = 42
WEEKLY_UP_TO_DAYS = 182
GRAIN_WORDS = {"day": "Day", "week": "Week starting", "month": "Month"}
_TIME_FORMATS = {"day": DATE_FORMAT, "week": DATE_FORMAT, "month": "%b %Y"}
COLUMNS = [
    "period",
    "grain",
    "event_type",
    "event_type_label",
    "events",
    "period_days",
    "covered_days",
    "partial",
    "period_status",
]


def _span(ctx: QueryContext) -> tuple[str, str]:
    first = f"{{{START_PARAMETER}:Date32}}" if ctx.start is not None else "min(day)"
    last = f"{{{END_PARAMETER}:Date32}}" if ctx.end is not None else "max(day)"
    return first, last


def build_sql(ctx: QueryContext) -> str:
    """The per-day counts from the daily rollup (xolap.analytics.rollups), exact as raw_sql."""
    first, last = _span(ctx)
    return f"""SELECT groupArray((day, event_type, day_events)) AS cells, {first} AS first_day, {last} AS last_day
FROM (
    SELECT day, event_type, sum(events) AS day_events
    FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_events_daily")}{day_filter(ctx)}
    GROUP BY day, event_type
)"""


def unranked_sql(ctx: QueryContext) -> str:
    """build_sql's per-day counts (the same read) as rows, without the array and span level above them, which `rank`
    makes in Python for a scope with few (day, event type) cells (xolap.analytics.categories.small_scopes); the dates
    given ride on each row as first_day and last_day."""
    dates = "".join(
        f", {{{parameter}:Date32}} AS {name}"
        for parameter, name, given in ((START_PARAMETER, "first_day", ctx.start), (END_PARAMETER, "last_day", ctx.end))
        if given is not None
    )
    return f"""SELECT day, event_type, sum(events) AS day_events{dates}
FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_events_daily")}{day_filter(ctx)}
GROUP BY day, event_type"""


# min / max of no days: the Date default, as build_sql's span gives it without rows.
_NO_DAY = "1970-01-01"


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """unranked_sql's rows as build_sql's one row: the cells (day, event type, events), the span's first and last day
    (the dates given, else the first and last day with events)."""
    cells = [[row["day"], row["event_type"], row["day_events"]] for row in rows]
    first = (
        rows[0]["first_day"] if rows and "first_day" in rows[0] else min((cell[0] for cell in cells), default=_NO_DAY)
    )
    last = rows[0]["last_day"] if rows and "last_day" in rows[0] else max((cell[0] for cell in cells), default=_NO_DAY)
    return [{"cells": cells, "first_day": first, "last_day": last}]


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    first, last = _span(ctx)
    # One row: the per-day counts as an array, with the span's first and last day; `present` buckets them. Bucketing
    # in SQL (window functions or ARRAY JOIN + GROUP BY) measured 2-3x the cost of this query in chDB.
    return f"""SELECT groupArray((day, event_type, day_events)) AS cells, {first} AS first_day, {last} AS last_day
FROM (
    SELECT toDate32(timestamp) AS day, event_type, count() AS day_events
    FROM {events(ctx)} AS e
    WHERE 1 = 1{date_filter(ctx)}
    GROUP BY day, event_type
)"""


def grain_for(span_days: int) -> str:
    """'day' up to 6 weeks, 'week' up to 26 weeks (a term), else 'month'."""
    return "day" if span_days <= DAILY_UP_TO_DAYS else "week" if span_days <= WEEKLY_UP_TO_DAYS else "month"


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Per-day counts bucketed at the grain the span calls for, partial periods marked, event types in instructor
    words, and the axis fitted to the grain."""
    cells = rows[0]["cells"] if rows else []
    if not cells:
        return Presented([], spec, {"grain": None}, columns=COLUMNS)
    first, last = date.fromisoformat(rows[0]["first_day"]), date.fromisoformat(rows[0]["last_day"])
    grain = grain_for((last - first).days)
    starts: dict[str, date] = {}  # each day's period start, found once per answer (a day has one cell per event type)
    totals: dict[tuple[date, str], int] = {}
    for day, event_type, day_events in cells:
        start = starts.get(day)
        if start is None:
            start = starts[day] = period_of(date.fromisoformat(day), grain)[0]
        totals[(start, event_type)] = totals.get((start, event_type), 0) + day_events
    words = event_type_labels(event_type for _, event_type in totals)
    periods: dict[date, tuple[str, dict[str, Any]]] = {}  # each period's text and coverage, once per answer
    out = []
    for (start, event_type), count_ in sorted(totals.items()):
        period = periods.get(start)
        if period is None:
            period = periods[start] = (start.isoformat(), coverage(start, grain, first, last))
        out.append(
            {
                "period": period[0],
                "grain": grain,
                "event_type": event_type,
                "event_type_label": words[event_type],
                "events": count_,
                **period[1],
            }
        )
    for layer in spec["layer"]:
        layer["encoding"]["x"]["title"] = GRAIN_WORDS[grain]
        layer["encoding"]["x"]["axis"]["format"] = _TIME_FORMATS[grain]
    spec["title"] = f"Events per {grain} by type"
    return Presented(out, spec, {"grain": grain}, columns=COLUMNS)


_X = {
    "field": "period",
    "type": "temporal",
    "timeUnit": "utcyearmonthdate",
    "title": "Period",
    "axis": {"format": DATE_FORMAT, "labelOverlap": True},
}
_COLOR = {"field": "event_type_label", "type": "nominal", "title": "Event type", "legend": NAME_LEGEND}

CATEGORY = Category(
    key="cross_event",
    title="Activity over time",
    description="Number of events of each type (page views, video interactions, activity / question / graded page "
    f"attempts, other) per day up to {DAILY_UP_TO_DAYS} days, per week (starting Monday) up to {WEEKLY_UP_TO_DAYS} "
    "days, else per month. A first or last period only partly inside the dates is marked partial.",
    chart_explanation="One line per event type; each point is the number of such events in that period. Faded "
    "points are partial periods (only some of their days are in the range), so a drop there is not a decline.",
    build_sql=build_sql,
    unranked_sql=unranked_sql,
    rank=rank,
    present=present,
    spec={
        "$schema": SCHEMA,
        "title": "Events over time by type",
        "width": CONTAINER,
        "layer": [
            {
                "mark": {"type": "line"},
                "encoding": {"x": _X, "y": count("events", "Events"), "color": _COLOR},
            },
            {
                "mark": {"type": "point", "filled": True, "tooltip": True, "size": 50},
                "encoding": {
                    "x": _X,
                    "y": count("events", "Events"),
                    "color": _COLOR,
                    "opacity": {**PARTIAL_OPACITY, "legend": NAME_LEGEND},
                    "tooltip": [
                        {
                            "field": "period",
                            "type": "temporal",
                            "timeUnit": "utcyearmonthdate",
                            "title": "Period start",
                            "format": DATE_FORMAT,
                        },
                        tip_text("event_type_label", "Event type"),
                        {"field": "events", "type": "quantitative", "title": "Events", "format": COUNT_FORMAT},
                        tip_text("period_status", "Period"),
                        tip_count("covered_days", "Days in range"),
                    ],
                },
            },
        ],
    },
)
