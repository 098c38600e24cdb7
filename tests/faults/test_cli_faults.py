"""The command line under faults: one line saying what is wrong (and exit 1), never a traceback unless --debug,
and no process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import free_port, postgres_processes_under

pytestmark = pytest.mark.faults


def _xolap(args: list[str], data_dir: Path | str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent.toml", **extra})
    return subprocess.run(
        [sys.executable, "-m", "xolap.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(result.stderr.strip().splitlines()) <= 3, result.stderr
    return errors[0]


def test_unmigrated_postgres_is_one_line_and_leaves_no_postgres(service_data_dir):
    error = _one_line_error(_xolap(["users", "list"], service_data_dir))
    assert "not migrated" in error and "xolap db migrate" in error
    assert postgres_processes_under([service_data_dir]) == []
    debug = _xolap(["users", "list", "--debug"], service_data_dir)
    assert debug.returncode != 0 and "Traceback" in debug.stderr  # --debug keeps the trace


@pytest.mark.parametrize(
    "data_dir, words", [("/sys/xolap-faults", "cannot write"), ("/proc/xolap-faults/var", "does not exist")]
)
def test_unusable_data_dir_is_one_line(data_dir, words):
    for args in (["users", "list"], ["serve", "--port", str(free_port())]):
        error = _one_line_error(_xolap(args, data_dir))
        assert words in error and "xolap-faults" in error


def test_serve_with_unreachable_clickhouse_is_one_line(service_data_dir, closed_port):
    result = _xolap(
        ["serve", "--port", str(free_port())], service_data_dir, XOLAP_CLICKHOUSE_URL=f"http://127.0.0.1:{closed_port}"
    )
    error = _one_line_error(result)
    assert "ClickHouse" in error and str(closed_port) in error
    assert postgres_processes_under([service_data_dir]) == []
