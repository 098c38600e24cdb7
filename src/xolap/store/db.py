"""SQLAlchemy engine and sessions for the Postgres store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from xolap.config import Settings
from xolap.store import access_cache  # noqa: F401  (its session events clear cached access facts on writes)
from xolap.store.postgres import _sqlalchemy_url, libpq_url


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_engine(_sqlalchemy_url(url), pool_pre_ping=True, pool_size=10, max_overflow=10, future=True)


def engine(settings: Settings) -> Engine:
    return _engine_for(libpq_url(settings))


def sessions(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(engine(settings), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = sessions(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def postgres_status(settings: Settings) -> dict[str, object]:
    """Version and reachability of Postgres, for /healthz."""
    try:
        with engine(settings).connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        return {"ok": True, "version": version, "embedded": settings.database_url is None}
    except Exception as exc:
        return {"ok": False, "error": str(exc).splitlines()[0], "embedded": settings.database_url is None}
