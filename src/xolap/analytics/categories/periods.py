"""Periods of a chart's time axis: the day, week (Monday to Sunday) or month holding a day, and how much of a period
lies inside the charted span, so a first or last period only partly inside it is marked `partial` (a half month is
not a collapse). The time series (cross_event) and the page-engagement heatmap mark their periods with the same
fields: period_days, covered_days, partial, period_status ('complete' | 'partial')."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import Any

PERIOD_FIELDS = ("period_days", "covered_days", "partial", "period_status")
# Chart pieces both charts use: partial periods are drawn faded, named in the legend and told in the tooltip.
PARTIAL_OPACITY = {
    "field": "period_status",
    "type": "ordinal",
    "title": "Period",
    "scale": {"domain": ["complete", "partial"], "range": [1, 0.35]},
}


# Days remembered: a heatmap asks for the period of every page's every active day (4,000 calls on ~400 days for the
# 5M bench's largest project: 8 ms of the answer's Python, holding the GIL, for week and month grains; 0.8 ms with it).
PERIOD_MEMO_ENTRIES = 8192


@functools.lru_cache(maxsize=PERIOD_MEMO_ENTRIES)
def period_of(day: date, grain: str) -> tuple[date, date]:
    """The first and last day of the period of `grain` ('day', 'week' or 'month') holding `day` (remembered: a pure
    function of its arguments)."""
    if grain == "day":
        return day, day
    if grain == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def coverage(period_start: date, grain: str, first: date, last: date) -> dict[str, Any]:
    """How much of the period starting `period_start` lies inside the span `first`..`last` (both inclusive): the
    PERIOD_FIELDS of one row."""
    start, end = period_of(period_start, grain)
    period_days = (end - start).days + 1
    covered_days = max(0, (min(end, last) - max(start, first)).days + 1)
    partial = covered_days < period_days
    return {
        "period_days": period_days,
        "covered_days": covered_days,
        "partial": partial,
        "period_status": "partial" if partial else "complete",
    }
