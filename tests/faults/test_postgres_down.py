"""Postgres killed (kill -9 of the postmaster) under a running job worker, then started again: the worker's failure
is logged with its real reason and shown on health within a minute, API routes answer 503 with a JSON message
meanwhile, and the supervised worker comes back by itself and runs a backfill deferred after the restart exactly."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from bf_support import count_events, raw_rows, upload_bundles
from fastapi.testclient import TestClient
from faults_support import report, wait_for
from pydantic import SecretStr

from xolap.analytics.health import component_health
from xolap.backfill import service
from xolap.component_status import board
from xolap.jobs import WorkerThread
from xolap.runtime import Runtime
from xolap.store import migrate as pg_migrate
from xolap.store.postgres import running_postmaster, start_embedded, stop_embedded
from xolap.supervisor import Backoff

pytestmark = pytest.mark.faults
TOKEN = "faults-admin-token"
RAISE = bool(os.environ.get("H6_RAISE"))
FILES, LINES = 2, 40


@pytest.fixture()
def own_postgres():
    """A Postgres of this test alone (killing the session's would break other tests)."""
    root = Path(tempfile.mkdtemp(prefix="xolap-test-pg-"))
    pgdata = root / "postgres"
    url = start_embedded(pgdata)
    yield pgdata, url
    stop_embedded(pgdata)
    shutil.rmtree(root, ignore_errors=True)


def _kill_postmaster(pgdata: Path) -> None:
    pid = running_postmaster(pgdata)
    assert pid is not None
    children = psutil.Process(pid).children(recursive=True)
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs(children, timeout=15)  # backends notice the dead postmaster and exit


def test_job_worker_survives_a_postgres_crash(own_postgres, ch_db, moto_server, caplog):
    import boto3

    pgdata, url = own_postgres
    _client, ch_settings = ch_db
    settings = ch_settings.model_copy(
        update={
            "database_url": url,
            "s3_endpoint_url": moto_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "admin_token": SecretStr(TOKEN),
        }
    )
    pg_migrate.upgrade(settings)
    runtime = Runtime(settings)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = f"pgdown-{os.getpid()}-{int(time.time())}"
    s3.create_bucket(Bucket=bucket)
    upload_bundles(s3, bucket, "xapi/", files=FILES, lines=LINES)

    caplog.set_level(logging.WARNING)
    worker = runtime.workers["job_worker"] = WorkerThread(
        runtime.jobs,
        queues=["backfill"],
        concurrency=1,
        backoff=Backoff(0.5, 2.0),
        additional_context={"runtime": runtime},
    )
    worker.start()
    api = TestClient(
        __import__("xolap.web.app", fromlist=["create_app"]).create_app(runtime), raise_server_exceptions=False
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        assert component_health(runtime)["status"] == "ok"
        first = api.get("/api/v1/backfill/runs", headers=headers)
        assert first.status_code == 200, first.text

        _kill_postmaster(pgdata)
        killed_at = time.monotonic()
        _, visible_after = wait_for(
            lambda: (
                (board.get("job_worker") or board.get("postgres"))
                and component_health(runtime)["status"] == "down"
                and board.get("job_worker").ok is False
            ),
            timeout=60,
            interval=0.5,
        )
        health = component_health(runtime)
        assert health["status"] == "down" and {"postgres", "job_worker"} <= set(health["down"]), health
        reason = health["components"]["job_worker"]["last_error"]
        assert reason and reason.strip() not in ("", "None"), health["components"]["job_worker"]
        stopped_lines = [r.getMessage() for r in caplog.records if "job worker" in r.getMessage()]
        assert stopped_lines and all(not line.rstrip().endswith(":") for line in stopped_lines), stopped_lines

        answer = api.get("/api/v1/backfill/runs", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["component"] == "postgres" and "Traceback" not in answer.text

        start_embedded(pgdata)  # Postgres is back
        run = service.create_manual_run(runtime, s3_pattern=f"s3://{bucket}/xapi/**")
        done, _ = wait_for(
            lambda: service.get_run(runtime, "manual", run["id"])["status"] in ("completed", "failed"),
            timeout=60,
            interval=0.5,
        )
        state = service.get_run(runtime, "manual", run["id"])
        assert state["status"] == "completed", state
        assert worker.restarts >= 1 and worker.is_alive()
        healthy, _ = wait_for(lambda: component_health(runtime)["status"] == "ok", timeout=20, interval=0.5)
        assert healthy, component_health(runtime)
        expected = FILES * LINES
        assert (count_events(runtime), raw_rows(runtime)) == (expected, expected)
        report(
            "Postgres killed (job worker)",
            visible_after,
            expected - count_events(runtime),
            raw_rows(runtime) - expected,
        )
        assert visible_after < 60 and time.monotonic() - killed_at < 120
    finally:
        worker.stop()
        runtime.workers.clear()
