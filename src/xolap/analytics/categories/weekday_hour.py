"""Weekday × hour category: when learners are active (events per weekday and hour of the day).

It counts events only: distinct learners per cell tripled its cost on large sections (bench/analytics) and the
summary cards already give learners per event type.
"""

from __future__ import annotations

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.spec_parts import (
    CONTAINER,
    COUNT_FORMAT,
    LEGEND,
    SCHEMA,
    band_height,
    tip_count,
)
from xolap.analytics.categories.sql import date_filter, day_filter, events

DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


_NAMES = "[" + ", ".join(f"'{name}'" for name in DAY_NAMES) + "]"


def build_sql(ctx: QueryContext) -> str:
    """Events per weekday and hour from the hourly rollup (xolap.analytics.rollups), exact as raw_sql, in one SQL
    level."""
    return f"""SELECT
    toDayOfWeek(r.day) AS weekday,
    arrayElement({_NAMES}, weekday) AS day_name,
    r.hour AS hour,
    sum(r.events) AS events
FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_hourly")}{day_filter(ctx)}
GROUP BY weekday, hour
ORDER BY weekday, hour"""


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    names = _NAMES
    return f"""SELECT
    weekday,
    arrayElement({names}, weekday) AS day_name,
    hour,
    events
FROM (
    SELECT toDayOfWeek(timestamp) AS weekday, toHour(timestamp) AS hour, count() AS events
    FROM {events(ctx)} AS e
    WHERE 1 = 1{date_filter(ctx)}
    GROUP BY weekday, hour
)
ORDER BY weekday, hour"""


CATEGORY = Category(
    key="weekday_hour",
    title="When learners work",
    description="Events per day of the week and hour of the day (server time zone), over the selected dates.",
    chart_explanation="Rows are days of the week, columns hours of the day; darker cells had more events.",
    build_sql=build_sql,
    spec={
        "$schema": SCHEMA,
        "width": CONTAINER,
        "height": band_height(len(DAY_NAMES)),
        "title": "Activity by weekday and hour",
        "mark": {"type": "rect", "tooltip": True},
        "encoding": {
            "x": {"field": "hour", "type": "ordinal", "title": "Hour of day"},
            "y": {"field": "day_name", "type": "ordinal", "title": "Day", "sort": DAY_NAMES},
            "color": {
                "field": "events",
                "type": "quantitative",
                "title": "Events",
                "legend": {"format": COUNT_FORMAT, **LEGEND},
            },
            "tooltip": [
                {"field": "day_name", "title": "Day"},
                {"field": "hour", "title": "Hour"},
                tip_count("events", "Events"),
            ],
        },
    },
)
