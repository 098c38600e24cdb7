"""ClickHouse's arithmetic as a chart's SQL computes it, for rows a chart ranks in Python (categories.small_scopes).

Each function gives what the named SQL expression gives for the same inputs, as the chart's JSON carries it (a
non-finite float as None, as chart_values makes it): tested against ClickHouse in tests/analytics/test_small_scopes.py.
"""

from __future__ import annotations

import math
from typing import Any


def round_float(value: float | None, digits: int) -> float | None:
    """round(value, digits) of a Float64: value * 10^digits rounded half to even, divided back (0.35 gives 0.4, where
    Python's round gives 0.3: the double below 0.35 times 10 is 3.5); None and non-finite values give None."""
    if value is None or not math.isfinite(value):
        return None
    scale = 10**digits
    return round(value * scale) / scale


def divide(numerator: float, denominator: float) -> float:
    """numerator / denominator as `/` gives it: a Float64, inf or nan when the denominator is 0."""
    if denominator == 0:
        return math.nan if numerator == 0 or math.isnan(numerator) else math.copysign(math.inf, numerator)
    return numerator / denominator


def heaviest_key(counts: dict[Any, int]) -> int:
    """sql.heaviest_project over a map read back as JSON (keys as text, ascending as sumMap orders them): the first
    key with the largest count, as an integer; 0 for an empty map."""
    if not counts:
        return 0
    top = max(counts.values())
    return int(next(key for key, count in counts.items() if count == top))
