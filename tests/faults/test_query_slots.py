"""Many custom queries at once cannot take the server's threads: at most XOLAP_QUERY_CONCURRENCY run, the others wait
for a slot without holding a thread, and pages, /healthz, progress and Cancel keep answering meanwhile. Through a real
server, with an instructor's session, 2 slots and more long queries than slots on each route that runs user SQL."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from web.test_authz import ALL_FLAGS_ON, SECTION_A, LiveServer, login, set_flags
from xolap.store import accounts
from xolap.store.models import Project, Section
from xolap.web.app import create_app

SLOTS = 2
# long enough to be seen running, stopped by its Cancel (ClickHouse checks between blocks of 65k rows)
LONG_SQL = (  # {seed}: each query its own (identical ones wait for one answer)
    "SELECT sum(cityHash64(n, m, {seed})) AS slot_probe FROM (SELECT arrayJoin(range(1000000)) AS n) AS a "
    "CROSS JOIN (SELECT arrayJoin(range(100000)) AS m) AS b"
)
PATIENCE_S = 30.0


@pytest.fixture()
def instructor(runtime):
    runtime.settings = runtime.settings.model_copy(update={"query_concurrency": SLOTS, "query_max_execution_time": 60})
    with runtime.sessions() as session:
        session.add_all(
            [Project(id=7, slug="proj-p", title="P"), Section(id=11, slug=SECTION_A, title="A", project_id=7)]
        )
        session.add(Section(id=12, slug="sec-b", title="B", project_id=7))
        session.flush()
        user = accounts.create_user(session, "teacher@example.org", password="pass word 1")
        accounts.grant(session, user, section=accounts.resolve_section(session, SECTION_A))
        session.commit()
    set_flags(runtime, ALL_FLAGS_ON)
    with LiveServer(create_app(runtime)) as live:
        creds = login(live, "teacher@example.org", "pass word 1")
        headers = {"Accept": "application/json", "Cookie": f"xolap_session={creds.cookie}", "X-CSRF-Token": creds.csrf}
        yield runtime, f"http://127.0.0.1:{live.port}", headers


def running_probes(runtime) -> int:
    rows = (
        runtime.clickhouse()
        .query(
            "SELECT count() FROM system.processes WHERE startsWith(query, '/* xolap:q-') AND position(query, 'slot_probe') > 0"
        )
        .result_rows
    )
    return int(rows[0][0])


def test_queries_beyond_the_slots_wait_without_taking_threads(instructor):
    runtime, base, headers = instructor
    query_url = f"{base}/api/v1/sections/{SECTION_A}/analytics/query"
    tags = [f"q-{n:016x}" for n in range(1, 2 * SLOTS + 3)]
    answers: dict[str, int] = {}

    def send(tag: str) -> None:
        with httpx.Client(timeout=PATIENCE_S * 2) as client:
            answers[tag] = client.post(
                query_url, json={"sql": LONG_SQL.format(seed=int(tag[2:], 16)), "tag": tag}, headers=headers
            ).status_code

    threads = [threading.Thread(target=send, args=(tag,), daemon=True) for tag in tags]
    for thread in threads:
        thread.start()
    peak, deadline = 0, time.monotonic() + PATIENCE_S
    with httpx.Client(timeout=PATIENCE_S) as client:
        while peak < SLOTS and time.monotonic() < deadline:
            peak = max(peak, running_probes(runtime))
        assert peak == SLOTS, f"{peak} queries running"
        for _ in range(5):  # every request is sent by now; the others wait for a slot, holding no thread
            peak = max(peak, running_probes(runtime))
            assert client.get(f"{base}/healthz").status_code == 200
            assert client.get(f"{base}/sections/{SECTION_A}/analytics", headers=headers).status_code == 200
        assert peak == SLOTS, f"{peak} queries ran at once with {SLOTS} slots"
        for tag in tags:  # Cancel answers while the slots are full; a waiting query is stopped before it starts
            cancel = client.post(f"{query_url}/{tag}/cancel", headers=headers)
            assert cancel.status_code == 200, cancel.text[:200]
        deadline = time.monotonic() + PATIENCE_S
        while len(answers) < len(tags) and time.monotonic() < deadline:
            # a Cancel landing after a query took its tag but before ClickHouse started it finds nothing to stop
            # (query_waits has not registered the call yet): send it again, as the page's button would be pressed
            for tag in set(tags) - set(answers):
                client.post(f"{query_url}/{tag}/cancel", headers=headers)
            time.sleep(0.2)
    for thread in threads:
        thread.join(PATIENCE_S)
    assert answers == dict.fromkeys(tags, 409), answers  # every one cancelled, none ran to its end
    assert running_probes(runtime) == 0


def test_a_query_that_finds_no_free_slot_within_its_time_limit_is_a_503_busy(runtime):
    import anyio
    from fastapi import FastAPI
    from starlette.requests import Request

    from xolap.web.query_slots import run_user_sql

    runtime.settings = runtime.settings.model_copy(update={"query_concurrency": 1, "query_max_execution_time": 1})
    app = FastAPI()
    app.state.runtime = runtime
    request = Request({"type": "http", "app": app, "method": "POST", "path": "/", "headers": []})
    release, holding = threading.Event(), threading.Event()

    def hold_the_slot() -> str:
        holding.set()
        release.wait(PATIENCE_S)
        return "held"

    async def scenario() -> tuple[object, object]:
        async with anyio.create_task_group() as group:
            first: list[object] = []

            async def run_first() -> None:
                first.append(await run_user_sql(request, hold_the_slot))

            group.start_soon(run_first)
            await anyio.to_thread.run_sync(holding.wait, PATIENCE_S)
            second = await run_user_sql(request, lambda: "ran")  # waits its 1 s limit for the only slot
            release.set()
        return first[0], second

    first, second = anyio.run(scenario)
    assert first == "held"
    assert second.status_code == 503 and second.headers["Retry-After"]
    assert b'"kind":"busy"' in second.body and b"(1)" in second.body
