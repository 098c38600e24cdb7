"""A term's time pattern: when in a section's term learners start study sessions.

Day weights combine a decay over the term (busy first weeks, a slow fade), a weekday rhythm (Mondays high, Saturdays
low, Sunday-evening catch-up) and spikes on the two days before each unit deadline; hour weights follow students'
local day (quiet at night, peaks in the afternoon and evening). Times are drawn in the section's local time and
returned as UTC epoch milliseconds.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import timedelta
from itertools import accumulate

from xolap.generator.model import Section

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Monday .. Sunday
WEEKDAY_WEIGHTS = (1.15, 1.1, 1.05, 1.0, 0.7, 0.5, 0.95)
HOUR_WEIGHTS = (
    0.5,
    0.3,
    0.15,
    0.08,
    0.05,
    0.06,
    0.15,
    0.35,
    0.6,
    0.85,
    1.0,
    1.0,
    0.9,
    1.0,
    1.1,
    1.1,
    1.0,
    0.9,
    1.0,
    1.2,
    1.45,
    1.5,
    1.3,
    0.9,
)
_HOUR_CUMULATIVE = tuple(accumulate(HOUR_WEIGHTS))


def day_weights(section: Section) -> list[float]:
    """Relative activity of each term day of the section."""
    days = section.days
    first_weekday = (section.start + timedelta(hours=section.utc_offset_hours)).weekday()  # of local day 0
    spikes = [0.0] * days
    for deadline in section.unit_deadlines:
        for back, boost in ((0, 1.6), (1, 1.2), (2, 0.5)):
            if 0 <= deadline - back < days:
                spikes[deadline - back] += boost
    weights = []
    for d in range(days):
        decay = 1.35 - 0.65 * d / days + (0.5 if d < 3 else 0.0)
        weights.append(decay * WEEKDAY_WEIGHTS[(first_weekday + d) % 7] * (1.0 + spikes[d]))
    return weights


class TermClock:
    """Draws session start times in one section's term."""

    def __init__(self, section: Section):
        self.section = section
        self.start_ms = section.start_ms
        self.end_ms = section.end_ms
        self._cumulative = list(accumulate(day_weights(section)))

    def day_of(self, ms: int) -> int:
        return (ms - self.start_ms) // DAY_MS

    def session_starts(self, rng: random.Random, count: int, active_days: int) -> list[int]:
        """`count` sorted session start times within the first `active_days` days of the term."""
        active_days = max(1, min(active_days, self.section.days))
        total = self._cumulative[active_days - 1]
        hour_total = _HOUR_CUMULATIVE[-1]
        starts = []
        for _ in range(count):
            day = min(bisect_right(self._cumulative, rng.random() * total), active_days - 1)
            hour = min(bisect_right(_HOUR_CUMULATIVE, rng.random() * hour_total), 23)
            starts.append(self.start_ms + day * DAY_MS + hour * HOUR_MS + rng.randrange(HOUR_MS))
        starts.sort()
        return starts
