"""Statements sent through /xAPI/statements appear on the section dashboard at once: the instructor's (and admin's)
summary and category JSON count them, through the result cache (the LRS insert and its voiding DELETE bump the
section's data version), and a voided statement stops counting."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime, section_event_count
from lrs_support import V103, basic, new_credential
from xolap.web.app import create_app

SUMMARY = "/api/v1/sections/physics-fall/analytics/summary"
CATEGORY = "/api/v1/sections/physics-fall/analytics/categories/cross_event"
OLI = "http://oli.cmu.edu/extensions/"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
def lrs_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "lrsd")


def page_view(learner: int, page: int) -> dict:
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": f"lrs-learner-{learner}"}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en-US": "viewed"}},
        "object": {
            "id": f"https://torus.example/page/{page}",
            "definition": {"type": OLI + "types/page", "name": {"en-US": f"Page {page}"}},
        },
        "context": {"extensions": {OLI + "section_id": 101, OLI + "project_id": 1, OLI + "page_id": page}},
        "timestamp": "2026-09-01T10:00:00.000Z",
    }


def page_views(client, who) -> int:
    body = client.get(SUMMARY, headers=who).json()
    return next((int(row["events"]) for row in body["event_types"] if row["event_type"] == "page_viewed"), 0)


def total(client, who) -> int:
    return client.get(SUMMARY, headers=who).json()["total_events"]


def category_total(client, who) -> int:
    body = client.get(CATEGORY, headers=who).json()
    column = next(c for c in body["columns"] if c in ("events", "event_count", "count"))
    return sum(row[column] for row in body["rows"])


def test_lrs_statements_reach_the_section_dashboard_through_the_cache(lrs_world):
    runtime, tokens = lrs_world
    cred, secret = new_credential(runtime)
    lrs = basic(cred.key, secret) | V103
    instructor, admin = bearer(tokens["inst_a"]), bearer(tokens["admin"])
    with TestClient(create_app(runtime)) as client:
        before_total, before_views = total(client, instructor), page_views(client, instructor)
        before_category = category_total(client, instructor)
        assert before_total == section_event_count(101) == before_category
        assert client.get(SUMMARY, headers=instructor).headers.get("X-Xolap-Cache") == "hit"  # warm: cached now

        sent = client.post("/xAPI/statements", headers=lrs, json=[page_view(n, 1000 + n) for n in range(3)])
        assert sent.status_code == 200, sent.text
        ids = sent.json()
        assert total(client, instructor) == before_total + 3
        assert page_views(client, instructor) == before_views + 3
        assert category_total(client, instructor) == before_category + 3
        assert total(client, admin) == before_total + 3

        voiding = {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": VOIDED},
            "object": {"objectType": "StatementRef", "id": ids[0]},
            "id": str(uuid.uuid4()),
        }
        assert client.post("/xAPI/statements", headers=lrs, json=voiding).status_code == 200
        assert total(client, instructor) == before_total + 2
        assert page_views(client, instructor) == before_views + 2
        assert category_total(client, instructor) == before_category + 2
