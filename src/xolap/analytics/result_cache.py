"""Warm dashboards: the serialized JSON of curated answers (category, event summary) kept per process, keyed by
(database, scope kind, scope id, what was asked and its parameters, the scope's data version).

- Every insert path bumps the data version of the scopes it wrote (xolap.clickhouse.data_version.rows_written), so
  a cached answer is never served after its scope changed: the next load computes it again.
- An answer that shows content titles also depends on rows its scope's version does not cover (a statement in another
  section of the project, or without a project, renames a page): it is kept with the generations of the titles it
  showed (xolap.analytics.title_generations, noted by the title lookup while it is computed) and never served after a
  write that may rename one of them.
- Bounded in memory: least recently used entries go first once the bytes held pass `result_cache_bytes` (0 turns
  the cache off); one answer larger than an eighth of the bound is not kept.
- Entries also expire after `result_cache_max_age` seconds (default 300: relative dates and TTL expiry of old rows
  change answers without a write). With a ClickHouse server (not embedded), other processes may write (an ETL
  Lambda, `xolap ingest` on another host) without this process knowing, so entries live at most
  SERVER_MODE_MAX_AGE seconds there, inside the ETL freshness goal.
- Never shared across scopes: the scope kind and id are part of the key, and callers authorize before asking.
- One computation per key at a time: concurrent loads of a cold answer wait for the first instead of each running
  the query (a failed computation is not cached; the waiters then compute their own). A caller may name itself
  (`by`) and wait its own way (`wait`: xolap.analytics.query_waits follows, cancels and times a custom query's wait).
- Custom SQL answers (cached_result) are kept too, as pickled QueryResults, when xolap.analytics.custom_sql finds
  their key exact: the guard's printed SQL (a function of the user's text, the scope kind and the database), the scope
  id (the bound parameter and the scope wall's filters), the date range narrowing the wall, every limit, and a query
  that reads raw_events alone (a section's content_titles rows change with writes to other sections of its
  projects) and calls no clock or random function (xolap.analytics.repeatable_sql). Admin queries are never kept.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import orjson

from xolap.analytics import title_generations
from xolap.analytics.executor import QueryResult
from xolap.analytics.result_formats import json_value
from xolap.clickhouse import data_version
from xolap.config import Settings

SERVER_MODE_MAX_AGE = 5.0
ENTRY_OVERHEAD_BYTES = 200  # key, tuple and bookkeeping of one entry, counted with its body
_WAIT_FOR_PEER_S = 60.0


@dataclass(frozen=True)
class Entry:
    version: tuple[int, int]
    stored_at: float
    body: bytes
    titles: title_generations.Used = ()  # generations of the titles the answer shows


class ResultCache:
    """A byte-bounded LRU map from key to (data version, time stored, JSON body), safe to share between threads."""

    def __init__(self, max_bytes: int, max_age: float):
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, Computation] = {}
        self.hits = self.misses = 0

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Hashable, version: tuple[int, int]) -> bytes | None:
        """The body stored for key if it was computed at this data version, is not older than max_age and no title it
        shows may have been renamed since."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if (
                entry.version != version
                or time.monotonic() - entry.stored_at > self.max_age
                or not title_generations.unchanged(entry.titles)
            ):
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.body

    def store(self, key: Hashable, version: tuple[int, int], body: bytes, titles: title_generations.Used = ()) -> None:
        size = len(body) + ENTRY_OVERHEAD_BYTES
        if size > self.max_bytes // 8:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = Entry(version, time.monotonic(), body, titles)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body) + ENTRY_OVERHEAD_BYTES

    def get_or_compute(
        self,
        key: Hashable,
        version: Callable[[], tuple[int, int]],
        compute: Callable[[], bytes],
        *,
        by: Hashable = None,
        wait: PeerWait | None = None,
    ) -> tuple[bytes, bool]:
        """(body, was it a hit): the stored body at the current version, else compute() stored under the version
        read before computing and the generations of the titles it showed, each as first seen (a write during the
        computation leaves it stale, so the next load recomputes). While a peer computes the key, this call waits by
        wait(peer) (default wait_for_peer); `by` names this call to peers that wait for its computation."""
        mine: threading.Event | None = None  # set when this call computes: peers waiting on the key wake on it
        while True:
            current = version()
            body = self.lookup(key, current)
            if body is not None:
                self.hits += 1
                return body, True
            with self._lock:
                running = self._computing.get(key)
                if running is None:
                    mine = threading.Event()
                    self._computing[key] = Computation(mine, by)
            if running is None:
                break
            if not (wait or wait_for_peer)(running) or self.lookup(key, version()) is None:
                current, mine = version(), None  # the peer failed, timed out or was outdated: compute our own
                break
        self.misses += 1
        try:
            with title_generations.recording() as titles:
                body = compute()
            self.store(key, current, body, title_generations.frozen(titles))
            return body, False
        finally:
            if mine is not None:
                with self._lock:
                    self._computing.pop(key, None)
                mine.set()


