"""The data dir's disk full: an ingest is refused in one line naming the file and ClickHouse's reason (exit 1, nothing
stored), health's `disk` component is down (degraded) naming how much is free before the inserts start failing, and
once space is freed the same file goes in exactly once and the component is up again. Simulated with a small tmpfs
for XOLAP_DATA_DIR (needs root to mount; skipped otherwise), in subprocesses: one embedded ClickHouse a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import RecordingClient, mounted_tmpfs
from xolap.analytics.health import component_health

XOLAP = [sys.executable, "-m", "xolap.cli"]
HEALTH = """
import json
from xolap.analytics.health import component_health
from xolap.config import Settings
from xolap.runtime import Runtime
runtime = Runtime(Settings())
health = component_health(runtime)
count = runtime.clickhouse().query("SELECT count() FROM xolap.raw_events FINAL").result_rows[0][0]
print(json.dumps({"health": health, "events": count}, default=str))
"""


@pytest.fixture()
def small_disk(tmp_path: Path):
    with mounted_tmpfs(tmp_path / "disk", "64m") as mount:
        yield mount


def fill(mount: Path, leave_bytes: int) -> Path:
    """A file taking all but about leave_bytes of the disk."""
    stats = os.statvfs(mount)
    filler = mount / "filler"
    with filler.open("wb") as out:
        out.truncate(0)
        os.posix_fallocate(out.fileno(), 0, max(0, stats.f_bavail * stats.f_frsize - leave_bytes))
    return filler


def test_a_full_data_dir_refuses_ingest_visibly_and_the_same_file_goes_in_once_after(small_disk, pg_settings, tmp_path):
    env = {
        **os.environ,
        "XOLAP_DATA_DIR": str(small_disk / "var"),
        "XOLAP_DATABASE_URL": pg_settings.database_url,
        "XOLAP_CLICKHOUSE_DATABASE": "xolap",
    }
    env.pop("XOLAP_CLICKHOUSE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)

    def health() -> dict:
        done = run(sys.executable, "-c", HEALTH)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run(*XOLAP, "ch", "migrate", "setup").returncode == 0
    assert run(*XOLAP, "ch", "migrate", "up").returncode == 0
    statements = tmp_path / "events.jsonl"
    assert run(*XOLAP, "generate", "--events", "3000", "--seed", "5", "--out", str(statements)).returncode == 0

    filler = fill(small_disk, leave_bytes=256 * 1024)
    refused = run(*XOLAP, "ingest", str(statements))
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    said = refused.stdout + refused.stderr
    assert str(statements) in said and "NOT_ENOUGH_SPACE" in said and "Traceback" not in said, said
    state = health()
    disk = state["health"]["components"]["disk"]
    assert state["events"] == 0
    assert disk["ok"] is False and "free" in disk["last_error"] and str(small_disk) in disk["last_error"], disk
    assert state["health"]["status"] == "degraded" and "disk" in state["health"]["down"]

    filler.unlink()
    stored = run(*XOLAP, "ingest", str(statements))
    assert stored.returncode == 0, (stored.stdout, stored.stderr)
    state = health()
    assert state["events"] == 3000
    assert state["health"]["components"]["disk"]["ok"] is True


class HidesItsDisks(RecordingClient):
    """The real client, on a server whose profile keeps system.disks from this user."""

    def query(self, sql, *args, **kwargs):
        if "system.disks" in sql:
            raise RuntimeError("Code: 497. DB::Exception: Not enough privileges. (ACCESS_DENIED)")
        return super().query(sql, *args, **kwargs)


def test_a_server_that_keeps_its_disks_from_xolap_is_still_up(runtime, monkeypatch):
    real = runtime.clickhouse()
    monkeypatch.setattr(runtime, "clickhouse", lambda: HidesItsDisks(real))
    health = component_health(runtime)
    assert health["components"]["clickhouse"]["ok"] is True and "disk" not in health["components"], health
    monkeypatch.undo()
    assert component_health(runtime)["components"]["disk"]["ok"] is True
