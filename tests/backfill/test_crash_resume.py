"""kill -9 of `xolap serve` in the middle of an inventory chunk, then a restart: the run resumes after the last
completed chunk and, in the end, exactly the expected events are visible (none lost, none doubled)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bf_support import upload_bundles, write_csv_manifest

from serve_process import ServeDidNotStart, start_serve
from support import free_port, postgres_processes_under, stop_orphan_postgres

FILES, LINES, CHUNK = 16, 2500, 2
TOKEN = "crash-test-token"


def _env(data_dir: Path, moto: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update(
        {
            "XOLAP_DATA_DIR": str(data_dir),
            "XOLAP_CONFIG_FILE": "/nonexistent.toml",
            "XOLAP_S3_ENDPOINT_URL": moto,
            "XOLAP_AWS_ACCESS_KEY_ID": "testing",
            "XOLAP_AWS_SECRET_ACCESS_KEY": "testing",
            "XOLAP_ADMIN_TOKEN": TOKEN,
        }
    )
    return env


def _serve(data_dir: Path, moto: str, port: int) -> subprocess.Popen:
    try:
        return start_serve(_env(data_dir, moto), port=port).process
    except ServeDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.mark.slow
@pytest.mark.faults
def test_kill_9_mid_chunk_then_restart_resumes_exactly(service_data_dir, moto_server):
    # service_data_dir, not tmp_path: pgserver's system user must traverse the path (see tests/conftest.py)
    try:
        _kill_9_mid_chunk_then_restart_resumes_exactly(service_data_dir, moto_server)
    finally:  # the killed server's Postgres must not outlive the test, whatever happened
        stop_orphan_postgres(service_data_dir)


def _kill_9_mid_chunk_then_restart_resumes_exactly(data_dir: Path, moto_server):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = f"crash-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    keys = upload_bundles(s3, bucket, "xapi/", files=FILES, lines=LINES)
    manifest = write_csv_manifest(s3, bucket, [[(bucket, k) for k in keys]])
    port = free_port()
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    server = _serve(data_dir, moto_server, port)
    try:
        run = api.post("/api/v1/backfill/runs/inventory", json={"manifest_url": manifest, "chunk_size": CHUNK}).json()
        path = f"/api/v1/backfill/runs/inventory/{run['id']}"
        deadline = time.time() + 120
        while time.time() < deadline:
            batches = api.get(path).json().get("batches") or []
            if batches and batches[0]["chunks_completed"] >= 2:
                chunks = api.get(f"/api/v1/backfill/batches/{batches[0]['id']}/chunks").json()
                if any(c["status"] == "running" for c in chunks):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the run never got two chunks done")
        os.kill(server.pid, signal.SIGKILL)  # mid-chunk: no cleanup of any kind
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
    interrupted = [c["chunk_index"] for c in chunks if c["status"] == "running"]
    completed_before = {c["chunk_index"] for c in chunks if c["status"] == "completed"}

    restarted = time.monotonic()
    server = _serve(data_dir, moto_server, port)  # adopts the Postgres the killed server left running
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            state = api.get(path).json()
            if state["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.3)
        assert state["status"] == "completed", state
        resumed_s = time.monotonic() - restarted
        batch = state["batches"][0]
        assert batch["chunks_completed"] == FILES // CHUNK and batch["rows_written"] >= FILES * LINES
        logs = api.get(f"/api/v1/backfill/batches/{batch['id']}/chunks").json()
        attempts = {c["chunk_index"]: c["attempts"] for c in logs}
        assert all(attempts[i] == 1 for i in completed_before)  # completed chunks were not redone
        assert all(attempts[i] == 2 for i in interrupted)  # the interrupted one was

        # The CLI finds the running server and goes through its API (list) and its SSE stream (watch).
        cli = [sys.executable, "-m", "xolap.cli", "backfill"]
        listed = subprocess.run(
            cli + ["list", "--json"], env=_env(data_dir, moto_server), capture_output=True, text=True, timeout=60
        )
        assert listed.returncode == 0, listed.stderr
        assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(run["id"], "completed")]
        watched = subprocess.run(
            cli + ["watch", f"inventory:{run['id']}"],
            env=_env(data_dir, moto_server),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert watched.returncode == 0, watched.stderr
        assert "→ completed" in watched.stdout and watched.stdout.count("chunk ") >= FILES // CHUNK
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    deadline = time.monotonic() + 10  # pg_ctl -w has stopped it by now; wait on the process list, not a fixed second
    while postgres_processes_under([data_dir]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert postgres_processes_under([data_dir]) == []  # the clean stop stopped the adopted Postgres too

    # The engine is free again: count in a separate process (this one may hold another chDB path).
    script = (
        "from xolap.config import load_settings; from xolap.clickhouse.client import connect; "
        "s = load_settings(); c = connect(s); db = s.clickhouse_database; "
        "print(c.query(f'SELECT count(), uniqExact(event_hash) FROM `{db}`.raw_events FINAL').result_rows[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=_env(data_dir, moto_server), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == f"({FILES * LINES}, {FILES * LINES})"
    print(
        f"\nFAULT | kill -9 of xolap serve mid-chunk (restart to completed) | visible after {resumed_s:.1f} s"
        f" | rows lost 0 | rows doubled 0"
    )
