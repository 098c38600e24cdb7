"""Small helpers shared by tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import contextlib
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_processes_under(roots) -> list[tuple[int, str]]:
    """(pid, data dir) of running postmasters whose data dir (-D) lies under one of `roots`."""
    from pathlib import Path

    import psutil

    roots = [Path(r).resolve() for r in roots]
    found = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if not cmdline or Path(cmdline[0]).name != "postgres" or "-D" not in cmdline:
                continue
            data = Path(cmdline[cmdline.index("-D") + 1]).resolve()
        except (psutil.Error, IndexError, OSError):
            continue
        if any(data == root or root in data.parents for root in roots):
            found.append((process.info["pid"], str(data)))
    return found


def stop_orphan_postgres(data_dir) -> list[int]:
    """Stop a postmaster left running under data_dir (by a killed `xolap serve`); returns the pids stopped."""
    import psutil

    stopped = []
    for pid, _data in postgres_processes_under([data_dir]):
        try:
            process = psutil.Process(pid)
            process.terminate()  # SIGTERM: smart shutdown of the postmaster
            process.wait(15)
        except psutil.TimeoutExpired:
            process.kill()
        except psutil.NoSuchProcess:
            pass
        stopped.append(pid)
    return stopped


def xolap_cli(pg_settings, monkeypatch):
    """For a fixture (`yield from xolap_cli(pg_settings, monkeypatch)`): invoke(*args, **kw) runs `xolap …` in this
    process on the test's Postgres (settings from the environment, as the command reads them)."""
    from typer.testing import CliRunner

    from xolap.config import get_settings

    monkeypatch.setenv("XOLAP_DATABASE_URL", pg_settings.database_url)
    monkeypatch.setenv("XOLAP_DATA_DIR", str(pg_settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    from xolap.cli import app

    runner = CliRunner()
    yield lambda *args, **kw: runner.invoke(app, list(args), **kw)
    get_settings.cache_clear()


class RecordingClient:
    """A real ClickHouse client, with the SQL of every query and command it ran kept in `statements` (tests count
    what our code asks ClickHouse; nothing is answered in its place)."""

    def __init__(self, client):
        self.client = client
        self.statements: list[str] = []

    def query(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.client.query(sql, *args, **kwargs)

    def command(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.client.command(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


@contextlib.contextmanager
def mounted_tmpfs(mountpoint, size: str):
    """A tmpfs of `size` (e.g. "64m") mounted at `mountpoint` (made here) for the block; skips the test where one
    cannot be mounted (it needs root)."""
    import subprocess

    import pytest

    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
