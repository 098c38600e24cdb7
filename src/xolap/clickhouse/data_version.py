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

import threading
from collections.abc import Iterable
from typing import Any

_lock = threading.Lock()
_global: dict[str, int] = {}
_scoped: dict[tuple[str, str, int], int] = {}
_counter = 0  # one counter for every bump: a version never repeats, even across databases


def _next() -> int:
    global _counter
    _counter += 1
    return _counter


def bump(database: str, *, sections: Iterable[int] | None = None, projects: Iterable[int] | None = None) -> None:
    """Record a write to `database`: of these sections and projects, or (both None) of scopes not known."""
    with _lock:
        if sections is None and projects is None:
            _global[database] = _next()
            return
        for kind, ids in (("section", sections or ()), ("project", projects or ())):
            for scope_id in ids:
                if scope_id is not None:
                    _scoped[(database, kind, int(scope_id))] = _next()


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
