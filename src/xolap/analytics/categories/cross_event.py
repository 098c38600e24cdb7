"""Cross-event category: how many events of each type happened per day, week or month, whichever fits the span.

One scan counts events per (day, event type); window functions over that small result find the span and choose the
grain: daily up to 6 weeks, weekly (Monday to Sunday) up to 26 weeks (a term), monthly beyond. The span runs from the
start date (else the first day with events) to the end date (else the last day with events); a period only partly
inside it is marked `partial` with the days it covers, so a half month does not look like a collapse.

Rows: period (first day), grain ('day' | 'week' | 'month'), event_type, event_type_label (instructor words, see
xolap.analytics.labels), events, period_days, covered_days, partial, period_status ('complete' | 'partial').
The category JSON also carries `grain`.
"""

from __future__ import annotations

from typing import Any

from xolap.analytics.categories.model import Category, Presented, QueryContext
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
from xolap.analytics.categories.sql import END_PARAMETER, START_PARAMETER, date_filter, events
from xolap.analytics.labels import event_type_label

DAILY_UP_TO_DAYS = 42
WEEKLY_UP_TO_DAYS = 182
GRAIN_WORDS = {"day": "Day", "week": "Week starting", "month": "Month"}
_TIME_FORMATS = {"day": DATE_FORMAT, "week": DATE_FORMAT, "month": "%b %Y"}


def build_sql(ctx: QueryContext) -> str:
    first = f"{{{START_PARAMETER}:Date}}" if ctx.start is not None else "min(day) OVER ()"
    last = f"{{{END_PARAMETER}:Date}}" if ctx.end is not None else "max(day) OVER ()"
    return f"""SELECT
    period,
    any(grain) AS grain,
    event_type,
    sum(day_events) AS events,
    toUInt16(dateDiff('day', period, period_end) + 1) AS period_days,
    toUInt16(dateDiff('day', greatest(period, any(first_day)), least(period_end, any(last_day))) + 1) AS covered_days,
    toBool(covered_days < period_days) AS partial
FROM (
    SELECT day, event_type, day_events, first_day, last_day,
        dateDiff('day', first_day, last_day) AS span_days,
        multiIf(span_days <= {DAILY_UP_TO_DAYS}, 'day', span_days <= {WEEKLY_UP_TO_DAYS}, 'week', 'month') AS grain,
        multiIf(grain = 'day', day, grain = 'week', toMonday(day), toStartOfMonth(day)) AS period,
        multiIf(grain = 'day', day, grain = 'week', period + 6, toLastDayOfMonth(day)) AS period_end
    FROM (
        SELECT day, event_type, day_events, {first} AS first_day, {last} AS last_day
        FROM (
            SELECT toDate(timestamp) AS day, event_type, count() AS day_events
            FROM {events(ctx)} AS e
            WHERE 1 = 1{date_filter(ctx)}
            GROUP BY day, event_type
        )
    )
)
GROUP BY period, period_end, event_type
ORDER BY period, event_type
LIMIT 5000"""


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Instructor words for the event types, the period's status, and the axis fitted to the grain chosen."""
    grain = rows[0]["grain"] if rows else None
    labelled = [{**row, "event_type_label": event_type_label(row["event_type"]),
                 "period_status": "partial" if row["partial"] else "complete"} for row in rows]
    if grain in GRAIN_WORDS:
        for layer in spec["layer"]:
            layer["encoding"]["x"]["title"] = GRAIN_WORDS[grain]
            layer["encoding"]["x"]["axis"]["format"] = _TIME_FORMATS[grain]
        spec["title"] = f"Events per {grain} by type"
    return Presented(labelled, spec, {"grain": grain})


_X = {"field": "period", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "Period",
      "axis": {"format": DATE_FORMAT, "labelOverlap": True}}
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
                    "opacity": {"field": "period_status", "type": "nominal", "title": "Period",
                                "scale": {"domain": ["complete", "partial"], "range": [1, 0.35]},
                                "legend": NAME_LEGEND},
                    "tooltip": [
                        {"field": "period", "type": "temporal", "timeUnit": "utcyearmonthdate",
                         "title": "Period start", "format": DATE_FORMAT},
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
