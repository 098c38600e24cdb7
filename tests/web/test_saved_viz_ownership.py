"""Saved visualizations belong to their owner (others in the scope view and copy), and every spec is sanitized on
save, update, run, copy and export; a chart too big to draw fails fast while the server keeps answering."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime
from vega_specs import BAR, EXFILTRATION
from xolap.analytics import chart_render
from xolap.analytics.chart_render import ChartRenderer, RenderLimits
from xolap.store.models import SavedVisualization
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"
TIMEOUT_S = 4.0
SQL = "SELECT event_type, count() AS n FROM raw_events GROUP BY event_type"


@pytest.fixture(scope="module")
def viz_world(base_settings, ch_engine, pg_template):
    from xolap.store import accounts
    from xolap.store.models import Section

    for runtime, tokens in module_runtime(base_settings, ch_engine, pg_template, "vizown"):
        with runtime.sessions() as session:
            colleague = accounts.create_user(session, "a2@example.edu", password="teacher-pass-a2")
            accounts.grant(session, colleague, section=session.get(Section, 101))
            tokens["inst_a2"] = accounts.create_token(session, colleague, "tests")[1]
            session.commit()
        yield runtime, tokens


@pytest.fixture()
def api(viz_world):
    runtime, tokens = viz_world
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}, runtime


@pytest.fixture()
def quick_renderer():
    """The app's shared render pool, with a short wall time limit for this test."""
    previous = chart_render._shared
    renderer = chart_render._shared = ChartRenderer(RenderLimits(timeout_s=TIMEOUT_S, workers=2))
    renderer.warm_up()
    try:
        yield renderer
    finally:
        chart_render._shared = previous
        renderer.close()


def save(client, headers, title="Events by type", spec=BAR):
    response = client.post(A + "/visualizations", headers=headers, json={"title": title, "sql": SQL, "spec": spec})
    assert response.status_code == 201, response.text
    return response.json()


def test_only_the_owner_or_an_admin_changes_or_deletes(api):
    client, who, _ = api
    viz = save(client, who["inst_a"])
    path = A + f"/visualizations/{viz['id']}"
    assert viz["can_edit"] is True
    seen = client.get(path, headers=who["inst_a2"])
    assert seen.status_code == 200 and seen.json()["can_edit"] is False
    listed = {v["id"]: v for v in client.get(A + "/visualizations", headers=who["inst_a2"]).json()}
    assert listed[viz["id"]]["can_edit"] is False
    assert client.post(path + "/run", headers=who["inst_a2"]).status_code == 200

    edit = client.put(path, headers=who["inst_a2"], json={"title": "mine now", "sql": SQL, "spec": BAR})
    assert edit.status_code == 403 and edit.json()["error"]["kind"] == "forbidden"
    assert "owner" in edit.json()["error"]["message"]
    assert client.delete(path, headers=who["inst_a2"]).status_code == 403
    assert client.get(path, headers=who["inst_a"]).json()["title"] == "Events by type"

    assert (
        client.put(path, headers=who["inst_a"], json={"title": "Renamed", "sql": SQL, "spec": BAR}).status_code == 200
    )
    by_admin = client.put(path, headers=who["admin"], json={"title": "Moderated", "sql": SQL, "spec": BAR})
    assert by_admin.status_code == 200 and by_admin.json()["can_edit"] is True
    assert client.delete(path, headers=who["admin"]).status_code == 200
    assert client.get(path, headers=who["inst_a"]).status_code == 404


def test_others_in_the_scope_save_a_copy_as_their_own(api):
    client, who, _ = api
    original = save(client, who["inst_a"], title="Shared chart")
    copied = client.post(A + f"/visualizations/{original['id']}/copy", headers=who["inst_a2"])
    assert copied.status_code == 201, copied.text
    mine = copied.json()
    assert mine["id"] != original["id"] and mine["title"] == "Shared chart (copy)"
    assert mine["created_by"] != original["created_by"] and mine["can_edit"] is True
    assert mine["sql"] == original["sql"] and mine["spec"] == original["spec"]
    renamed = client.put(
        A + f"/visualizations/{mine['id']}",
        headers=who["inst_a2"],
        json={"title": "My version", "sql": SQL, "spec": {**BAR, "mark": "line"}},
    )
    assert renamed.status_code == 200
    assert client.get(A + f"/visualizations/{original['id']}", headers=who["inst_a"]).json()["spec"] == BAR
    titled = client.post(A + f"/visualizations/{original['id']}/copy", headers=who["inst_a2"], json={"title": "Named"})
    assert titled.status_code == 201 and titled.json()["title"] == "Named"
    assert (
        client.post(
            f"/api/v1/sections/chem-fall/analytics/visualizations/{original['id']}/copy", headers=who["inst_b"]
        ).status_code
        == 404
    )
    for viz_id, role in ((mine["id"], "inst_a2"), (titled.json()["id"], "inst_a2"), (original["id"], "inst_a")):
        assert client.delete(A + f"/visualizations/{viz_id}", headers=who[role]).status_code == 200


