"""A failure to start the embedded Postgres says in one line which folder, why (initdb's or postgres's own words) and
what to do, from the CLI and `xolap serve` alike, and leaves whatever the folder held in place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import free_port, mounted_tmpfs
from xolap.store.postgres import EmbeddedPostgresFailed, start_embedded

ROOT = Path(__file__).resolve().parents[2]


def _xolap(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XOLAP_DATA_DIR": str(data_dir), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "xolap.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _assert_one_clear_line(done: subprocess.CompletedProcess[str], pgdata: Path, reason: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, done.stderr
    line = error_lines[0]
    assert str(pgdata) in line and reason in line and "XOLAP_DATA_DIR" in line, line
    assert "returned non-zero exit status" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "Failed postgres command" not in done.stderr, "pgserver's dump of initdb's output reached the terminal"


def test_a_folder_holding_other_files_is_named_with_initdbs_reason_and_its_files_stay(tmp_path):
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    (pgdata / "notes.txt").write_text("keep me")
    with pytest.raises(EmbeddedPostgresFailed) as failed:
        start_embedded(pgdata)
    message = str(failed.value)
    assert "\n" not in message
    assert f"the embedded Postgres in {pgdata} could not start (initdb)" in message
    assert "exists but is not empty" in message and "move away or empty" in message
    assert (pgdata / "notes.txt").read_text() == "keep me"


def test_a_file_where_the_folder_should_be_is_named(tmp_path):
    pgdata = tmp_path / "postgres"
    pgdata.write_text("not a folder")
    with pytest.raises(EmbeddedPostgresFailed, match="must be a folder") as failed:
        start_embedded(pgdata)
    assert str(pgdata) in str(failed.value)
    assert pgdata.read_text() == "not a folder"


def test_the_cli_prints_one_line_for_a_folder_initdb_refuses(tmp_path):
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    (pgdata / "notes.txt").write_text("keep me")
    _assert_one_clear_line(_xolap(tmp_path, "users", "list"), pgdata, "exists but is not empty")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs: too small for initdb (needs root and the right to mount; skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    with mounted_tmpfs(tmp_path / "tiny", "2m") as mountpoint:
        yield mountpoint


def test_a_full_disk_says_no_space_left_from_the_cli_and_serve(tiny_disk):
    pgdata = tiny_disk / "postgres"
    _assert_one_clear_line(_xolap(tiny_disk, "users", "list"), pgdata, "No space left on device")
    shutil.rmtree(pgdata, ignore_errors=True)
    _assert_one_clear_line(
        _xolap(tiny_disk, "serve", "--no-migrate", "--port", str(free_port())), pgdata, "No space left on device"
    )
