"""kill -9 of `xolap serve` in the middle of a write: a large HTTP ingest (`POST /api/v1/statements`), the dashboards'
first read of a section (which builds its rollups), and an LRS statement POST batch. After each restart /healthz is
ok; the client's retry of the same body stores each statement exactly once (event_hash, read FINAL), also when sent
once more after it landed; the dashboards' answers equal the raw count; the LRS retry answers 200 with the same ids
(no 409) and each statement is in raw_events once. The LRS window between its two writes is aimed at in-process:
test_lrs_crash_between_writes.py."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from faults_support import report

from cli_process import xolap_commands
from dashboard_support import jsonl, page_view_statement
from serve_process import ServeProcess, start_serve
from support import postgres_processes_under, stop_orphan_postgres

pytestmark = [pytest.mark.faults, pytest.mark.slow]  # three server starts: ~45 s on the shared machine

TOKEN = "kill9-admin-token"
STATEMENTS = 30_000  # ~12 MB of JSONL: the server is still reading or storing it when it is killed
LRS_STATEMENTS = 3_000  # ~5 s through the LRS on the shared machine
SCOPES_CSV = "kind,id,slug,title,project_id\nproject,1,kill-project,Kill project,\nsection,101,kill-section,Kill,1\nsection,102,kill-lrs,Kill LRS,1\n"
SECTION_API = "/api/v1/sections/kill-section/analytics"
ADMIN = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent.toml", "XOLAP_ADMIN_TOKEN": TOKEN})
    return env


def _raw_counts(server: ServeProcess, section: int = 101) -> tuple[int, int, int]:
    """(events read FINAL, distinct event hashes, distinct statement ids) of a section, through the admin query API."""
    sql = (
        "SELECT count(), uniqExact(event_hash), uniqExact(lower(statement_id)) FROM raw_events FINAL "
        f"WHERE section_id = {section}"
    )
    answer = httpx.post(
        f"{server.url}/api/v1/admin/query", json={"sql": sql, "scope": "admin"}, headers=ADMIN, timeout=60
    )
    assert answer.status_code == 200, answer.text
    row = answer.json()["rows"][0]
    return int(row[0]), int(row[1]), int(row[2])


def _kill_during(server: ServeProcess, request, after_s: float) -> BaseException | None:
    """Start request() in a thread, SIGKILL the server after_s later; what the request raised (None: it answered)."""
    outcome: dict[str, BaseException | None] = {"raised": None}

    def call() -> None:
        try:
            request()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["raised"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    time.sleep(after_s)
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(10)
    thread.join(30)
    server.stop()
    return outcome["raised"]


def test_kill_9_mid_ingest_and_mid_rollup_build_loses_and_doubles_nothing(service_data_dir):
    data_dir = service_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    scopes = data_dir.parent / "scopes.csv"
    scopes.write_text(SCOPES_CSV)
    env = _env(data_dir)
    said = xolap_commands(
        env,
        ["db", "migrate"],
        ["ch", "migrate", "up"],
        ["scopes", "import", str(scopes)],
        ["flags", "enable", "clickhouse-olap"],
        ["flags", "enable", "instructor_dashboard_analytics"],
        ["lrs", "credentials", "add", "--name", "kill9", "--json"],
    )
    credential = json.loads(said.strip().splitlines()[-1])
    lrs_auth = (credential["key"], credential["secret"])
    lrs_batch = [page_view_statement("lrs-kill9", section=102) for _ in range(LRS_STATEMENTS)]
    body = jsonl(*(page_view_statement("kill9", section=101) for _ in range(STATEMENTS)))
    server = start_serve(env, log_path=data_dir.parent / "serve.log")
    try:
        # (a) killed while it reads or stores the body: the client sees the connection drop
        def ingest() -> httpx.Response:
            return httpx.post(f"{server.url}/api/v1/statements", content=body, headers=ADMIN, timeout=120)

        raised = _kill_during(server, ingest, after_s=0.3)
        assert isinstance(raised, httpx.HTTPError), f"the ingest finished before the kill: {raised!r}"
        server = start_serve(env, log_path=data_dir.parent / "serve2.log")
        stored_before_retry = _raw_counts(server)[0]
        started = time.monotonic()
        retried = ingest()
        assert retried.status_code == 200 and retried.json()["accepted"] == STATEMENTS, retried.text[:300]
        assert _raw_counts(server) == (STATEMENTS, STATEMENTS, STATEMENTS)
        again = ingest()  # a retry of a request that did land (its answer lost): still once each
        assert again.status_code == 200, again.text[:300]
        assert _raw_counts(server) == (STATEMENTS, STATEMENTS, STATEMENTS)
        report("kill -9 mid HTTP ingest, client retry", time.monotonic() - started, 0, 0)

        # (c) killed while the first dashboard read builds the section's rollups
        def first_read() -> httpx.Response:
            return httpx.get(f"{server.url}{SECTION_API}/categories/cross_event", headers=ADMIN, timeout=120)

        cut = _kill_during(server, first_read, after_s=0.1)  # None: the build and answer beat the kill (idle machine)
        server = start_serve(env, log_path=data_dir.parent / "serve3.log")
        health = httpx.get(f"{server.url}/healthz", headers=ADMIN, timeout=30).json()
        assert health["status"] == "ok", health
        summary = httpx.get(f"{server.url}{SECTION_API}/summary", headers=ADMIN, timeout=60).json()
        assert summary["total_events"] == STATEMENTS
        series = httpx.get(f"{server.url}{SECTION_API}/categories/cross_event", headers=ADMIN, timeout=60).json()
        assert sum(row["events"] for row in series["rows"]) == STATEMENTS
        assert _raw_counts(server) == (STATEMENTS, STATEMENTS, STATEMENTS)

        # (b) killed during an LRS statement POST batch: the retry stores each once, ids unique, no 409
        def lrs_post() -> httpx.Response:
            return httpx.post(
                f"{server.url}/xAPI/statements",
                json=lrs_batch,
                auth=lrs_auth,
                headers={"X-Experience-API-Version": "1.0.3"},
                timeout=120,
            )

        lrs_cut = _kill_during(server, lrs_post, after_s=0.5)
        assert isinstance(lrs_cut, httpx.HTTPError), f"the LRS POST finished before the kill: {lrs_cut!r}"
        server = start_serve(env, log_path=data_dir.parent / "serve4.log")
        answered = lrs_post()
        assert answered.status_code == 200, answered.text[:300]
        assert answered.json() == [s["id"] for s in lrs_batch]
        assert _raw_counts(server, 102) == (LRS_STATEMENTS,) * 3
        print(f"\nstored before the retry: {stored_before_retry} of {STATEMENTS}; first read cut: {cut!r}")
    finally:
        if server.process.poll() is None:
            server.stop()
        stop_orphan_postgres(data_dir)
    assert postgres_processes_under([data_dir]) == []
