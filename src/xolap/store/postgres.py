"""Where Postgres is: the configured DATABASE_URL, or an embedded pgserver under <data_dir>/postgres."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

from xolap.config import Settings

log = logging.getLogger(__name__)
_embedded: dict[Path, object] = {}


def _sqlalchemy_url(url: str) -> str:
    """Force the psycopg 3 driver in SQLAlchemy URLs."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
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
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        _embedded[pgdata] = server
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'xolap';").strip()
        if "1" not in exists.split():
            server.psql("CREATE DATABASE xolap;")
    return f"postgresql://postgres:@/xolap?host={quote(str(pgdata))}"


def stop_embedded() -> None:
    """Stop every embedded Postgres this process started."""
    for pgdata, server in list(_embedded.items()):
        try:
            server.cleanup()
        except Exception as exc:  # pragma: no cover - best effort at shutdown
            log.warning("stopping embedded Postgres in %s failed: %s", pgdata, exc)
        _embedded.pop(pgdata, None)


def libpq_url(settings: Settings) -> str:
    """A libpq/psycopg URL for the configured or embedded Postgres (starting the embedded one if needed)."""
    if settings.database_url:
        url = settings.database_url
        return url.replace("postgresql+psycopg://", "postgresql://", 1)
    return start_embedded(settings.postgres_dir)


def sqlalchemy_url(settings: Settings) -> str:
    return _sqlalchemy_url(libpq_url(settings))
