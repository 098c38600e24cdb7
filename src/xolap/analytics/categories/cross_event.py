"""Cross-event category: how many events of each type happened per month."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import date_filter, events


def build_sql(ctx: QueryContext) -> str:
    return f"""SELECT
    toStartOfMonth(timestamp) AS month,
    event_type,
    count() AS events
FROM {events(ctx)} AS e
WHERE 1 = 1{date_filter(ctx)}
GROUP BY month, event_type
ORDER BY month, event_type
LIMIT 1000"""


CATEGORY = Category(
    key="cross_event",
    title="Activity over time",
    description="Number of events of each type (page views, videos, activity / part / page attempts) per month.",
    chart_explanation="One line per event type; each point is the number of such events in that month.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Events per month by type",
        "width": 480,
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "timeUnit": "yearmonth", "title": "Month"},
            "y": {"field": "events", "type": "quantitative", "title": "Events"},
            "color": {"field": "event_type", "type": "nominal", "title": "Event type"},
        },
    },
)