def test_the_exfiltration_spec_is_refused_on_save_update_and_export(api):
    client, who, _ = api
    before = client.get(A + "/visualizations", headers=who["admin"]).json()
    saved = client.post(
        A + "/visualizations", headers=who["inst_a"], json={"title": "innocent", "sql": SQL, "spec": EXFILTRATION}
    )
    assert saved.status_code == 400, saved.text
    error = saved.json()["error"]
    assert error["kind"] == "spec" and error["path"].startswith("$.layer[1].layer[0].data")
    assert "$.layer[1].layer[0].data" in error["message"]
    assert client.get(A + "/visualizations", headers=who["admin"]).json() == before

    viz = save(client, who["inst_a"])
    update = client.put(
        A + f"/visualizations/{viz['id']}", headers=who["inst_a"], json={"title": "t", "sql": SQL, "spec": EXFILTRATION}
    )
    assert update.status_code == 400 and update.json()["error"]["kind"] == "spec"
    assert client.get(A + f"/visualizations/{viz['id']}", headers=who["inst_a"]).json()["spec"] == BAR
    for fmt in ("png", "svg"):
        export = client.post(
            A + f"/export?format={fmt}", headers=who["inst_a"], json={"sql": SQL, "spec": EXFILTRATION}
        )
        assert export.status_code == 400 and export.json()["error"]["kind"] == "spec", export.text
    assert client.delete(A + f"/visualizations/{viz['id']}", headers=who["inst_a"]).status_code == 200


def test_a_spec_stored_before_the_sanitizer_is_flagged_and_never_run_copied_or_exported(api):
    client, who, runtime = api
    with runtime.sessions() as session:
        legacy = SavedVisualization(scope="section", scope_id=101, title="legacy", sql=SQL, spec=EXFILTRATION)
        session.add(legacy)
        session.commit()
        viz_id = legacy.id
    path = A + f"/visualizations/{viz_id}"
    shown = client.get(path, headers=who["admin"]).json()
    assert shown["spec_refusal"] and "$.layer[1].layer[0].data" in shown["spec_refusal"]
    assert shown["can_edit"] is True
    for method, suffix in (
        ("post", "/run"),
        ("post", "/copy"),
        ("get", "/export?format=png"),
        ("get", "/export?format=svg"),
    ):
        response = getattr(client, method)(path + suffix, headers=who["admin"])
        assert response.status_code == 400 and response.json()["error"]["kind"] == "spec", (suffix, response.text)
    assert client.delete(path, headers=who["admin"]).status_code == 200


def test_a_huge_png_export_fails_fast_and_the_server_stays_up(api, quick_renderer):
    client, who, _ = api
    started = time.monotonic()
    huge = client.post(
        A + "/export?format=png",
        headers=who["inst_a"],
        json={"sql": SQL, "spec": {**BAR, "width": 100000, "height": 100000}},
    )
    assert huge.status_code == 400 and "$.width" in huge.json()["error"]["message"]
    assert time.monotonic() - started < 5

    # Within the sanitizer's bounds but past the pixel limit: the child refuses before allocating.
    big = client.post(
        A + "/export?format=png",
        headers=who["inst_a"],
        json={"sql": SQL, "spec": {**BAR, "width": 4000, "height": 4000}},
    )
    assert big.status_code == 400 and big.json()["error"]["kind"] == "too_large", big.text
    assert "pixels" in big.json()["error"]["message"]

    # Slow to draw: the export fails at the wall time limit while other requests are served meanwhile.
    slow = {
        "layer": [
            {
                "data": {"sequence": {"start": 0, "stop": 100000, "as": "x"}},
                "mark": "point",
                "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "x", "type": "quantitative"}},
            }
        ]
        * 20
    }
    outcome = {}

    def export_slow():
        began = time.monotonic()
        outcome["response"] = client.post(
            A + "/export?format=png", headers=who["inst_a"], json={"sql": SQL, "spec": slow}
        )
        outcome["seconds"] = time.monotonic() - began

    worker = threading.Thread(target=export_slow)
    worker.start()
    time.sleep(0.5)
    served = time.monotonic()
    assert client.get(A + "/summary", headers=who["inst_a"]).status_code == 200
    small = client.post(A + "/export?format=png", headers=who["inst_a"], json={"sql": SQL, "spec": BAR})
    assert small.status_code == 200 and small.content.startswith(b"\x89PNG")
    assert time.monotonic() - served < 3
    worker.join(30)
    assert outcome["response"].status_code == 422, outcome["response"].text
    assert outcome["response"].json()["error"]["kind"] == "timeout"
    assert outcome["seconds"] < TIMEOUT_S + 2.0
    assert (
        client.post(A + "/export?format=svg", headers=who["inst_a"], json={"sql": SQL, "spec": BAR}).status_code == 200
    )
