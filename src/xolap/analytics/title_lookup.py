"""Content titles of chart rows looked up in Python, kept per (database, kind, project) while no write that may add or
rename a title has happened since, instead of a LEFT JOIN of the titles table in every chart query.

The join cost a small scope's chart ~4-5 ms of its 9-15 ms (planning the grouped titles subquery and the join, then
reading it; measured at 5M events) to label at most 20 rows. Here a chart's SQL returns `title_project` (the project
whose titles name the row's item) where the title column goes, and `with_titles` puts the latest title there (else
the column's fallback), exactly as the join did: the latest title by updated_at per (project, kind, content id),
'' counting as none.

Freshness: every write that may add or rename a title moves a generation of the projects it may rename
(xolap.analytics.title_generations). Titles are reused while the generations of their project are unchanged since
they were read, and at most `max_age(settings)` seconds: other processes writing to a ClickHouse server are not heard,
so 5 s there (as the result cache). A read that raced a write is kept under the generations seen before it, so the
next lookup reads again. Misses are remembered too (an item without a title), so a chart whose items are all known
costs no query. Each project's titles looked up are noted (title_generations.note) under the generations they were
read or known under, so a cached answer that shows them is not served after a rename (xolap.analytics.result_cache).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from xolap.analytics import title_generations
from xolap.analytics.executor import run
from xolap.analytics.result_cache import SERVER_MODE_MAX_AGE
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings

KINDS = ("page", "video", "activity")
TITLE_PROJECT = "title_project"
MAX_AGE_S = 300.0
MAX_ITEMS = 100_000  # items (titled or not) kept per process; least recently used projects go first


@dataclass(frozen=True)
class TitleColumn:
    """A chart column of content titles filled in Python: the chart's SQL returns `title_project` in its place, and
    `id_field` names the row's item (a video URL, a page or activity id); an item without a title gets
    fallback(id)."""

    kind: str
    field: str
    id_field: str
    fallback: Callable[[Any], str]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown content kind {self.kind!r}")


@dataclass(frozen=True)
class _Known:
    generations: tuple[int, int]  # (database's, project's) generation before the titles were read
    read_at: float  # time.monotonic() before the read
    titles: dict[str, str | None]  # content id -> latest title, None: no title


_lock = threading.Lock()
_known: OrderedDict[tuple[str, str, int], _Known] = OrderedDict()
_items_held = 0


def max_age(settings: Settings) -> float:
    """How long titles read may be reused while no write was heard: MAX_AGE_S embedded, SERVER_MODE_MAX_AGE with a
    ClickHouse server (writes by other processes are not heard), never longer than the result cache keeps answers."""
    bound = MAX_AGE_S if settings.is_embedded_clickhouse else SERVER_MODE_MAX_AGE
    return min(bound, float(settings.result_cache_max_age))


def titles_sql(database: str) -> str:
    """The latest title of each given (project id, content id) of one kind, as the charts' titles subquery has it."""
    return (
        f"SELECT project_id, content_id, argMax(title, updated_at) AS title FROM `{database}`.content_titles "
        "WHERE kind = {kind:String} AND (project_id, content_id) IN {items:Array(Tuple(UInt64, String))} "
        "GROUP BY project_id, content_id"
    )


def lookup(
    client: ClickHouseClient, settings: Settings, kind: str, items: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], str]:
    """The latest non-empty title of each (project id, content id) of `kind` that has one; one query for the items
    not known under the current generations, none when all are."""
    if kind not in KINDS:
        raise ValueError(f"unknown content kind {kind!r}")
    database = settings.clickhouse_database
    oldest = time.monotonic() - max_age(settings)
    wanted = {(int(project_id), str(content_id)) for project_id, content_id in items}
    found: dict[tuple[int, str], str | None] = {}
    missing: list[tuple[int, str]] = []
    with _lock:
        for project_id, content_id in wanted:
            known = _known.get((database, kind, project_id))
            fresh = (
                known is not None
                and known.generations == title_generations.current(database, project_id)
                and known.read_at >= oldest
            )
            if known is not None and fresh and content_id in known.titles:
                found[(project_id, content_id)] = known.titles[content_id]
                _known.move_to_end((database, kind, project_id))
                title_generations.note(database, project_id, known.generations)
            else:
                missing.append((project_id, content_id))
        seen = {project_id: title_generations.current(database, project_id) for project_id, _ in missing}
    for project_id, generations in seen.items():
        title_generations.note(database, project_id, generations)
    if missing:
        read_at = time.monotonic()
        result = run(
            client,
            settings,
            titles_sql(database),
            parameters={"kind": kind, "items": sorted(missing)},
            tag=f"titles.{kind}",
            readonly=True,
        )
        read: dict[tuple[int, str], str | None] = dict.fromkeys(missing)
        for project_id, content_id, title in result.rows:
            read[(int(project_id), str(content_id))] = title or None
        found.update(read)
        _keep(database, kind, read, seen, read_at, oldest)
    return {item: title for item, title in found.items() if title}


def _keep(
    database: str,
    kind: str,
    read: dict[tuple[int, str], str | None],
    seen: dict[int, tuple[int, int]],
    read_at: float,
    oldest: float,
) -> None:
    """Remember what was read under the generations seen before the read (a later write makes it unused), beside
    what is still known of the project under the same generations and within the max age (`oldest`)."""
    global _items_held
    by_project: dict[int, dict[str, str | None]] = {}
    for (project_id, content_id), title in read.items():
        by_project.setdefault(project_id, {})[content_id] = title
    with _lock:
        for project_id, titles in by_project.items():
            key = (database, kind, project_id)
            known = _known.pop(key, None)
            kept_since = read_at
            if known is not None:
                _items_held -= len(known.titles)
                if known.generations == seen[project_id] and known.read_at >= oldest:  # what it knew still holds
                    titles = {**known.titles, **titles}
                    kept_since = known.read_at
            _known[key] = _Known(seen[project_id], kept_since, titles)
            _items_held += len(titles)
        while _items_held > MAX_ITEMS and _known:
            _, dropped = _known.popitem(last=False)
            _items_held -= len(dropped.titles)


def with_titles(
    client: ClickHouseClient,
    settings: Settings,
    column: TitleColumn,
    columns: list[str],
    rows: list[dict[str, Any]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """The chart's columns and rows with `title_project` replaced, in place, by the title column: the item's latest
    title in that project, else column.fallback(item id)."""
    named = [column.field if name == TITLE_PROJECT else name for name in columns]
    if not rows:  # no query (and chDB names no columns for an empty result)
        return named, rows
    if TITLE_PROJECT not in columns:
        raise ValueError(f"the chart's SQL returns no {TITLE_PROJECT} column for its {column.field}")
    titles = lookup(client, settings, column.kind, ((row[TITLE_PROJECT], str(row[column.id_field])) for row in rows))
    titled = []
    for row in rows:
        title = titles.get((int(row[TITLE_PROJECT]), str(row[column.id_field]))) or column.fallback(
            row[column.id_field]
        )
        titled.append({(column.field if name == TITLE_PROJECT else name): value for name, value in row.items()})
        titled[-1][column.field] = title
    return named, titled


def forget() -> None:
    """Forget every title read, and every cached answer that shows titles (tests; after content_titles was rewritten
    by hand)."""
    global _items_held
    with _lock:
        _known.clear()
        _items_held = 0
    title_generations.moved_everywhere()
