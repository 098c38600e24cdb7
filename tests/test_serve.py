"""`xolap serve` as a user runs it: healthz green, a second serve refused naming the holder, clean Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from serve_process import start_serve
from support import free_port
from xolap.serve_lock import DataDirBusy, ServeLock, read_holder


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent.toml"})
    return env


def _xolap(*args: str) -> list[str]:
    return [sys.executable, "-m", "xolap.cli", *args]


def _postmasters(data_dir: Path) -> int:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if "postgres -D" in line and str(data_dir) in line)


def _chart_renderers(parent: int) -> list[int]:
    """The chart renderer children (xolap.analytics.chart_render) of process `parent`."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return [
        int(pid)
        for pid, ppid, args in (line.split(None, 2) for line in out.splitlines()[1:] if len(line.split(None, 2)) == 3)
        if int(ppid) == parent and "xolap.analytics.chart_render" in args
    ]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_lock_names_the_holder(tmp_path):
    with ServeLock(tmp_path, url="http://127.0.0.1:1234"):
        with pytest.raises(DataDirBusy, match=r"in use by `xolap serve` \(pid \d+, http://127.0.0.1:1234"):
            ServeLock(tmp_path, url="http://127.0.0.1:9").acquire()
        assert read_holder(tmp_path)["url"] == "http://127.0.0.1:1234"
    assert read_holder(tmp_path) is None  # released: nobody holds it
    ServeLock(tmp_path, url="x").acquire()  # and it can be taken again


@pytest.mark.slow
def test_serve_end_to_end(service_data_dir):
    data_dir = service_data_dir
    server = start_serve(_env(data_dir), log_path=data_dir.parent / "serve.log", timeout=90)
    port = server.port
    try:
        body = httpx.get(f"{server.url}/healthz", timeout=2).json()
        assert body == {"status": "ok"}, body  # anonymous: up/down only
        from xolap.runtime import local_admin_token  # the file the server reads (created once, by whoever is first)

        admin = {"Authorization": f"Bearer {local_admin_token(data_dir)}"}
        body = httpx.get(f"http://127.0.0.1:{port}/healthz", headers=admin, timeout=5).json()
        assert body["ok"] is True, body
        assert body["clickhouse"]["embedded"] and body["postgres"]["embedded"]

        second = subprocess.run(
            _xolap("serve", "--port", str(free_port())), env=_env(data_dir), capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        message = " ".join((second.stdout + second.stderr).split())
        assert f"pid {server.pid}" in message and f"http://127.0.0.1:{port}" in message

        # The CLI reaches the running server instead of failing on the engine lock.
        status = subprocess.run(
            _xolap("ch", "migrate", "status"), env=_env(data_dir), capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr
        assert "raw_events" in status.stdout and "yes" in status.stdout

        # So does `xolap ingest`: the server ingests the file and the CLI reports its summary and exit code.
        sample = data_dir / "imports" / "sample.jsonl"  # under the server's ingest roots (XOLAP_INGEST_ROOTS default)
        sample.parent.mkdir(parents=True, exist_ok=True)
        sample.write_text(
            '{"actor":{"account":{"homePage":"h","name":"1"}},"verb":{"id":"http://id.tincanapi.com/verb/viewed"},'
            '"object":{"id":"o"},"timestamp":"2025-01-01T00:00:00Z"}\nnot json\n'
        )
        ingest = subprocess.run(
            _xolap("ingest", str(sample)), env=_env(data_dir), capture_output=True, text=True, timeout=120
        )
        assert ingest.returncode == 3, ingest.stderr
        assert "through http://127.0.0.1" in ingest.stderr and "1 row ingested" in " ".join(ingest.stderr.split())

        # the chart renderer was started at serve start, in the background (healthz answered meanwhile), not by an
        # export: one child, waiting for the first one
        assert _wait_for(lambda: len(_chart_renderers(server.pid)) == 1), server.log()
        renderers = _chart_renderers(server.pid)
    finally:
        code = server.stop()
    assert code == 0, server.log()
    assert _wait_for(lambda: not any(_alive(pid) for pid in renderers), 30), renderers  # it ends with the server
    assert _postmasters(data_dir) == 0  # embedded Postgres stopped
    assert read_holder(data_dir) is None  # no stale lock
    restarted = start_serve(
        _env(data_dir), port=port, timeout=90, healthy=lambda response: response.json()["status"] == "ok"
    )
    assert restarted.stop() == 0
