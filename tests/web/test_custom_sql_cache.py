"""Custom SQL answers through the result cache: a repeated query and its export are served without running again, only
to the scope that computed them, until a write to that scope; clock/random queries, titles and admin queries always
run; dates and limits are part of the key."""

from __future__ import annotations

import threading
import time

import anyio
import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, jsonl, module_runtime, page_view_statement
from xolap.analytics import custom_sql, executor
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"  # section 101, project 1
B = "/api/v1/sections/chem-fall/analytics"  # section 201, project 2
P = "/api/v1/projects/intro-physics/analytics"  # project 1


@pytest.fixture(scope="module")
def cache_world(base_settings, ch_engine, pg_template):
    yield from module_runtime(base_settings, ch_engine, pg_template, "cqcache")


@pytest.fixture()
def world(cache_world):
    runtime, tokens = cache_world
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}, runtime


def ask(client, who, path: str, sql: str, **extra) -> tuple[dict, str]:
    """(the query's JSON, X-Xolap-Cache)."""
    response = client.post(path + "/query", json={"sql": sql, **extra}, headers=who)
    assert response.status_code == 200, response.text
    return response.json(), response.headers.get("x-xolap-cache", "")


def stored(runtime, column: str, scope_id: int) -> int:
    """The scope's events counted straight from the table (each once)."""
    db = runtime.settings.clickhouse_database
    return (
        runtime.clickhouse()
        .query(f"SELECT count() FROM `{db}`.raw_events FINAL WHERE {column} = {scope_id}")
        .result_rows[0][0]
    )


def count_sql(label: str) -> str:
    """A query of its own (the alias names the test, so no other test warmed it)."""
    return f"SELECT count() AS {label} FROM raw_events"


def test_a_repeated_query_and_its_export_are_hits_with_the_same_rows(world):
    client, who, _ = world
    sql = "SELECT event_type, count() AS repeated FROM raw_events GROUP BY event_type ORDER BY event_type"
    first, state = ask(client, who["inst_a"], A, sql, tag="q-00000000000000a1")
    assert state == "miss"
    again, state = ask(client, who["inst_a"], A, sql, tag="q-00000000000000a2")
    assert state == "hit"
    assert again["rows"] == first["rows"] and again["columns"] == first["columns"]
    assert (first["tag"], again["tag"]) == ("q-00000000000000a1", "q-00000000000000a2"), (
        "each answer carries its own request's tag"
    )
    exported = client.post(A + "/export?format=csv", json={"sql": sql}, headers=who["inst_a"])
    assert exported.status_code == 200 and exported.headers["x-xolap-cache"] == "hit"
    lines = exported.text.strip().split("\r\n")
    assert lines[0] == "event_type,repeated" and len(lines) == len(first["rows"]) + 1


def test_scope_a_answer_is_never_served_to_scope_b(world):
    client, who, runtime = world
    sql = count_sql("scoped")
    a, _ = ask(client, who["inst_a"], A, sql)
    assert ask(client, who["inst_a"], A, sql)[1] == "hit"
    b, state = ask(client, who["inst_b"], B, sql)
    assert state == "miss", "section 201 runs its own query"
    assert a["rows"] == [[stored(runtime, "section_id", 101)]] and b["rows"] == [[stored(runtime, "section_id", 201)]]
    assert a["rows"] != b["rows"]
    project, state = ask(client, who["author"], P, sql)
    assert state == "miss" and project["rows"] == [[stored(runtime, "project_id", 1)]] != a["rows"]
    refused = client.post(B + "/query", json={"sql": sql}, headers=who["inst_a"])
    assert refused.status_code in (403, 404), "a kept answer of section 201 is not served to 101's instructor"


def test_a_new_event_is_visible_on_the_next_run_and_other_scopes_stay_kept(world):
    client, who, runtime = world
    sql = count_sql("fresh")
    (before,) = ask(client, who["inst_a"], A, sql)[0]["rows"][0]
    other = ask(client, who["inst_b"], B, sql)[0]["rows"]
    assert ask(client, who["inst_a"], A, sql)[1] == "hit"
    response = client.post(
        "/api/v1/statements",
        content=jsonl(page_view_statement("kept", 101, 1)),
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    after, state = ask(client, who["inst_a"], A, sql)
    assert state == "miss" and after["rows"] == [[before + 1]]
    export = client.post(A + "/export?format=json", json={"sql": sql}, headers=who["inst_a"])
    assert export.headers["x-xolap-cache"] == "hit" and export.json() == [{"fresh": before + 1}]
    kept, state = ask(client, who["inst_b"], B, sql)
    assert state == "hit" and kept["rows"] == other, "a write to section 101 leaves section 201's answer kept"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() AS n, max(timestamp) < now() AS past FROM raw_events",
        "SELECT count() AS n FROM raw_events WHERE timestamp > today() - 100000",
        "SELECT count() AS n, rand() AS r FROM raw_events",
        "SELECT count() AS n, toString(generateUUIDv4()) AS u FROM raw_events",
        "SELECT count() AS n FROM raw_events WHERE timestamp < CURRENT_TIMESTAMP",
        "SELECT count() AS n FROM raw_events AS e JOIN content_titles AS t ON t.content_id = toString(e.page_id)",
    ],
    ids=["now", "today", "rand", "uuid", "current-timestamp", "titles"],
)
def test_clock_random_and_titles_queries_run_every_time(world, sql):
    client, who, _ = world
    states = [ask(client, who["inst_a"], A, sql)[1] for _ in range(2)]
    assert states == ["miss", "miss"]


