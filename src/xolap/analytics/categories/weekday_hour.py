"""Weekday × hour category: when learners are active (events per weekday and hour of the day).

It counts events only: distinct learners per cell tripled its cost on large sections (bench/analytics) and the
summary cards already give learners per event type. The day's name is added by `present` (in SQL it was ~0.2 ms of a
small scope's ~6 ms query: docs/rollups.md).
"""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext
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
COLUMNS = ["weekday", "day_name", "hour", "events"]

_NAMES = "[" + ", ".join(f"'{name}'" for name in DAY_NAMES) + "]"


def build_sql(ctx: QueryContext) -> str:
    """Events per weekday and hour from the hourly rollup (xolap.analytics.rollups), exact as raw_sql, in one SQL
    level; `present` names the days."""
    return f"""SELECT
    toDayOfWeek(r.day) AS weekday,
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


def day_name(weekday: int) -> str:
    """The day's name as raw_sql's arrayElement spells it (ISO weekday 1 = Monday .. 7 = Sunday)."""
    return DAY_NAMES[weekday - 1]


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Each cell with its day's name after the weekday (the columns and order raw_sql gives)."""
    named = [
        {"weekday": row["weekday"], "day_name": day_name(row["weekday"]), "hour": row["hour"], "events": row["events"]}
        for row in rows
    ]
    return Presented(named, spec, columns=COLUMNS if named else None)  # no rows: no columns, as the SQL gives


CATEGORY = Category(
    key="weekday_hour",
    title="When learners work",
    description="Events per day of the week and hour of the day (server time zone), over the selected dates.",
    chart_explanation="Rows are days of the week, columns hours of the day; darker cells had more events.",
    build_sql=build_sql,
    present=present,
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
