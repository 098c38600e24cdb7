"""Data versions of this process per database and scope: every insert path reports what it wrote (rows_written), and
cached analytics results (xolap.analytics.result_cache) are keyed by the version of the scope they read, and the
rollup check memo (xolap.analytics.rollups.current_builds) reuses the builds it found current while it is unchanged:
a write path that forgets to bump leaves both serving answers from before its write.

A scope's version is the pair (database's global version, the scope's own version): a write that names its rows'
sections and projects bumps exactly those (a row without a section belongs to no section's dashboard); a write whose scopes are unknown or costly to read (the SQL file path, backfill chunks, titles)
bumps the database's global version, which every scope's version includes. Versions only grow and are per process:
embedded ClickHouse is opened by one process only, so every write goes through this one (server mode bounds what it
cannot see with the cache's short max age, see result_cache)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_global: dict[str, int] = {}
_scoped: dict[tuple[str, str, int], int] = {}
_counter = 0  # one counter for every bump: a version never repeats, even across databases

# Called after every bump with (database, sections, projects) as bump got them (both None: scopes not known). A
# listener must return at once (it runs on the writer's thread, after the write): e.g. note the scopes and wake a
# worker (xolap.analytics.rollup_maintenance rebuilds stale rollup slices in the background).
Listener = Callable[[str, "list[int] | None", "list[int] | None"], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> Callable[[], None]:
    """Call `listener` after every bump; returns the function that removes it."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def _next() -> int:
    global _counter
    _counter += 1
    return _counter


def bump(database: str, *, sections: Iterable[int] | None = None, projects: Iterable[int] | None = None) -> None:
    """Record a write to `database`: of these sections and projects, or (both None) of scopes not known."""
    named: dict[str, list[int] | None] = {"section": None, "project": None}
    with _lock:
        if sections is None and projects is None:
            _global[database] = _next()
        else:
            for kind, ids in (("section", sections or ()), ("project", projects or ())):
                named[kind] = [int(scope_id) for scope_id in ids if scope_id is not None]
                for scope_id in named[kind] or ():
                    _scoped[(database, kind, scope_id)] = _next()
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(database, named["section"], named["project"])
        except Exception as exc:  # noqa: BLE001 - a listener never fails the write it hears about
            log.warning("data version listener failed: %s", type(exc).__name__)


_schema: dict[str, int] = {}


def schema_changed(database: str) -> None:
    """A migration ran on `database` (tables may have been dropped, emptied or rewritten): every scope's version
    moves, and schema_version tells facts remembered about its tables (rollup builds seen complete) from older ones."""
    with _lock:
        _schema[database] = _next()
    bump(database)


def schema_version(database: str) -> int:
    """Changes whenever a migration ran on `database` in this process (0: none yet)."""
    return _schema.get(database, 0)


def version(database: str, kind: str, scope_id: int) -> tuple[int, int]:
    """The data version a cached result of this scope is valid for: (global version, the scope's own version)."""
    return _global.get(database, 0), _scoped.get((database, kind, int(scope_id)), 0)


def _distinct(table: Any, column: str) -> list[int] | None:
    if column not in table.column_names:
        return None
    import pyarrow.compute as pc

    return [value for value in pc.unique(table.column(column)).to_pylist() if value is not None]


def rows_written(database: str, table: Any = None) -> None:
    """The one call every insert path makes after writing rows of `database`: with the Arrow table of the rows
    written, the sections and projects named in it are bumped; with no table (or one without those columns), the
    global version is bumped."""
    if table is None:
        bump(database)
        return
    if table.num_rows == 0:
        return
    sections, projects = _distinct(table, "section_id"), _distinct(table, "project_id")
    if sections is None or projects is None:
        bump(database)
        return
    bump(database, sections=sections, projects=projects)


@contextmanager
def writing(database: str, table: Any = None) -> Iterator[None]:
    """Around a write of `database`: rows_written(database, table) once it ends, also when it raised. A write that
    raises may have landed (the connection lost after ClickHouse applied it, a DELETE's mutation run, a later block
    refused after earlier ones were stored): the versions move either way, so no cached answer from before it is
    served."""
    try:
        yield
    finally:
        rows_written(database, table)
