"""The running product's shared handles: settings, ClickHouse clients, Postgres sessions, the job app."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from xolap.clickhouse.client import thread_client
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.migrations import Migrator, RenderContext
from xolap.config import Settings
from xolap.jobs import connected
from xolap.store import migrate as pg_migrate
from xolap.store.db import sessions
from xolap.store.postgres import libpq_url


class InProcessWorker(Protocol):
    """A worker `xolap serve` runs in its own thread (jobs.WorkerThread, supervisor.Supervised), as health reads it."""

    @property
    def restarts(self) -> int: ...

    def is_alive(self) -> bool: ...


@dataclass
class Runtime:
    """One process's handles (settings, ClickHouse, Postgres sessions, jobs, workers), each attribute typed."""

    settings: Settings
    started_at: float = field(default_factory=time.time)
    _jobs: procrastinate.App | None = None
    # In-process workers by component name ("job_worker", "etl_worker"), set by `xolap serve`, read by health.
    workers: dict[str, InProcessWorker] = field(default_factory=dict)
    # Lines `xolap serve` prints under its ready message (the demo's logins), left by start-up hooks.
    announcements: list[str] = field(default_factory=list)

    def clickhouse(self) -> ClickHouseClient:
        """This thread's ClickHouse client."""
        return thread_client(self.settings)

    def migrator(self) -> Migrator:
        s = self.settings
        return Migrator(
            self.clickhouse(), RenderContext(s.clickhouse_database, s.clickhouse_cluster, s.raw_events_ttl_months)
        )

    @property
    def sessions(self) -> sessionmaker[Session]:
        return sessions(self.settings)

    @property
    def jobs(self) -> procrastinate.App:
        if self._jobs is None:
            self._jobs = connected(libpq_url(self.settings))
        return self._jobs

    def migrate_all(self) -> dict[str, list[str]]:
        """Apply pending Postgres and ClickHouse migrations."""
        pg_migrate.upgrade(self.settings)
        ran = self.migrator().up()
        return {"clickhouse_applied": [f"{m.version:04d}_{m.name}" for m in ran]}

    @property
    def admin_token(self) -> str:
        """The configured admin API token, or one generated once into <data_dir>/admin-token (mode 0600)."""
        if self.settings.admin_token is not None:
            return self.settings.admin_token.get_secret_value()
        return local_admin_token(self.settings.data_dir)


def local_secret(data_dir: Path, name: str, nbytes: int = 32) -> str:
    """A random secret generated once into <data_dir>/<name>, created with mode 0600 (never world-readable).

    The file appears complete or not at all (written under a private name, then hard-linked into place, which fails
    if another thread or process linked first), so concurrent first readers all get the one same secret: a reader
    between an exclusive create and its write would read an empty key. An empty file is refused, never used."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(nbytes))
            os.link(draft, path)
        except FileExistsError:
            pass  # another thread or process made it first: theirs is the secret
        finally:
            draft.unlink(missing_ok=True)
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it to have a new secret generated")
    return value


LOCAL_ADMIN_TOKEN_FILE = "admin-token"


def local_admin_token(data_dir: Path) -> str:
    return local_secret(data_dir, LOCAL_ADMIN_TOKEN_FILE)
