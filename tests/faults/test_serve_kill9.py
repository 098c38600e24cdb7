"""kill -9 of `xolap serve`: its embedded Postgres survives the kill (an orphan); the next `xolap serve` on the
data dir adopts it and its clean stop stops it, so nothing is left running. While a server runs, a second process
on the data dir is told who holds it, in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from faults_support import report

from serve_process import ServeDidNotStart, start_serve
from support import free_port, postgres_processes_under, stop_orphan_postgres

pytestmark = pytest.mark.faults


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent.toml"})
    return env


def _serve(data_dir: Path, port: int) -> tuple[subprocess.Popen, float]:
    """A healthy `xolap serve` on data_dir and the seconds it took to become healthy."""
    try:
        server = start_serve(_env(data_dir), port=port, timeout=90)
    except ServeDidNotStart as exc:
        pytest.fail(str(exc))
    return server.process, server.started_s


def _postmaster(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


def test_kill_9_orphan_postgres_is_adopted_and_stopped_by_the_next_clean_stop(service_data_dir):
    data_dir, port = service_data_dir, free_port()
    server, _ = _serve(data_dir, port)
    try:
        # CLI commands go through the running server; a second process that opens the engine itself is told who
        # holds the data dir, in one line, not chDB's BAD_ARGUMENTS.
        env = _env(data_dir)
        through = subprocess.run(
            [sys.executable, "-m", "xolap.cli", "analytics", "health"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert through.returncode == 0, through.stderr
        opener = (
            "from xolap.config import load_settings; from xolap.clickhouse.client import connect; "
            "connect(load_settings())"
        )
        second = subprocess.run([sys.executable, "-c", opener], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        last = second.stderr.strip().splitlines()[-1]
        assert "ClickHouseUnavailable" in last and f"pid {server.pid}" in last and "xolap serve" in last, second.stderr
        assert "BAD_ARGUMENTS" not in last

        orphan = _postmaster(data_dir)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        assert psutil.pid_exists(orphan)  # the fault: Postgres outlives the killed server

        server, restart_s = _serve(data_dir, port)
        adopted = _postmaster(data_dir)
        server.send_signal(signal.SIGINT)
        server.wait(60)
        psutil.wait_procs(
            [p for p in (psutil.Process(pid) for pid in {orphan, adopted} if psutil.pid_exists(pid))], timeout=15
        )
        left = postgres_processes_under([data_dir])
        assert left == [], left
        report("kill -9 of xolap serve (restart until healthy)", restart_s, 0, 0)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        stop_orphan_postgres(data_dir)


def test_sigterm_stops_the_server_and_its_embedded_postgres(service_data_dir):
    """systemd and docker stop a service with SIGTERM: it is a clean stop like Ctrl-C, Postgres included."""
    data_dir = service_data_dir
    server, _ = _serve(data_dir, free_port())
    postmaster = _postmaster(data_dir)
    try:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        psutil.wait_procs([psutil.Process(postmaster)] if psutil.pid_exists(postmaster) else [], timeout=15)
        assert postgres_processes_under([data_dir]) == []
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        stop_orphan_postgres(data_dir)
