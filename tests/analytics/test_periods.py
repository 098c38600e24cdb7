"""Chart periods (categories.periods): every day's period, and a day seen before is answered from memory (the
engagement heatmap asks for the period of each page's every active day: thousands of calls per answer on few days)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest

from xolap.analytics.categories.periods import coverage, period_of

DAYS = [date(2023, 12, 25) + timedelta(days=offset) for offset in range(3 * 366 + 10)]  # leap year 2024 inside


def expected_period(day: date, grain: str) -> tuple[date, date]:
    if grain == "day":
        return day, day
    if grain == "week":
        return day - timedelta(days=day.weekday()), day + timedelta(days=6 - day.weekday())
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_every_day_gets_its_period(grain):
    for _ in range(2):  # asked again: the remembered answer is the same
        for day in DAYS:
            assert period_of(day, grain) == expected_period(day, grain), (day, grain)


def test_a_day_seen_before_is_answered_from_memory():
    period_of.cache_clear()
    for day in DAYS[:400]:
        period_of(day, "month")
    before = period_of.cache_info()
    for _ in range(10):
        for day in DAYS[:400]:
            period_of(day, "month")
    after = period_of.cache_info()
    assert after.misses == before.misses and after.hits - before.hits == 4000


def test_remembered_periods_are_bounded():
    assert 0 < (period_of.cache_info().maxsize or 0) <= 100_000


def test_coverage_of_partial_and_whole_periods():
    assert coverage(date(2024, 2, 1), "month", date(2024, 2, 10), date(2024, 3, 31))["covered_days"] == 20
    whole = coverage(date(2024, 2, 1), "month", date(2024, 1, 1), date(2024, 12, 31))
    assert whole == {"period_days": 29, "covered_days": 29, "partial": False, "period_status": "complete"}
