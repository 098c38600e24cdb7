"""Where Postgres is: the configured DATABASE_URL, or an embedded pgserver under <data_dir>/postgres.

The embedded server is shared by handles: pgserver lists the pids using it in <pgdata>/.handle_pids.json and the
last one to leave stops it. A kill -9 leaves its pid there for good, and then no clean stop ever stops that
Postgres again (stack-findings F). So before taking a handle, pids that are no longer running are dropped from the
list: a postmaster a killed `xolap serve` left behind is adopted, and stopped by this process's clean stop.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from xolap.config import Settings

if TYPE_CHECKING:
    from pgserver import PostgresServer

log = logging.getLogger(__name__)
_embedded: dict[Path, PostgresServer] = {}


def _sqlalchemy_url(url: str) -> str:
    """Force the psycopg 3 driver in SQLAlchemy URLs."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded Postgres in `pgdata`; returns a libpq URL to the `xolap` database."""
    runtime_dir = pgdata.parent / "run"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir.resolve()))  # pgserver's platformdirs warns without it
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver  # imported lazily: starting it is only for the embedded mode

    pgdata = pgdata.resolve()
    server = _embedded.get(pgdata)
    if server is None:
        pgdata.mkdir(parents=True, exist_ok=True)
        dropped = drop_dead_handles(pgdata)
        orphan = running_postmaster(pgdata)
        if dropped and orphan is not None and not live_handles(pgdata):
            log.warning(
                "adopting the embedded Postgres (pid %d) left running by a stopped process (pid %s); "
                "it stops with this one",
                orphan,
                ", ".join(map(str, dropped)),
            )
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        _embedded[pgdata] = server
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'xolap';").strip()
        if "1" not in exists.split():
            server.psql("CREATE DATABASE xolap;")
    elif running_postmaster(pgdata) is None:  # ours, but it died (killed, crashed): start it again
        log.warning("the embedded Postgres in %s is not running; starting it again", pgdata)
        with server._lock:  # pgserver's inter-process lock around start/stop
            server.ensure_postgres_running()
    return f"postgresql://postgres:@/xolap?host={quote(str(pgdata))}"


HANDLES_FILE = ".handle_pids.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_handles(pgdata: Path) -> list[int]:
    """Pids listed as using the embedded Postgres that are still running."""
    try:
        pids = json.loads((pgdata / HANDLES_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Remove pids of processes that are gone from pgserver's handle list; returns the removed pids."""
    path = pgdata / HANDLES_FILE
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    dead = [pid for pid in pids if not (isinstance(pid, int) and _pid_alive(pid))]
    if dead:
        path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


def running_postmaster(pgdata: Path) -> int | None:
    """The pid in <pgdata>/postmaster.pid when that process is running, else None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def embedded_dirs() -> set[Path]:
    """The data folders of the embedded Postgres servers this process started and has not stopped."""
    return set(_embedded)


def stop_embedded(pgdata: Path | None = None) -> None:
    """Stop every embedded Postgres this process started (or only the one in `pgdata`)."""
    for data, server in list(_embedded.items()):
        if pgdata is not None and data != Path(pgdata).resolve():
            continue
        pgdata_of_server = data
        try:
            server.cleanup()
        except Exception as exc:  # pragma: no cover - best effort at shutdown
            log.warning("stopping embedded Postgres in %s failed: %s", pgdata_of_server, exc)
        _embedded.pop(pgdata_of_server, None)


def libpq_url(settings: Settings) -> str:
    """A libpq/psycopg URL for the configured or embedded Postgres (starting the embedded one if needed)."""
    if settings.database_url:
        url = settings.database_url
        return url.replace("postgresql+psycopg://", "postgresql://", 1)
    return start_embedded(settings.postgres_dir)


def sqlalchemy_url(settings: Settings) -> str:
    return _sqlalchemy_url(libpq_url(settings))
