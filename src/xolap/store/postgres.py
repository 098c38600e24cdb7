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
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
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


class EmbeddedPostgresFailed(RuntimeError):
    """The embedded Postgres could not start; the message is one line: where, why (initdb's or postgres's own
    words) and what to do."""


_REASON = re.compile(r"(?:\b(?:FATAL|PANIC|ERROR):\s+|^(?:initdb|pg_ctl|postgres): error: )(?P<reason>.+)$", re.M)


def _reason_from_output(output: str) -> str | None:
    """The first error line that initdb, pg_ctl or postgres wrote (e.g. 'could not write to file …: No space left
    on device'), without its timestamp and level."""
    found = _REASON.search(output)
    return found.group("reason").strip() if found else None


def _what_to_do(reason: str, pgdata: Path) -> str:
    lowered = reason.lower()
    if "no space left" in lowered or "disk quota" in lowered:
        return f"free disk space on the file system of {pgdata.parent}, or point XOLAP_DATA_DIR at a disk with room"
    if "not empty" in lowered:
        return f"move away or empty {pgdata} (it holds files but no Postgres database), or set XOLAP_DATA_DIR"
    if "permission denied" in lowered or "read-only" in lowered or "not permitted" in lowered:
        return f"xolap cannot write to {pgdata.parent}: make it writable, or set XOLAP_DATA_DIR to a writable folder"
    if "no such file or directory" in lowered:
        return f"{pgdata.parent} does not exist and could not be made: create it, or set XOLAP_DATA_DIR to a folder"
    if "not a directory" in lowered or "file exists" in lowered:
        return f"{pgdata} must be a folder: move that file away, or set XOLAP_DATA_DIR"
    return f"see {pgdata / 'log'} if it exists, or set XOLAP_DATABASE_URL to a Postgres server"


class _OutputOfPgserver(logging.Handler):
    """Keeps what pgserver logs while it starts (it logs initdb's and the server log's text on a failure)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())


@contextmanager
def _explained_start_failure(pgdata: Path) -> Iterator[None]:
    """Turn any failure to create or start the embedded Postgres into EmbeddedPostgresFailed (one line), instead of
    "initdb … returned non-zero exit status 1" and pgserver's dump of initdb's output on stderr."""
    pgserver_log = logging.getLogger("pgserver")
    captured = _OutputOfPgserver()
    pgserver_log.addHandler(captured)
    propagate, pgserver_log.propagate = pgserver_log.propagate, False
    try:
        yield
    except (OSError, subprocess.SubprocessError) as exc:
        _forget_failed_server(pgdata)
        if isinstance(exc, OSError):
            where = f" {exc.filename}" if exc.filename else ""
            reason = f"{exc.strerror or exc}{':' + where if where else ''}"
            step = "creating its folder"
        else:
            output = "\n".join([*captured.texts, str(getattr(exc, "stderr", "") or "")])
            reason = _reason_from_output(output) or str(exc).strip().splitlines()[0]
            command = getattr(exc, "cmd", None)
            program = Path(str(command[0] if isinstance(command, list) and command else command or "")).name
            step = {"initdb": "initdb", "pg_ctl": "starting the server", "psql": "creating the xolap database"}.get(
                program, "starting"
            )
        log.debug("embedded Postgres output: %s", "\n".join(captured.texts))
        raise EmbeddedPostgresFailed(
            f"the embedded Postgres in {pgdata} could not start ({step}): {reason}; {_what_to_do(reason, pgdata)}"
        ) from exc
    finally:
        pgserver_log.removeHandler(captured)
        pgserver_log.propagate = propagate


def _forget_failed_server(pgdata: Path) -> None:
    """pgserver registers a half-made server before initdb: drop it, so a later try starts afresh."""
    import atexit

    from pgserver import PostgresServer

    half_made = PostgresServer._instances.pop(pgdata.resolve(), None)
    if half_made is not None:
        atexit.unregister(half_made._cleanup)
    _embedded.pop(pgdata.resolve(), None)


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded Postgres in `pgdata`; returns a libpq URL to the `xolap` database.

    Any failure to start it raises EmbeddedPostgresFailed, whose message names the folder, the reason in
    initdb's or postgres's own words, and what to do."""
    pgdata = pgdata.absolute()
    with _explained_start_failure(pgdata):
        return _start_embedded(pgdata)


def _start_embedded(pgdata: Path) -> str:
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
