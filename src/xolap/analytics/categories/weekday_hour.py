"""Weekday × hour category: when learners are active (events and distinct learners per weekday and hour)."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, distinct_learners, events

DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def build_sql(ctx: QueryContext) -> str:
    names = "[" + ", ".join(f"'{name}'" for name in DAY_NAMES) + "]"
    return f"""SELECT
    weekday,
    arrayElement({names}, weekday) AS day_name,
    hour,
    events,
    learners
FROM (
    SELECT toDayOfWeek(timestamp) AS weekday, toHour(timestamp) AS hour, count() AS events, {distinct_learners()} AS learners
    FROM {events(ctx)} AS e
    WHERE 1 = 1{date_filter(ctx)}
    GROUP BY weekday, hour
)
ORDER BY weekday, hour"""


CATEGORY = Category(
    key="weekday_hour",
    title="When learners work",
    description="Events and distinct learners per day of the week and hour of the day (server time zone), over the "
    "selected dates.",
    chart_explanation="Rows are days of the week, columns hours of the day; darker cells had more events. Hover a "
    "cell for the number of distinct learners active then.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Activity by weekday and hour",
        "mark": {"type": "rect", "tooltip": True},
        "encoding": {
            "x": {"field": "hour", "type": "ordinal", "title": "Hour of day"},
            "y": {"field": "day_name", "type": "ordinal", "title": "Day", "sort": DAY_NAMES},
            "color": {"field": "events", "type": "quantitative", "title": "Events"},
            "tooltip": [
                {"field": "day_name", "title": "Day"},
                {"field": "hour", "title": "Hour"},
                {"field": "events", "type": "quantitative", "title": "Events"},
                {"field": "learners", "type": "quantitative", "title": "Learners"},
            ],
        },
    },
)
