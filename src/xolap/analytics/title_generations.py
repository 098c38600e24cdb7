"""Title generations: which writes may have changed a project's content titles, and which generations an answer's
titles were read under, so that anything kept with titles in it (titles known by xolap.analytics.title_lookup,
cached answers of xolap.analytics.result_cache) is not used after such a write.

Titles are written by content_titles_mv on every insert into raw_events (under the event's project, 0 when it has
none) and by the catalogue import (xolap.analytics.titles). Both report their writes to
xolap.clickhouse.data_version; a listener here moves a generation per project for writes that name their projects
(and project 0's, where rows without a project leave their titles) and per database for writes of unknown scopes
(catalogue imports, SQL files, backfill chunks, LRS voiding, migrations).

A section's answer depends on titles its own data version does not cover (a statement in another section of the
project renames a page), so an answer computed inside `recording()` carries the generations of the titles it showed
(`note`, called by the lookup), and is reused only while `unchanged(...)` holds for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from xolap.clickhouse import data_version

Generations = tuple[int, int]  # (database's, project's) generation
Used = tuple[tuple[str, int, Generations], ...]  # (database, project id, generations) of every project's titles shown

_lock = threading.Lock()
_database_generation: dict[str, int] = {}
_project_generation: dict[tuple[str, int], int] = {}
_counter = 0
_NEVER: Generations = (-1, -1)  # generations no write leaves current
_recordings: ContextVar[tuple[dict[tuple[str, int], Generations], ...]] = ContextVar("title_recordings", default=())


def _heard(database: str, sections: list[int] | None, projects: list[int] | None) -> None:
    """data_version listener: a write to `database`, of these projects (None with sections None: scopes unknown)."""
    global _counter
    with _lock:
        _counter += 1
        if sections is None and projects is None:
            _database_generation[database] = _counter
            return
        for project_id in (*(projects or ()), 0):
            _project_generation[(database, int(project_id))] = _counter


data_version.add_listener(_heard)


def current(database: str, project_id: int) -> Generations:
    """The generations of the project's titles now: they change after every write that may add or rename one."""
    return _database_generation.get(database, 0), _project_generation.get((database, project_id), 0)


def note(database: str, project_id: int, generations: Generations) -> None:
    """Titles of the project read (or known) under `generations` are being shown: every recording() around this call
    keeps them; a project noted under two different generations (a write in between) is kept as never unchanged."""
    for used in _recordings.get():
        key = (database, int(project_id))
        used[key] = generations if used.get(key, generations) == generations else _NEVER


@contextmanager
def recording() -> Iterator[dict[tuple[str, int], Generations]]:
    """Collects the generations of the titles noted within (on this thread or context), by (database, project)."""
    used: dict[tuple[str, int], Generations] = {}
    token = _recordings.set((*_recordings.get(), used))
    try:
        yield used
    finally:
        _recordings.reset(token)


def frozen(used: dict[tuple[str, int], Generations]) -> Used:
    return tuple((database, project_id, generations) for (database, project_id), generations in used.items())


def unchanged(used: Used) -> bool:
    """No write that may add or rename a title of these projects happened since their generations were noted."""
    return all(current(database, project_id) == generations for database, project_id, generations in used)
