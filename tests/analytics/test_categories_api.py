"""The category JSON the dashboard reads: short section labels from the Postgres names, the grain of the time series,
the learners-at-risk table and its CSV, event types in instructor words, and failures in plain words with detail."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime, section_event_count
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"
P = "/api/v1/projects/intro-physics/analytics"


@pytest.fixture(scope="module")
def api_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "catapi")


@pytest.fixture()
def api(api_world):
    runtime, tokens = api_world
    settings = runtime.settings
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}, runtime
    runtime.settings = settings


def test_section_comparison_labels_drop_the_shared_project_name(api):
    client, who, _ = api
    body = client.get(P + "/categories/section_comparison", headers=who["author"]).json()
    labels = {row["section"]: row["section_label"] for row in body["rows"]}
    assert labels == {"Physics · Fall cohort": "Fall cohort", "Physics · Evening cohort": "Evening cohort"}
    assert body["spec"]["hconcat"][0]["encoding"]["y"]["field"] == "section_label"


def test_time_series_says_its_grain_and_keeps_every_event(api):
    client, who, _ = api
    body = client.get(A + "/categories/cross_event", headers=who["inst_a"]).json()
    assert body["grain"] == "week"  # August to October: a term
    assert sum(row["events"] for row in body["rows"]) == section_event_count(101)
    assert all("_" not in row["event_type_label"] for row in body["rows"])
    short = client.get(A + "/categories/cross_event?start=2026-09-01&end=2026-09-14", headers=who["inst_a"]).json()
    assert short["grain"] == "day"


def test_learners_at_risk_table_and_its_csv(api):
    client, who, _ = api
    body = client.get(A + "/categories/learners_at_risk", headers=who["inst_a"]).json()
    table = body["table"]
    assert [c["field"] for c in table["columns"]][:2] == ["learner", "last_active"]
    assert {row["learner"] for row in table["rows"]} == {row["learner"] for row in body["rows"] if row["at_risk"]}
    exported = client.get(A + "/categories/learners_at_risk/export?format=csv", headers=who["inst_a"])
    assert exported.status_code == 200
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(lines) == len(body["rows"]) and {"learner", "last_active", "recent_events", "reasons"} <= set(lines[0])


def test_summary_rows_carry_instructor_words(api):
    client, who, _ = api
    body = client.get(A + "/summary", headers=who["inst_a"]).json()
    words = {row["event_type"]: row["label"] for row in body["event_types"]}
    assert words == {
        "page_viewed": "Page views",
        "activity_attempt": "Activity attempts",
        "part_attempt": "Question attempts",
        "video": "Video interactions",
    }


def test_a_failing_chart_answers_in_plain_words_with_the_detail_apart(api):
    client, who, runtime = api
    runtime.settings = runtime.settings.model_copy(update={"query_max_rows_to_read": 5, "result_cache_bytes": 0})
    response = client.get(A + "/categories/video?start=2026-08-01", headers=who["inst_a"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["kind"] == "too_many_rows_read"
    assert error["message"] == (
        "“Video engagement” needs more events than a chart may read at once. Try a shorter date range."
    )
    assert error["detail"] and error["detail"] != error["message"]
