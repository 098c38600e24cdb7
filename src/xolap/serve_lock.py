"""The data-dir lock: one `xolap serve` per data dir, and a message naming the holder for whoever comes second."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import TextIO


class DataDirBusy(Exception):
    """Another process serves this data dir; the message names it."""


def lock_path(data_dir: Path) -> Path:
    return data_dir / "serve.lock"


def read_holder(data_dir: Path) -> dict | None:
    """Who holds the data dir, if anyone is running (a stale file from a killed process is ignored)."""
    path = lock_path(data_dir)
    if not path.exists():
        return None
    try:
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return json.loads(path.read_text() or "{}") or {"pid": "?"}
            fcntl.flock(handle, fcntl.LOCK_UN)
    except (OSError, ValueError):
        return None
    return None


class ServeLock:
    """An exclusive flock on <data_dir>/serve.lock holding JSON about the holder. The kernel drops the lock when
    the process dies, so a kill -9 leaves no stale lock."""

    def __init__(self, data_dir: Path, *, url: str):
        self.data_dir = data_dir
        self.url = url
        self._handle: TextIO | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = lock_path(self.data_dir)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            handle.close()
            raise DataDirBusy(describe_holder(self.data_dir, holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "url": self.url,
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> ServeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def describe_holder(data_dir: Path, holder: dict) -> str:
    return (
        f"data dir {data_dir} is in use by `xolap serve` (pid {holder.get('pid', '?')}, {holder.get('url', '?')}, "
        f"since {holder.get('since', '?')}); stop it first, or use its API"
    )
