"""Access facts kept per process so a warm request makes no Postgres round trip: who a session or API token is
(user and roles), feature flags and scope lookups by slug; forgotten at every write to the tables they come from,
and only the facts of one secret when the write ends a session or API token.

Invalidation lives here, in the store layer, as SQLAlchemy session events, so no front door (web page, JSON API,
CLI through the server, a store function yet to be written) can forget it:
- any flush that adds, changes or deletes a row of WATCHED_TABLES, any ORM/Core or single textual
  INSERT/UPDATE/DELETE on them that touched a row, and any other textual SQL statement that may write them clears the cache at once, and again when that
  transaction commits or rolls back (a reader that loaded between the write and its commit never keeps its answer:
  every entry carries the generation it was loaded under, and a write moves the generation on);
- a sign-out or a revoked API token forgets only that secret's facts (SECRET_FACTS: the facts of a web_sessions or
  api_tokens row are those filed under its secret's hash, its principal): a flushed delete or fact-changing update
  of such a row names its hash, and so does an UPDATE/DELETE of those tables that RETURNs the hash column
  (xolap.store.sessions does); the secret is forgotten at the write and again at commit or rollback, and a load of
  it running meanwhile is not kept (forget() spoils the loads in flight for that name, the per-key counterpart of the
  generation). A write whose secrets are not named (textual SQL such as a purge of expired sessions, a bulk UPDATE or
  DELETE without RETURNING, a change of the hash itself) forgets everything, as any other watched write;
- bookkeeping writes that change no access fact are not counted: `last_seen_at` of a session and `last_used_at` of
  an API token (IGNORED_COLUMNS), a new session or API token row (NEW_ROWS_CHANGE_NOTHING: a new secret no kept
  fact can name; their deletes count), and statements run with the execution option `access_unchanged=True`.
Writes this process cannot see (another `xolap` process on the same Postgres, a database console) take effect
within MAX_AGE_S seconds: an entry older than that is revalidated, not dropped. Postgres keeps an access version
(table access_version, migration 0007) that triggers move with every committed change of a watched table (not
with bookkeeping columns). At most once per MAX_AGE_S per database (one reader at a time, on a thread, never on the
event loop: peek() only reports MISSING) the process reads it: unchanged, every entry loaded under it is good for
another MAX_AGE_S; changed, everything is forgotten, unless every move since the last read was a revocation. Those
are logged (migration 0009): a delete or fact-changing update of a web_sessions or api_tokens row moves the version
by one and writes (the number it moved to, the kind, the secret's hash) to access_revocations in the same trigger;
the version row's lock gives those numbers in commit order, so the process that last read P and now reads V reads
the log rows in (P, V] (REVOCATIONS_QUERY, only when the version moved) and, when there are V - P of them, forgets
those secrets only; fewer (another kind of change, or a row pruned after 20 minutes), or a move of more than
MAX_LOGGED_MOVES, forgets everything. Counting moves instead of keeping a second sequence needs no new counter, keeps
one read in the common case (version unchanged) and detects a pruned row and a foreign change alike. Entries filed
under a version still count after such a move: each database keeps the oldest version (base) since which every move
was a logged revocation, and an entry is good while it was filed at or after it.
The version is read before the facts are loaded, so an entry is never filed under a newer version than the facts it
holds. No entry lives longer than MAX_TOTAL_AGE_S anyway. Callers check session expiry on each use from the entry's
own deadlines. Entries are keyed by database, so two databases never share one; a secret is forgotten in every
database (a random secret's hash names one row anywhere).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.elements import TextClause

MAX_AGE_S = 3.0  # writes by other processes are seen within this many seconds
MAX_TOTAL_AGE_S = 600.0  # no entry is served older than this, however often it was revalidated
VERSION_QUERY = "SELECT version FROM access_version WHERE id = 1"
# The secrets revoked by the moves after one version up to another (migration 0009); psycopg's placeholders, sent
# as written (exec_driver_sql)
REVOCATIONS_QUERY = (
    "SELECT kind, secret_hash FROM access_revocations WHERE seq > %(after)s AND seq <= %(upto)s ORDER BY seq"
)
MAX_LOGGED_MOVES = 1_000  # a version further ahead than this is not worth reading the log for: forget everything
MAX_ENTRIES = 20_000
WATCHED_TABLES = frozenset(
    {"users", "memberships", "web_sessions", "api_tokens", "feature_flags", "sections", "projects"}
)
IGNORED_COLUMNS: dict[str, frozenset[str]] = {
    "web_sessions": frozenset({"last_seen_at"}),
    "api_tokens": frozenset({"last_used_at"}),
}
# A new row of these tables is a new random secret's hash (a sign-in's session, a new API token): no fact any process
# keeps can name it, and a lookup of a secret never issued is one nobody can ask again for the new one, so adding a row
# changes nothing kept. Their deletes and fact-changing updates count as for every watched table (logout, revoke).
# Without this, every sign-in made every process forget every kept fact (bench/http_load: 50 users signing in again
# one by one tripled the server CPU of a warm request, all of it reloading access facts from Postgres).
NEW_ROWS_CHANGE_NOTHING = frozenset({"web_sessions", "api_tokens"})
# Which facts a row of these tables holds: those filed under (kind, its secret's hash column), the principal of a
# browser session or an API token (xolap.web.auth keys them so). Its delete or fact-changing update forgets that
# secret only.
SESSION_FACT = "session"
TOKEN_FACT = "api_token"
SECRET_FACTS: dict[str, tuple[str, str]] = {
    "web_sessions": (SESSION_FACT, "id_hash"),
    "api_tokens": (TOKEN_FACT, "token_hash"),
}
UNCHANGED_OPTION = "access_unchanged"
_CHANGED = "xolap_access_changed"
_FORGOTTEN = "xolap_access_forgotten"  # session.info: the secrets' fact names a write of this transaction changed
_READ_ONLY_TEXT = re.compile(r"^\s*(select|show|explain|values)\b", re.IGNORECASE)
_ONE_DML_TEXT = re.compile(r"^\s*(insert|update|delete)\b[^;]*;?\s*$", re.IGNORECASE)
_WATCHED_NAME = re.compile(r"\b(" + "|".join(sorted(WATCHED_TABLES)) + r")\b", re.IGNORECASE)

T = TypeVar("T")
MISSING: Any = object()  # peek() found nothing usable


@dataclass(frozen=True)
class _Entry:
    generation: int
    stored_at: float
    version: int | None  # the database's access version read before the value was loaded (None: not known)
    value: Any


Revocations = Callable[[int, int], list[tuple[str, str]]]  # (after, up to) -> the (kind, hash) revoked in between


class _Version:
    """What the process knows of one database's access version: the number, the oldest number its entries may be
    filed under, when it was last read, who reads it (and the revocation log)."""

    def __init__(self, reader: Callable[[], int | None], revocations: Revocations | None):
        self.reader = reader
        self.revocations = revocations
        self.number: int | None = None
        self.base: int | None = None  # every move since this number was a revocation this process applied
        self.read_at = float("-inf")
        self.reading = threading.Lock()  # one revalidation in flight per database


class _Load:
    """A load in flight; spoiled when its fact is forgotten meanwhile (its answer may predate the change)."""

    __slots__ = ("spoiled",)

    def __init__(self) -> None:
        self.spoiled = False


def _name(key: Hashable) -> Hashable:
    """What a key names without its database (a secret's facts are forgotten in every database)."""
    return key[1:] if isinstance(key, tuple) and key else key


class AccessCache:
    """A bounded map from key (its first item names the database) to value, valid while no watched write happened
    since it was loaded, for max_age seconds, and after that while the database's access version is unchanged (at
    most max_total_age seconds); safe to share between threads."""

    def __init__(
        self, max_age: float = MAX_AGE_S, max_entries: int = MAX_ENTRIES, max_total_age: float = MAX_TOTAL_AGE_S
    ):
        self.max_age = max_age
        self.max_total_age = max_total_age
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._versions: dict[Hashable, _Version] = {}
        self._databases: set[Hashable] = set()  # the first items of the keys stored
        self._loading: dict[Hashable, list[_Load]] = {}  # by _name(key)
        self._lock = threading.Lock()
        self.hits = self.misses = self.revalidations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def watch_version(
        self, database: Hashable, reader: Callable[[], int | None], revocations: Revocations | None = None
    ) -> None:
        """Revalidate this database's entries with reader() (its access version, None when it has none); with
        revocations(after, upto), a move made of logged revocations only forgets those secrets."""
        with self._lock:
            if database not in self._versions:
                self._versions[database] = _Version(reader, revocations)

    def _state(self, key: Hashable, entry: _Entry, now: float) -> str:
        """'fresh', 'revalidate' (its version must be read again first) or 'stale'; called under the lock."""
        if entry.generation != self.generation or now - entry.stored_at > self.max_total_age:
            return "stale"
        if now - entry.stored_at <= self.max_age:
            return "fresh"
        version = self._versions.get(key[0]) if isinstance(key, tuple) and key else None
        if version is None or entry.version is None or version.number is None or version.base is None:
            return "stale"
        if not version.base <= entry.version <= version.number:
            return "stale"
        return "fresh" if now - version.read_at <= self.max_age else "revalidate"

    def peek(self, key: Hashable) -> Any:
        """The value kept for key, or MISSING (never loads nor reads a version: safe on an event loop)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._state(key, entry, time.monotonic()) != "fresh":
                return MISSING
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value kept for key (its database's version read again when due), else load() (kept only if no
        watched write happened while it was loading)."""
        database = key[0] if isinstance(key, tuple) and key else None
        for _attempt in range(2):
            with self._lock:
                entry = self._entries.get(key)
                state = "stale" if entry is None else self._state(key, entry, time.monotonic())
                if entry is not None and state == "fresh":
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.value
            if state != "revalidate":
                break
            self.revalidate(database)
        version = self._current_version(database)  # first the version, then the facts
        name, loading = _name(key), _Load()
        with self._lock:
            if entry is not None and self._entries.get(key) is entry:
                del self._entries[key]
            self.misses += 1
            generation = self.generation
            self._loading.setdefault(name, []).append(loading)
        try:
            value = load()
        finally:
            with self._lock:
                loads = self._loading[name]
                loads.remove(loading)
                if not loads:
                    del self._loading[name]
        with self._lock:
            if generation == self.generation and not loading.spoiled and self.max_age > 0:
                self._entries[key] = _Entry(generation, time.monotonic(), version, value)
                self._entries.move_to_end(key)
                if isinstance(key, tuple) and key:
                    self._databases.add(key[0])
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def _current_version(self, database: Hashable) -> int | None:
        """The version to file a load under: one read before the load starts (an older number only costs a
        revalidation miss later; a newer one than the facts would keep stale facts)."""
        version = self._versions.get(database)
        if version is None:
            return None
        if version.number is None or time.monotonic() - version.read_at > self.max_age:
            self.revalidate(database)
        return version.number

    def revalidate(self, database: Hashable) -> None:
        """Read the database's access version (one reader at a time; the others wait for its answer): unchanged,
        the entries filed under it stay good for max_age; moved by logged revocations only, those secrets are
        forgotten; otherwise everything is."""
        version = self._versions.get(database)
        if version is None:
            return
        with version.reading:
            if version.number is not None and time.monotonic() - version.read_at <= self.max_age:
                return  # another thread read it while this one waited: its answer is recent enough for all
            started = time.monotonic()
            try:
                number = version.reader()
            except Exception:  # an unreachable or unmigrated database: entries simply expire at max_age
                number = None
            revoked = _logged_revocations(version, number)
            with self._lock:
                self.revalidations += 1
                if number != version.number:
                    if revoked is not None:
                        for name in revoked:
                            self._forget(name)
                    else:
                        if version.number is not None:  # entries filed under None expire
                            self.generation += 1
                            self._entries.clear()
                        version.base = number
                version.number = number
                version.read_at = started

    def invalidate(self) -> None:
        """Forget everything, and make any load running now unkeepable."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def discard(self, key: Hashable) -> None:
        """Forget one entry (its caller found it expired)."""
        with self._lock:
            self._entries.pop(key, None)

    def forget(self, name: Hashable) -> None:
        """Forget the entry of every database filed under this name (a key without its database, e.g.
        ("session", hash)), and make any load of it running now unkeepable."""
        with self._lock:
            self._forget(name)

    def _forget(self, name: Hashable) -> None:
        """forget(), called under the lock."""
        if isinstance(name, tuple):
            for database in self._databases:
                self._entries.pop((database, *name), None)
        else:
            self._entries.pop(name, None)
        for loading in self._loading.get(name, ()):
            loading.spoiled = True


def _logged_revocations(version: _Version, number: int | None) -> list[tuple[str, str]] | None:
    """The (kind, hash) names of the secrets revoked between the version last read and `number` when every move
    between them was a logged revocation, else None (forget everything); called by the version's one reader."""
    last, read = version.number, version.revocations
    if read is None or last is None or number is None or not 0 < number - last <= MAX_LOGGED_MOVES:
        return None
    try:
        revoked = read(last, number)
    except Exception:  # an unmigrated database (before 0009): the move is of unknown kind
        return None
    return [(str(kind), str(secret)) for kind, secret in revoked] if len(revoked) == number - last else None


CACHE = AccessCache()


def cached(database: str, key: tuple, load: Callable[[], T]) -> T:
    """The access fact `key` of this database, from the process cache or load()."""
    return CACHE.get((database,) + key, load)


def peek(database: str, key: tuple) -> Any:
    """The access fact `key` of this database when the process has it, else MISSING (no I/O)."""
    return CACHE.peek((database,) + key)


def discard(database: str, key: tuple) -> None:
    """Forget the access fact `key` of this database (e.g. a session found expired on use)."""
    CACHE.discard((database,) + key)


def database_key(session_factory: sessionmaker[Session]) -> str:
    """Which database a session factory opens (its engine's URL, password hidden); its access version is watched
    from now on."""
    database = str(session_factory.kw["bind"].url)
    CACHE.watch_version(database, partial(read_version, session_factory), partial(read_revocations, session_factory))
    return database


def read_version(session_factory: sessionmaker[Session]) -> int | None:
    """The database's access version, in a transaction of its own (fails before migration 0007: entries then
    expire at max_age)."""
    with session_factory() as session:
        return session.scalar(text(VERSION_QUERY))


def read_revocations(session_factory: sessionmaker[Session], after: int, upto: int) -> list[tuple[str, str]]:
    """The (kind, secret hash) logged by the version's moves after `after` up to `upto` (migration 0009), in a
    transaction of its own (fails before 0009: the move then counts as unknown)."""
    with session_factory() as session:
        rows = session.connection().exec_driver_sql(REVOCATIONS_QUERY, {"after": after, "upto": upto}).all()
        return [(kind, secret) for kind, secret in rows]


def invalidate() -> None:
    CACHE.invalidate()


# ---------------------------------------------------------------- invalidation by session events


def _changed(session: Session) -> None:
    session.info[_CHANGED] = True
    CACHE.invalidate()


def _forgotten(session: Session, names: set[tuple[str, str]]) -> None:
    """A write of this transaction changed these secrets' facts only: forget them now and again when it settles."""
    if names:
        session.info.setdefault(_FORGOTTEN, set()).update(names)
        for name in names:
            CACHE.forget(name)


def _settled(session: Session) -> None:
    """Commit or rollback of a transaction that wrote access facts: forget what was loaded meanwhile."""
    names = session.info.pop(_FORGOTTEN, ())
    if session.info.pop(_CHANGED, False):
        CACHE.invalidate()
    for name in names:
        CACHE.forget(name)


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


def _secret_of(instance: object, table: str | None) -> tuple[str, str] | None:
    """The name of the facts a flushed delete or update of this row changes when they are one secret's (None: not
    known, or not a secret's row: forget everything)."""
    fact = SECRET_FACTS.get(table or "")
    if fact is None:
        return None
    kind, column = fact
    state = inspect(instance)
    if state.attrs[column].history.has_changes():  # the secret itself changed: its old and new hash, and more
        return None
    secret = state.dict.get(column)
    return (kind, secret) if isinstance(secret, str) else None


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: Any) -> None:
    for instance in session.new:
        table = _table_of(instance)
        if table in WATCHED_TABLES and table not in NEW_ROWS_CHANGE_NOTHING:
            _changed(session)
            return
    names: set[tuple[str, str]] = set()
    changes = [i for i in session.deleted if _table_of(i) in WATCHED_TABLES]
    changes += [i for i in session.dirty if _table_of(i) in WATCHED_TABLES and _counts(i, _table_of(i) or "")]
    for instance in changes:
        name = _secret_of(instance, _table_of(instance))
        if name is None:
            _changed(session)
            return
        names.add(name)
    _forgotten(session, names)


