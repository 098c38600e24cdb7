"""Access facts kept per process so a warm request makes no Postgres round trip: who a session or API token is
(user and roles), feature flags and scope lookups by slug; cleared by every write to the tables they come from.

Invalidation lives here, in the store layer, as SQLAlchemy session events, so no front door (web page, JSON API,
CLI through the server, a store function yet to be written) can forget it:
- any flush that adds, changes or deletes a row of WATCHED_TABLES, any ORM/Core INSERT/UPDATE/DELETE on them that
  touched a row, and any textual SQL statement that may write them clears the cache at once, and again when that
  transaction commits or rolls back (a reader that loaded between the write and its commit never keeps its answer:
  every entry carries the generation it was loaded under, and a write moves the generation on);
- bookkeeping writes that change no access fact are not counted: `last_seen_at` of a session and `last_used_at` of
  an API token (IGNORED_COLUMNS), and statements run with the execution option `access_unchanged=True`.
Writes this process cannot see (another `xolap` process on the same Postgres, a database console) take effect
within MAX_AGE_S seconds: no entry is served older than that. Session expiry (absolute lifetime, idle timeout) may
likewise be overrun by at most MAX_AGE_S. Entries are keyed by database, so two databases never share one.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.elements import TextClause

MAX_AGE_S = 3.0  # writes by other processes are seen within this many seconds
MAX_ENTRIES = 20_000
WATCHED_TABLES = frozenset(
    {"users", "memberships", "web_sessions", "api_tokens", "feature_flags", "sections", "projects"}
)
IGNORED_COLUMNS: dict[str, frozenset[str]] = {
    "web_sessions": frozenset({"last_seen_at"}),
    "api_tokens": frozenset({"last_used_at"}),
}
UNCHANGED_OPTION = "access_unchanged"
_CHANGED = "xolap_access_changed"
_READ_ONLY_TEXT = re.compile(r"^\s*(select|show|explain|values)\b", re.IGNORECASE)
_WATCHED_NAME = re.compile(r"\b(" + "|".join(sorted(WATCHED_TABLES)) + r")\b", re.IGNORECASE)

T = TypeVar("T")
MISSING: Any = object()  # peek() found nothing usable


@dataclass(frozen=True)
class _Entry:
    generation: int
    stored_at: float
    value: Any


class AccessCache:
    """A bounded map from key to value, valid while no watched write happened since it was loaded and for at most
    max_age seconds; safe to share between threads."""

    def __init__(self, max_age: float = MAX_AGE_S, max_entries: int = MAX_ENTRIES):
        self.max_age = max_age
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: Hashable) -> Any:
        """The value kept for key, or MISSING (never loads: safe on an event loop)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.generation != self.generation:
                return MISSING
            if time.monotonic() - entry.stored_at > self.max_age:
                return MISSING
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value kept for key, else load() (kept only if no watched write happened while it was loading)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if entry.generation == self.generation and time.monotonic() - entry.stored_at <= self.max_age:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.value
                del self._entries[key]
            self.misses += 1
            generation = self.generation
        value = load()
        with self._lock:
            if generation == self.generation and self.max_age > 0:
                self._entries[key] = _Entry(generation, time.monotonic(), value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def invalidate(self) -> None:
        """Forget everything, and make any load running now unkeepable."""
        with self._lock:
            self.generation += 1
            self._entries.clear()


CACHE = AccessCache()


def cached(database: str, key: tuple, load: Callable[[], T]) -> T:
    """The access fact `key` of this database, from the process cache or load()."""
    return CACHE.get((database,) + key, load)


def peek(database: str, key: tuple) -> Any:
    """The access fact `key` of this database when the process has it, else MISSING (no I/O)."""
    return CACHE.peek((database,) + key)


def database_key(session_factory: sessionmaker[Session]) -> str:
    """Which database a session factory opens (its engine's URL, password hidden)."""
    return str(session_factory.kw["bind"].url)


def invalidate() -> None:
    CACHE.invalidate()


# ---------------------------------------------------------------- invalidation by session events


def _changed(session: Session) -> None:
    session.info[_CHANGED] = True
    CACHE.invalidate()


def _settled(session: Session) -> None:
    """Commit or rollback of a transaction that wrote access facts: forget what was loaded meanwhile."""
    if session.info.pop(_CHANGED, False):
        CACHE.invalidate()


def _table_of(instance: object) -> str | None:
    table = getattr(type(instance), "__table__", None)
    return getattr(table, "name", None)


def _counts(instance: object, table: str) -> bool:
    """Whether a flushed change of this row changes an access fact (not only bookkeeping columns)."""
    ignored = IGNORED_COLUMNS.get(table)
    if not ignored:
        return True
    state = inspect(instance)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    return bool(changed - ignored)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: Any) -> None:
    for instance in (*session.new, *session.deleted):
        if _table_of(instance) in WATCHED_TABLES:
            _changed(session)
            return
    for instance in session.dirty:
        table = _table_of(instance)
        if table in WATCHED_TABLES and _counts(instance, table):
            _changed(session)
            return


def _writes_watched(state: ORMExecuteState) -> bool | None:
    """True: a statement that may write a watched table (count it whatever it did); None: a DML statement on a
    watched table (count it when it touched a row); False: anything else."""
    if state.execution_options.get(UNCHANGED_OPTION):
        return False
    statement = state.statement
    if isinstance(statement, TextClause):
        text = statement.text
        return not _READ_ONLY_TEXT.match(text) and _WATCHED_NAME.search(text) is not None
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(statement, "table", None)
        return None if getattr(table, "name", None) in WATCHED_TABLES else False
    return False


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Any:
    writes = _writes_watched(state)
    if writes is False:
        return None
    result = state.invoke_statement()
    rowcount = getattr(result, "rowcount", -1)
    if writes or rowcount is None or rowcount != 0:
        _changed(state.session)
    return result


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _settled(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction: Any) -> None:
    _settled(session)
