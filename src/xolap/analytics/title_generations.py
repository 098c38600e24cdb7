"""Title generations: which writes may have changed a project's content titles or a scope's name, and which
generations an answer's titles were read under, so that anything kept with titles in it (titles known by
xolap.analytics.title_lookup, cached answers of xolap.analytics.result_cache) is not used after such a write.

Titles are written by content_titles_mv on every insert into raw_events (under the event's project, 0 when it has
none) and by the catalogue import (xolap.analytics.titles). Both report their writes to
xolap.clickhouse.data_version; a listener here moves a generation per project for writes that name their projects
(and project 0's, where rows without a project leave their titles) and per database for writes of unknown scopes
(catalogue imports, SQL files, backfill chunks, LRS voiding, migrations).

Section and project names live in Postgres (an admin's rename, a scopes import or sync): their generation is the
access cache's (xolap.store.access_cache), moved by every write to those tables, at the write and at its commit, and
by a change of Postgres's access version written by another process (read within its MAX_AGE_S).

A section's answer depends on titles its own data version does not cover (a statement in another section of the
project renames a page; an admin renames a section its project's comparison names), so an answer computed inside
`recording()` carries the generations of the titles it showed (`note` by the title lookup, `note_scope_names` by
whoever labels rows with scope names, each before reading), and is reused only while `unchanged(...)` holds for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from xolap.clickhouse import data_version
from xolap.store import access_cache

Generations = tuple[int, int]  # (database's, project's) generation; (access cache's, 0) for scope names
Source = tuple[str | int, ...]  # ("content", database, project id) or ("scope names",)
Used = tuple[tuple[Source, Generations], ...]  # each source of the titles an answer shows, with its generations
_SCOPE_NAMES: Source = ("scope names",)

_lock = threading.Lock()
_database_generation: dict[str, int] = {}
_project_generation: dict[tuple[str, int], int] = {}
_counter = 0
_everywhere = 0  # the generation of the last rewrite of every database's titles (moved_everywhere)
_NEVER: Generations = (-1, -1)  # generations no write leaves current
_recordings: ContextVar[tuple[dict[Source, Generations], ...]] = ContextVar("title_recordings", default=())


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
    database_generation = max(_database_generation.get(database, 0), _everywhere)
    return database_generation, _project_generation.get((database, project_id), 0)


def moved_everywhere() -> None:
    """Titles may have changed in every database (content_titles rewritten by hand): nothing kept with titles is
    used again."""
    global _counter, _everywhere
    with _lock:
        _counter += 1
        _everywhere = _counter


def _current(source: Source) -> Generations:
    if source == _SCOPE_NAMES:
        return access_cache.CACHE.generation, 0
    _, database, project_id = source
    return current(str(database), int(project_id))


def _note(source: Source, generations: Generations) -> None:
    """Every recording() around this call keeps the source's generations; a source noted under two different
    generations (a write in between) is kept as never unchanged."""
    for used in _recordings.get():
        used[source] = generations if used.get(source, generations) == generations else _NEVER


def note(database: str, project_id: int, generations: Generations) -> None:
    """Content titles of the project, read (or known) under `generations`, are being shown."""
    _note(("content", database, int(project_id)), generations)


def note_scope_names() -> None:
    """Section or project names are about to be read from Postgres and shown (call it before reading them)."""
    _note(_SCOPE_NAMES, _current(_SCOPE_NAMES))


@contextmanager
def recording() -> Iterator[dict[Source, Generations]]:
    """Collects the generations of the titles noted within (on this thread or context), by source."""
    used: dict[Source, Generations] = {}
    token = _recordings.set((*_recordings.get(), used))
    try:
        yield used
    finally:
        _recordings.reset(token)


def frozen(used: dict[Source, Generations]) -> Used:
    return tuple(used.items())


def unchanged(used: Used) -> bool:
    """No write that may add or rename a title of these sources happened since their generations were noted."""
    return all(_current(source) == generations for source, generations in used)
