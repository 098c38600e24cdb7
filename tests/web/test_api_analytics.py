"""The dashboards' JSON API: categories, guarded custom SQL, scope isolation, saved visualizations, exports, cancel."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, module_runtime, section_event_count
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"
A2 = "/api/v1/sections/physics-evening/analytics"
B = "/api/v1/sections/chem-fall/analytics"
P = "/api/v1/projects/intro-physics/analytics"
SPEC = {
    "mark": "bar",
    "encoding": {"x": {"field": "event_type", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
}


@pytest.fixture(scope="module")
def api_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "apia")


@pytest.fixture()
def api(api_world):
    runtime, tokens = api_world
    settings = runtime.settings
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}, runtime
    runtime.settings = settings


def test_category_runs_in_the_section_only(api):
    client, who, _ = api
    response = client.get(A + "/categories/cross_event", headers=who["inst_a"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enough_data"] is True
    assert "{xolap_scope_id:UInt64}" in body["sql"]
    assert body["parameters"]["xolap_scope_id"] == 101
    assert body["spec"]["data"]["values"] == body["rows"]
    count_column = next(c for c in body["columns"] if c in ("events", "event_count", "count"))
    assert sum(row[count_column] for row in body["rows"]) == section_event_count(101)


def test_dates_are_checked_and_filter(api):
    client, who, _ = api
    bad = client.get(A + "/categories/video?start=2026-13-01", headers=who["inst_a"])
    assert bad.status_code == 400 and "start" in bad.json()["error"]["message"]
    backwards = client.get(A + "/summary?start=2026-09-20&end=2026-09-01", headers=who["inst_a"])
    assert backwards.status_code == 400 and "after" in backwards.json()["error"]["message"]
    everything = client.get(A + "/summary", headers=who["inst_a"]).json()
    assert everything["total_events"] == section_event_count(101)
    nothing = client.get(A + "/summary?start=2027-01-01", headers=who["inst_a"]).json()
    assert nothing["total_events"] == 0 and nothing["event_types"] == []
    unknown = client.get(A + "/categories/nope", headers=who["inst_a"])
    assert unknown.status_code == 404 and "unknown category" in unknown.json()["error"]["message"]


def test_custom_sql_sees_only_its_section_even_when_asking_for_another(api):
    client, who, _ = api
    sql = "SELECT count() AS n, uniqExact(section_id) AS sections, max(section_id) AS sid FROM raw_events"
    body = client.post(A + "/query", json={"sql": sql}, headers=who["inst_a"]).json()
    assert body["rows"] == [[section_event_count(101), 1, 101]]
    assert body["truncated"] is False and body["columns"][0]["name"] == "n"
    widened = client.post(
        A + "/query",
        json={"sql": "SELECT count() FROM raw_events WHERE section_id = 201 OR 1 = 1"},
        headers=who["inst_a"],
    ).json()
    assert widened["rows"] == [[section_event_count(101)]]
    other = client.post(
        A + "/query", json={"sql": "SELECT count() FROM raw_events WHERE section_id = 201"}, headers=who["inst_a"]
    ).json()
    assert other["rows"] == [[0]]


@pytest.mark.parametrize(
    "sql, words",
    [
        ("DROP TABLE raw_events", "select"),
        ("SELECT * FROM system.tables", "system"),
        ("SELECT * FROM numbers(10)", "function"),
        ("SELECT 1; SELECT 2", "one"),
    ],
)
def test_guard_refusals_come_back_inline(api, sql, words):
    client, who, _ = api
    response = client.post(A + "/query", json={"sql": sql}, headers=who["inst_a"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["kind"] == "guard"
    assert words in error["message"].lower()


def test_query_errors_are_classified(api):
    client, who, _ = api
    response = client.post(A + "/query", json={"sql": "SELECT no_such_column FROM raw_events"}, headers=who["inst_a"])
    assert response.status_code == 400
    assert response.json()["error"]["kind"] in ("invalid", "server")
    assert "no_such_column" in response.json()["error"]["message"]
    empty = client.post(A + "/query", json={"sql": "   "}, headers=who["inst_a"])
    assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]


def test_truncated_results_are_flagged(api):
    client, who, runtime = api
    runtime.settings = runtime.settings.model_copy(update={"query_max_result_rows": 5})
    body = client.post(
        A + "/query", json={"sql": "SELECT user_id, timestamp FROM raw_events"}, headers=who["inst_a"]
    ).json()
    assert body["truncated"] is True and body["row_count"] == 5 and len(body["rows"]) == 5


def test_other_instructors_and_anonymous_are_refused_everywhere(api):
    client, who, _ = api
    for path in (
        "",
        "/summary",
        "/categories",
        "/categories/video",
        "/visualizations",
        "/query/q-0123456789abcdef/progress",
    ):
        assert client.get(A + path, headers=who["inst_b"]).status_code == 403, path
        assert client.get(A + path, headers={"Accept": "application/json"}).status_code == 401, path
        assert client.get(P + path, headers=who["inst_a"]).status_code == 403, path
    assert client.post(A + "/query", json={"sql": "SELECT 1"}, headers=who["inst_b"]).status_code == 403
    assert client.get(A2 + "/summary", headers=who["inst_a"]).status_code == 403
    assert client.get(A + "/summary", headers=who["admin"]).status_code == 200
    assert client.get(P + "/summary", headers=who["author"]).status_code == 200


def test_saved_visualizations_stay_in_their_scope(api):
    client, who, _ = api
    created = client.post(
        A + "/visualizations",
        headers=who["inst_a"],
        json={
            "title": "Events by type",
            "sql": "SELECT event_type, count() AS n FROM raw_events GROUP BY event_type",
            "spec": SPEC,
        },
    )
    assert created.status_code == 201, created.text
    viz = created.json()
    assert viz["scope"] == "section" and viz["scope_id"] == 101
    listed = client.get(A + "/visualizations", headers=who["inst_a"]).json()
    assert [v["id"] for v in listed] == [viz["id"]]
    ran = client.post(A + f"/visualizations/{viz['id']}/run", headers=who["inst_a"]).json()
    assert sum(row[1] for row in ran["rows"]) == section_event_count(101)
    assert ran["spec"]["data"]["values"][0].keys() == {"event_type", "n"}
    # the same id through another section (even by an admin who may see both) is not found
    assert client.get(A2 + f"/visualizations/{viz['id']}", headers=who["admin"]).status_code == 404
    assert client.post(A2 + f"/visualizations/{viz['id']}/run", headers=who["admin"]).status_code == 404
    assert client.get(A2 + "/visualizations", headers=who["admin"]).json() == []
    assert client.get(B + f"/visualizations/{viz['id']}", headers=who["inst_b"]).status_code == 404
    assert client.delete(B + f"/visualizations/{viz['id']}", headers=who["inst_b"]).status_code == 404
    updated = client.put(
        A + f"/visualizations/{viz['id']}",
        headers=who["inst_a"],
        json={"title": "Renamed", "sql": "SELECT 1 AS n", "spec": {}},
    )
    assert updated.status_code == 200 and updated.json()["title"] == "Renamed"
    refused = client.post(
        A + "/visualizations",
        headers=who["inst_a"],
        json={"title": "bad", "sql": "SELECT * FROM system.users", "spec": {}},
    )
    assert refused.status_code == 400 and refused.json()["error"]["kind"] == "guard"
    assert client.delete(A + f"/visualizations/{viz['id']}", headers=who["inst_a"]).status_code == 200
    assert client.get(A + f"/visualizations/{viz['id']}", headers=who["inst_a"]).status_code == 404


def test_exports_csv_json_svg_png(api):
    client, who, _ = api
    sql = "SELECT event_type, count() AS n FROM raw_events GROUP BY event_type ORDER BY event_type"
    as_csv = client.post(A + "/export?format=csv", json={"sql": sql}, headers=who["inst_a"])
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["event_type", "n"] and sum(int(r[1]) for r in rows[1:]) == section_event_count(101)
    as_json = client.post(A + "/export?format=json", json={"sql": sql}, headers=who["inst_a"]).json()
    assert {row["event_type"] for row in as_json} == {"page_viewed", "activity_attempt", "part_attempt", "video"}
    svg = client.post(A + "/export?format=svg", json={"sql": sql, "spec": SPEC}, headers=who["inst_a"])
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg") and "page_viewed" in svg.text
    png = client.post(A + "/export?format=png", json={"sql": sql, "spec": SPEC}, headers=who["inst_a"])
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    no_spec = client.post(A + "/export?format=png", json={"sql": sql}, headers=who["inst_a"])
    assert no_spec.status_code == 400 and "spec" in no_spec.json()["error"]["message"]
    broken = client.post(
        A + "/export?format=svg", json={"sql": sql, "spec": {"mark": "nonsense"}}, headers=who["inst_a"]
    )
    assert broken.status_code == 400 and broken.json()["error"]["kind"] == "spec"
    unknown = client.post(A + "/export?format=xlsx", json={"sql": sql}, headers=who["inst_a"])
    assert unknown.status_code == 400 and "format" in unknown.json()["error"]["message"]
    category_svg = client.get(A + "/categories/cross_event/export?format=svg", headers=who["inst_a"])
    assert category_svg.status_code == 200 and "<svg" in category_svg.text
    category_csv = client.get(A + "/categories/cross_event/export?format=csv", headers=who["inst_a"])
    assert 'filename="physics-fall-cross_event-first-latest.csv"' in category_csv.headers["content-disposition"]


def test_project_scope_and_section_comparison_uses_section_titles(api):
    client, who, _ = api
    body = client.get(P + "/categories/section_comparison", headers=who["author"]).json()
    assert {row["section"] for row in body["rows"]} == {"Physics · Fall cohort", "Physics · Evening cohort"}
    counted = client.post(P + "/query", json={"sql": "SELECT count() FROM raw_events"}, headers=who["author"]).json()
    assert counted["rows"] == [[section_event_count(101) + section_event_count(102)]]
    in_section = client.get(A + "/categories/section_comparison", headers=who["inst_a"])
    assert in_section.status_code == 400


def test_progress_and_cancel_are_bound_to_the_scope_that_started_the_query(api):
    client, who, _ = api
    tag = "q-00000000000000aa"
    # a cancel that arrives before its query starts still cancels it
    assert client.post(A + f"/query/{tag}/cancel", headers=who["inst_a"]).json() == {"tag": tag, "cancelled": 0}
    early = client.post(A + "/query", json={"sql": "SELECT 1", "tag": tag}, headers=who["inst_a"])
    assert early.status_code == 409 and early.json()["error"]["kind"] == "cancelled"
    assert client.get(A + f"/query/{tag}/progress", headers=who["inst_a"]).json() == {"tag": tag, "running": False}
    assert client.get(A + "/query/not-a-tag/progress", headers=who["inst_a"]).status_code == 400


def test_a_running_query_can_be_followed_and_cancelled(api):
    client, who, runtime = api
    runtime.settings = runtime.settings.model_copy(update={"query_max_execution_time": 6})
    # enough work to run for seconds: a five-way self join of the section's 120 events (~2.5e10 rows)
    sql = (
        "SELECT count() FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c "
        "CROSS JOIN raw_events AS d CROSS JOIN raw_events AS e"
    )
    tag = "q-0000000000000bbb"
    outcome: dict = {}

    def run():
        outcome["response"] = client.post(A + "/query", json={"sql": sql, "tag": tag}, headers=who["inst_a"])

    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 30  # a condition awaited: generous on a loaded machine
        progress: dict = {}
        while time.monotonic() < deadline:
            progress = client.get(A + f"/query/{tag}/progress", headers=who["inst_a"]).json()
            if progress["running"] and progress.get("elapsed_s", 0) > 0:
                break
            time.sleep(0.1)
        # another section can neither see nor stop it
        other_progress = client.get(B + f"/query/{tag}/progress", headers=who["inst_b"]).json()
        other_cancel = client.post(B + f"/query/{tag}/cancel", headers=who["inst_b"]).json()
        own_cancel = client.post(A + f"/query/{tag}/cancel", headers=who["inst_a"]).json()
    finally:
        worker.join(30)  # the query ends, cancelled or at the time limit, before the app shuts down
    assert not worker.is_alive()
    assert other_progress["running"] is False and other_cancel["cancelled"] == 0
    assert progress["running"] is True and progress["elapsed_s"] > 0
    assert own_cancel["cancelled"] >= 1
    response = outcome["response"]
    assert response.status_code == 409, response.text
    assert response.json()["error"]["kind"] == "cancelled"


def test_every_curated_chart_renders_on_the_server(api):
    client, who, _ = api
    for base, role in ((A, "inst_a"), (P, "author")):
        for category in client.get(base + "/categories", headers=who[role]).json():
            response = client.get(base + f"/categories/{category['key']}/export?format=svg", headers=who[role])
            if response.status_code == 400:
                assert response.json()["error"]["kind"] == "no_data", (category["key"], response.text)
            else:
                assert response.status_code == 200 and "<svg" in response.text, (category["key"], response.text[:300])


ROUTE_ATTACKS = [
    "SELECT DISTINCT section_id FROM raw_events AS system",
    "SELECT DISTINCT section_id FROM `raw\\x5fevents`",
    "WITH raw_events AS (SELECT * FROM raw_events) SELECT DISTINCT section_id FROM raw_events",
    "SELECT arrayJoin((SELECT groupUniqArray(section_id) FROM raw_events))",
    "SELECT DISTINCT section_id FROM raw_events EXCEPT SELECT 99",
    "SELECT DISTINCT o.section_id FROM raw_events AS r JOIN (SELECT * FROM raw_events WHERE section_id = 201) AS o ON 1",
    "SELECT DISTINCT section_id FROM (SELECT * FROM raw_events SETTINGS additional_table_filters = {'x': '1'})",
    "SELECT DISTINCT section_id FROM raw_events INTO OUTFILE 'answer.out'",
    "SELECT DISTINCT section_id FROM raw_events; SELECT 201",
    "SELECT DISTINCT section_id FROM merge(currentDatabase(), '^raw_events$')",
    "SELECT DISTINCT section_id FROM default.raw_events",
    "SELECT DISTINCT section_id FROM {t:Identifier}",
]


@pytest.mark.parametrize(("base", "role"), [(A, "inst_a"), (P, "author")])
def test_custom_sql_routes_refuse_attacks_or_answer_only_their_scope(api, base, role):
    """The section and project query and export routes: each attack is a worded 400 or an answer inside the scope
    (section 201 is chem-fall's, another project's)."""
    client, who, _ = api
    answered = {}
    for sql in ROUTE_ATTACKS:
        for route in ("/query", "/export?format=json"):
            response = client.post(base + route, json={"sql": sql}, headers=who[role])
            if response.status_code == 400:
                assert response.json()["error"]["message"], (sql, route)
                continue
            assert response.status_code == 200, (sql, route, response.text)
            body = response.json()
            rows = body["rows"] if route == "/query" else [list(record.values()) for record in body]
            answered[(sql, route)] = {row[0] for row in rows}
    assert answered and all(201 not in sections for sections in answered.values()), answered
    assert not Path("answer.out").exists()
    if base == A:
        assert all(sections <= {101} for sections in answered.values()), answered


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({**SPEC, "mark": "nosuchmark"}, '$.mark: unknown mark "nosuchmark"'),
        ({"layer": [SPEC, {**SPEC, "mark": {"type": "lines"}}]}, '$.layer[1].mark.type: unknown mark "lines"'),
        (
            {**SPEC, "encoding": {"x": {"field": "event_type", "type": "wrongtype"}}},
            '$.encoding.x.type: unknown type "wrongtype"',
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_a_chart_naming_an_unknown_mark_or_type_is_refused_in_plain_words(api, spec, words, fmt):
    client, who, _ = api
    sql = "SELECT event_type, count() AS n FROM raw_events GROUP BY event_type"
    answer = client.post(A + f"/export?format={fmt}", json={"sql": sql, "spec": spec}, headers=who["inst_a"])
    assert answer.status_code == 400 and answer.json()["error"]["kind"] == "spec", answer.text
    message = answer.json()["error"]["message"]
    assert words in message and "undefined" not in message, message