def test_dates_and_limits_are_part_of_the_key(world):
    client, who, runtime = world
    sql = count_sql("dated")
    (everything,) = ask(client, who["inst_a"], A, sql)[0]["rows"][0]
    dated, state = ask(client, who["inst_a"], A, sql, start="2000-01-01", end="2000-01-02")
    assert state == "miss" and dated["rows"] == [[0]] and everything > 0
    rows_sql = "SELECT event_type AS limited FROM raw_events"

    def run(max_rows: int) -> executor.QueryResult:
        return custom_sql.run_custom_sql(
            runtime.clickhouse(),
            runtime.settings,
            rows_sql,
            scope="section",
            scope_id=101,
            limits=custom_sql.limits_for(runtime.settings, max_rows=max_rows),
        )

    small = run(2)
    assert (small.cached, small.truncated, len(small.rows)) == (False, True, 2)
    large = run(10_000)
    assert (large.cached, large.truncated, len(large.rows)) == (False, False, stored(runtime, "section_id", 101))
    assert run(2).cached and run(10_000).cached


def test_admin_queries_are_never_kept(world):
    _, _, runtime = world
    sql = count_sql("admin_scope")
    results = [
        custom_sql.run_custom_sql(runtime.clickhouse(), runtime.settings, sql, scope="admin", scope_id=None)
        for _ in range(2)
    ]
    assert [result.cached for result in results] == [False, False]


def test_a_kept_answer_and_its_csv_need_no_worker_thread(world):
    """While every worker thread is busy (custom queries, exports, cold tabs under load), a kept answer is still
    served: from the event loop, without waiting for a thread."""
    client, who, _ = world
    sql = count_sql("loop")
    assert [ask(client, who["inst_a"], A, sql)[1] for _ in range(2)] == ["miss", "hit"]
    limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
    client.portal.call(setattr, limiter, "total_tokens", 1)
    borrower = object()
    client.portal.call(limiter.acquire_on_behalf_of_nowait, borrower)  # the only worker thread is taken
    released = threading.Event()  # set before the thread is given back: an answer that waited for it comes after

    def give_back() -> None:
        released.set()
        client.portal.call(limiter.release_on_behalf_of, borrower)

    release = threading.Timer(20, give_back)  # only a broken test waits this long
    release.start()
    try:
        kept, state = ask(client, who["inst_a"], A, sql)
        exported = client.post(A + "/export?format=csv", json={"sql": sql}, headers=who["inst_a"])
        assert not released.is_set(), "the kept answers waited for a worker thread"
        assert state == "hit" and exported.headers["x-xolap-cache"] == "hit"
        assert exported.text == f"loop\r\n{kept['rows'][0][0]}\r\n"
    finally:
        if release.is_alive():
            release.cancel()
            client.portal.call(limiter.release_on_behalf_of, borrower)


def test_a_query_waiting_for_an_identical_one_is_followed_and_cancelled_on_its_own(world):
    """Two tabs run the same kept query: the second waits for the first's computation. Its progress shows that
    query's rows, its Cancel ends its own wait at once, and the first goes on until its own Cancel."""
    client, who, _ = world
    sql = (
        "SELECT count() AS shared_wait FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c "
        "CROSS JOIN raw_events AS d CROSS JOIN raw_events AS e"
    )
    first_tag, second_tag = "q-00000000000001f1", "q-00000000000002f2"
    responses: dict = {}

    def post(tag: str) -> threading.Thread:
        def call() -> None:
            responses[tag] = client.post(A + "/query", json={"sql": sql, "tag": tag}, headers=who["inst_a"])

        thread = threading.Thread(target=call)
        thread.start()
        return thread

    def progress(tag: str) -> dict:
        return client.get(A + f"/query/{tag}/progress", headers=who["inst_a"]).json()

    def until(condition, within: float = 30.0):
        deadline = time.monotonic() + within
        while not (value := condition()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    first = post(first_tag)
    second = None
    try:
        assert until(lambda: progress(first_tag).get("elapsed_s", 0) > 0), "the first query never ran"
        second = post(second_tag)
        followed = until(lambda: (p := progress(second_tag)).get("rows_read", 0) > 0 and p)
        assert followed and followed["running"] is True, "the waiting tab shows the running query's rows"
        cancelled = client.post(A + f"/query/{second_tag}/cancel", headers=who["inst_a"]).json()
        assert cancelled == {"tag": second_tag, "cancelled": 1}
        second.join(1.0)
        assert not second.is_alive(), "the waiting tab's Cancel ends its wait at once"
        assert responses[second_tag].status_code == 409, responses[second_tag].text
        assert responses[second_tag].json()["error"]["kind"] == "cancelled"
        assert progress(first_tag)["running"] is True and first.is_alive(), "the first query goes on"
    finally:
        client.post(A + f"/query/{first_tag}/cancel", headers=who["inst_a"])
        client.post(A + f"/query/{second_tag}/cancel", headers=who["inst_a"])
        first.join(30)
        if second is not None:
            second.join(30)
    assert responses[first_tag].status_code == 409 and responses[first_tag].json()["error"]["kind"] == "cancelled"
