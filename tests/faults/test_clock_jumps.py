"""Clock jumps: a section holding one event stamped 1905 and one stamped 2290 (both storable: raw_events keeps the
years 1901-2298) beside its term's events. Every dashboard category answers, charts each event on its own day (a
`Date` day wraps past 2149 and before 1970: 2290 read as 2110 and 1905 as 2084), learners at risk counts days from
the real latest day, a date filter around either finds it, and the summary's date range is the events' own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, jsonl, module_runtime, page_view_statement
from xolap.analytics.categories import list_categories
from xolap.web.app import create_app

pytestmark = pytest.mark.faults

SECTION = 102
A = "/api/v1/sections/physics-evening/analytics"
PAST, FUTURE = "1905-03-01", "2290-06-01"
TERM_YEAR = 2026  # dashboard_support's events: August to October 2026


@pytest.fixture(scope="module")
def jumped(base_settings, ch_engine, pg_template):
    for runtime, tokens in module_runtime(base_settings, ch_engine, pg_template, "clockjump"):
        admin = bearer(tokens["admin"])
        past, future = page_view_statement("past", section=SECTION), page_view_statement("future", section=SECTION)
        past["timestamp"], future["timestamp"] = f"{PAST}T10:00:00.000Z", f"{FUTURE}T10:00:00.000Z"
        with TestClient(create_app(runtime)) as client:
            stored = client.post("/api/v1/statements", content=jsonl(past, future), headers=admin)
            assert stored.status_code == 200 and stored.json()["accepted"] == 2, stored.text
            yield client, admin


def _years(rows: list[dict], field: str) -> set[int]:
    return {int(str(row[field])[:4]) for row in rows}


def test_every_category_answers_and_charts_each_event_in_its_own_year(jumped):
    client, admin = jumped
    for info in list_categories("section"):
        response = client.get(A + f"/categories/{info.key}", headers=admin)
        assert response.status_code == 200, (info.key, response.text[:300])
        assert len(response.content) < 200_000, info.key  # no chart over every day of 385 years
    for key in ("cross_event", "engagement"):
        rows = client.get(A + f"/categories/{key}", headers=admin).json()["rows"]
        assert _years(rows, "period") == {1905, TERM_YEAR, 2290}, key


def test_learners_at_risk_reads_the_real_last_days(jumped):
    client, admin = jumped
    body = client.get(A + "/categories/learners_at_risk", headers=admin).json()
    assert body["parameters"]["xolap_reference_day"] == FUTURE
    assert _years(body["rows"], "last_active") == {1905, TERM_YEAR, 2290}


def test_the_summary_names_the_events_own_range_and_a_date_filter_finds_each(jumped):
    client, admin = jumped
    summary = client.get(A + "/summary", headers=admin).json()
    views = next(row for row in summary["event_types"] if row["event_type"] == "page_viewed")
    assert views["first_event"].startswith(PAST) and views["last_event"].startswith(FUTURE)
    for start, end in ((PAST, PAST), (FUTURE, FUTURE), ("2200-01-01", None), (None, "1950-12-31")):
        query = "&".join(f"{name}={value}" for name, value in (("start", start), ("end", end)) if value)
        response = client.get(A + f"/summary?{query}", headers=admin)
        assert response.status_code == 200, (query, response.text[:300])
        assert response.json()["total_events"] == 1, query
        rows = client.get(A + f"/categories/cross_event?{query}", headers=admin).json()["rows"]
        assert sum(row["events"] for row in rows) == 1, query
