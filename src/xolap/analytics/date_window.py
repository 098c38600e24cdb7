"""The dashboard's date range applied to custom SQL: every read of raw_events sees only that range's events.

The range joins the scope wall's engine-enforced filter on raw_events (additional_table_filters, see
xolap.analytics.scope_wall), so it holds however the user's SQL reads the table (subqueries, joins, CTEs) and needs
no rewrite of their text. Dates are `datetime.date` values formatted as ISO literals (the setting takes no query
parameters); the end date is inclusive, as on the rest of the dashboard (xolap.analytics.categories.sql.date_filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from xolap.analytics.scope_wall import ScopeWall, closed_settings
from xolap.clickhouse.client_protocol import ClickHouseClient


def timestamp_predicate(start: date | None, end: date | None, column: str = "timestamp") -> str:
    """`column >= ... AND column < ...` for the range (end inclusive), or '' when neither end is set."""
    parts = []
    if start is not None:
        parts.append(f"{column} >= toDateTime64('{date.isoformat(start)} 00:00:00', 3)")
    if end is not None:
        parts.append(f"{column} < toDateTime64(addDays(toDate32('{date.isoformat(end)}'), 1), 3)")
    return " AND ".join(parts)


@dataclass(frozen=True)
class DatedWall:
    """A scope wall whose raw_events filter also keeps only the events between start and end (inclusive)."""

    wall: ScopeWall
    start: date | None
    end: date | None

    def table_filters(self) -> dict[str, str]:
        filters = self.wall.table_filters()
        predicate = timestamp_predicate(self.start, self.end)
        if predicate:
            key = f"{self.wall.database}.raw_events"
            filters[key] = f"({filters[key]}) AND {predicate}"
        return filters

    def query_settings(self, client: ClickHouseClient) -> dict[str, Any]:
        """As ScopeWall.query_settings: the filters closed against the engine's catalogue read now."""
        return closed_settings(client, self.wall.database, self.table_filters())


def dated(wall: ScopeWall, start: date | None, end: date | None) -> ScopeWall | DatedWall:
    """The wall itself when no range is given, else the wall narrowed to the range."""
    if start is None and end is None:
        return wall
    if not isinstance(start, (date, type(None))) or not isinstance(end, (date, type(None))):
        raise TypeError("the date range takes datetime.date values")
    return DatedWall(wall, start, end)