def _watched_table(state: ORMExecuteState) -> str | None:
    """The watched table a Core/ORM UPDATE or DELETE statement writes, else None."""
    name = getattr(getattr(state.statement, "table", None), "name", None)
    return name if (state.is_update or state.is_delete) and name in WATCHED_TABLES else None


def _writes_watched(state: ORMExecuteState) -> bool | None:
    """True: a statement that may write a watched table (count it whatever it did); None: a DML statement on a
    watched table (count it when it touched a row); False: anything else."""
    if state.execution_options.get(UNCHANGED_OPTION):
        return False
    statement = state.statement
    if isinstance(statement, TextClause):
        sql = statement.text
        if _READ_ONLY_TEXT.match(sql) or _WATCHED_NAME.search(sql) is None:
            return False
        return None if _ONE_DML_TEXT.match(sql) else True  # one INSERT/UPDATE/DELETE reports the rows it touched
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(statement, "table", None), "name", None)
        if state.is_insert and name in NEW_ROWS_CHANGE_NOTHING:
            return False
        return None if name in WATCHED_TABLES else False
    return False


def _returned_secrets(state: ORMExecuteState, result: Any) -> tuple[Any, set[tuple[str, str]] | None]:
    """(the result to hand back, the secrets a statement RETURNING its table's secret hash column changed; None when
    it is not such a statement)."""
    fact = SECRET_FACTS.get(_watched_table(state) or "")
    # an ORM statement's result has no returns_rows; a CursorResult without rows has no keys
    if fact is None or not getattr(result, "returns_rows", True) or fact[1] not in result.keys():
        return result, None
    kind, column = fact
    frozen = result.freeze()  # read the rows here; the caller gets the same rows from a copy
    secrets = {row._mapping[column] for row in frozen()}
    if not all(isinstance(secret, str) for secret in secrets):
        return frozen(), None
    return frozen(), {(kind, secret) for secret in secrets}


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Any:
    writes = _writes_watched(state)
    if writes is False:
        return None
    result, secrets = _returned_secrets(state, state.invoke_statement())
    if secrets is not None:
        _forgotten(state.session, secrets)
        return result
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