@dataclass(frozen=True)
class Computation:
    """One computation of a key under way: `done` is set when it ends, stored or failed; `by` names its caller."""

    done: threading.Event
    by: Hashable = None


# How a caller waits for a peer's computation of its key: True once it ended (its body is then looked up), False to
# compute its own; it may raise to stop waiting (the caller's cancel or time limit).
PeerWait = Callable[[Computation], bool]


def wait_for_peer(peer: Computation) -> bool:
    """The default wait: up to _WAIT_FOR_PEER_S, then compute our own."""
    return peer.done.wait(_WAIT_FOR_PEER_S)


_caches: dict[tuple[int, float], ResultCache] = {}
_caches_lock = threading.Lock()


def process_cache(settings: Settings) -> ResultCache | None:
    """This process's cache for these settings' bounds (None when result_cache_bytes is 0)."""
    if settings.result_cache_bytes <= 0:
        return None
    max_age = float(settings.result_cache_max_age)
    if not settings.is_embedded_clickhouse:
        max_age = min(max_age, SERVER_MODE_MAX_AGE)
    bounds = (settings.result_cache_bytes, max_age)
    with _caches_lock:
        cache = _caches.get(bounds)
        if cache is None:
            cache = _caches[bounds] = ResultCache(*bounds)
        return cache


def stored_json(settings: Settings, kind: str, scope_id: int, question: tuple[Hashable, ...]) -> bytes | None:
    """The JSON body kept for this question about the scope at its current data version, or None. Never computes
    nor waits for a peer, so an event loop may ask it before handing a miss to a worker thread."""
    cache = process_cache(settings)
    if cache is None:
        return None
    database = settings.clickhouse_database
    body = cache.lookup((database, kind, int(scope_id), *question), data_version.version(database, kind, scope_id))
    if body is not None:
        cache.hits += 1
    return body


def to_body(value: Any) -> bytes:
    return orjson.dumps(value, default=json_value, option=orjson.OPT_NON_STR_KEYS)


def cached_json(
    settings: Settings, kind: str, scope_id: int, question: tuple[Hashable, ...], produce: Callable[[], Any]
) -> tuple[bytes, bool]:
    """(JSON body, was it a hit) of a curated answer about one scope: `question` names what is asked with every
    parameter (e.g. ("category", key, start, end)); `produce()` computes the JSON-ready value on a miss. Errors
    raised by produce propagate and nothing is stored."""
    database = settings.clickhouse_database
    cache = process_cache(settings)
    if cache is None:
        return to_body(produce()), False
    key = (database, kind, int(scope_id), *question)
    return cache.get_or_compute(key, lambda: data_version.version(database, kind, scope_id), lambda: to_body(produce()))


def cached_result(
    settings: Settings,
    kind: str,
    scope_id: int,
    question: tuple[Hashable, ...],
    run: Callable[[], QueryResult],
    *,
    by: Hashable = None,
    wait: PeerWait | None = None,
) -> tuple[QueryResult, bool]:
    """(result, was it a hit) of a query about one scope whose key `question` the caller has proved exact (see the
    module's note on custom SQL); run() computes it on a miss. Kept pickled (only this process writes the bodies it
    reads), so a hit is a copy the caller may change; errors propagate and nothing is stored. `by` and `wait`: see
    ResultCache.get_or_compute (who computes, how a caller waits for an identical computation under way)."""
    cache = process_cache(settings)
    if cache is None:
        return run(), False
    database = settings.clickhouse_database
    ran: list[QueryResult] = []

    def compute() -> bytes:
        ran.append(run())
        return pickle.dumps(ran[0], protocol=pickle.HIGHEST_PROTOCOL)

    key = (database, kind, int(scope_id), *question)
    body, hit = cache.get_or_compute(
        key, lambda: data_version.version(database, kind, scope_id), compute, by=by, wait=wait
    )
    return (pickle.loads(body) if hit or not ran else ran[0]), hit


# A kept query result at most this large (pickled) may be read and formatted on an event loop (stored_result).
LOOP_RESULT_MAX_BYTES = 64 * 1024


def stored_result(settings: Settings, kind: str, scope_id: int, question: tuple[Hashable, ...]) -> QueryResult | None:
    """The result cached_result kept for this question about the scope at its current data version, or None (also
    for one larger than LOOP_RESULT_MAX_BYTES). Never computes nor waits for a peer, so an event loop may ask."""
    cache = process_cache(settings)
    if cache is None:
        return None
    database = settings.clickhouse_database
    body = cache.lookup((database, kind, int(scope_id), *question), data_version.version(database, kind, scope_id))
    if body is None or len(body) > LOOP_RESULT_MAX_BYTES:
        return None
    cache.hits += 1
    return pickle.loads(body)
