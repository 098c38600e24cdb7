"""Rollup upkeep beside the readers (docs/rollups.md): prune the rows of builds that stopped being current, and rebuild
the stale slices of recently read scopes in the background after a write, so a dashboard read finds them current.

Pruning. A build stops being current when its partition's part set changes (an insert, a merge, a delete, a dropped
partition) or the rollup definitions change; part sets never come back, so a build seen not current stays so. A
reader may still use one for a while: the check memo (xolap.analytics.rollups) reuses builds found current for at
most rollups.MEMO_MAX_AGE_S (the longest any process uses), and a chart query may run query_max_execution_time
more. So a build is deleted only once it has been seen not current for prune_grace_s, longer than both together:
any memo that held it had expired by then. Only builds recorded in rollup_slices are pruned (a build without its
record may still be being written); their rows go first, the record last, each by a lightweight DELETE (the rollup
tables are small and not partitioned by build). Seen times are kept by the Pruner (one per serving process): a
restart only delays pruning. The same round drops build staging tables older than STAGE_MAX_AGE_S (a build drops its
own; these were left by a killed process).

Background rebuilds. RollupMaintenance listens to data_version bumps (every insert path makes one after writing),
waits REBUILD_DEBOUNCE_S for more, then runs the rollup check for each written scope that a dashboard read in the
last RECENT_READ_S (a write of unknown scopes: every such scope; at most MAX_REBUILDS_PER_ROUND, the most recently
read), one scope at a time on its own thread and client. The check builds stale slices and remembers the result
under the new data version, so the next read answers with the chart query alone. The insert itself never waits: the
listener only notes the scopes. A reader arriving first runs the same check itself (the per-scope lock makes one of
them build); a build is recorded only when complete.

Ahead-of-time checks. expect_reads() names scopes a reader is about to open (xolap.web.pages_account.login: the
dashboards of a user who just signed in); each running worker of the database runs the check for them on its thread,
at once (no debounce), oldest first, before the rebuilds of writes, at most MAX_EXPECTED waiting (the oldest dropped:
their readers check themselves). A first visit then finds its slices built, or joins the build under way through the
per-scope lock instead of starting one of its own beside every other first visit on the machine's cores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from xolap.analytics import rollup_failures, rollups
from xolap.clickhouse import data_version
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.events import is_scope

log = logging.getLogger(__name__)

PRUNE_MARGIN_S = 60.0
PRUNE_INTERVAL_S = 600.0
REBUILD_DEBOUNCE_S = 0.5
RECENT_READ_S = 900.0
MAX_REBUILDS_PER_ROUND = 32  # the most recently read of the written scopes; readers check the others themselves
MAX_EXPECTED = 64  # scopes waiting for an ahead-of-time check (expect_reads), at most
_DELETE_BATCH = 5_000


def prune_grace_s(settings: Any) -> float:
    """How long a build must have been seen not current before its rows are deleted: longer than any check memo may
    hand it out (rollups.MEMO_MAX_AGE_S, the longest memo age of any process) plus the longest a chart query reading
    it may run (query_max_execution_time), plus PRUNE_MARGIN_S."""
    return rollups.MEMO_MAX_AGE_S + float(settings.query_max_execution_time) + PRUNE_MARGIN_S


def superseded_builds_sql(database: str) -> str:
    """Builds recorded in rollup_slices that are not the current build of their slice (their partition's part set
    changed, the partition is gone, or they were built under other definitions); the build id computed as
    rollups.current_slices_sql computes it."""
    return f"""WITH tokens AS (
    SELECT partition_id, sum(cityHash64(name, rows, modification_time)) AS token, count() AS parts
    FROM system.parts
    WHERE database = {{database:String}} AND table = 'raw_events' AND active
    GROUP BY partition_id
)
SELECT DISTINCT s.build
FROM `{database}`.rollup_slices AS s
LEFT JOIN tokens AS t ON t.partition_id = s.partition
WHERE t.parts = 0
    OR s.build != cityHash64({{definition:UInt64}}, toString(s.scope_kind), s.scope_id, s.partition, t.token, t.parts)
SETTINGS join_use_nulls = 0"""


def delete_builds(client: ClickHouseClient, database: str, builds: list[int], *, wait: bool = False) -> None:
    """Delete the rows of these builds from every rollup table, then their records in rollup_slices: one lightweight
    DELETE per table, not waited for unless `wait` (no reader reads a build that is not current, so when its rows go
    does not matter; measured 7-40 ms a table without waiting, ~50 ms waiting, on 200k rollup rows)."""
    for offset in range(0, len(builds), _DELETE_BATCH):
        batch = builds[offset : offset + _DELETE_BATCH]
        for table in [*rollups.ROLLUPS, "rollup_slices"]:
            client.command(
                f"DELETE FROM `{database}`.{table} WHERE has({{builds:Array(UInt64)}}, build)",
                parameters={"builds": batch},
                settings={"lightweight_deletes_sync": 2 if wait else 0},
            )


STAGE_MAX_AGE_S = 3600.0


def drop_stale_stages(client: ClickHouseClient, database: str, *, max_age_s: float = STAGE_MAX_AGE_S) -> list[str]:
    """Drop the staging tables of builds (rollups.STAGE_PREFIX<unix time>_<hex>) created more than max_age_s ago: a
    build drops its own whatever happens, so these were left by a killed process. Returns the names dropped."""
    names = client.query(
        "SELECT name FROM system.tables WHERE database = {database:String} AND startsWith(name, {prefix:String})",
        parameters={"database": database, "prefix": rollups.STAGE_PREFIX},
    ).result_rows
    dropped = []
    for (name,) in names:
        created = name[len(rollups.STAGE_PREFIX) :].split("_", 1)[0]
        if created.isdigit() and time.time() - int(created) > max_age_s and name.isidentifier():
            client.command(f"DROP TABLE IF EXISTS `{database}`.{name} SYNC")
            dropped.append(name)
    return dropped


@dataclass(frozen=True)
class PruneReport:
    superseded: int  # builds recorded and not current
    deleted: int  # of them, deleted now (seen not current for the grace period)
    elapsed_ms: float


class Pruner:
    """Deletes builds seen not current for at least the grace period; remembers when it first saw each."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def prune(
        self, client: ClickHouseClient, database: str, *, grace_s: float, now: float | None = None, wait: bool = False
    ) -> PruneReport:
        """List the superseded builds, note when each was first seen, delete those seen at least grace_s ago (`now`:
        a time.monotonic() value, for tests; `wait`: until the deletes are done)."""
        started = time.perf_counter()
        rows = client.query(
            superseded_builds_sql(database),
            parameters={"database": database, "definition": rollups.definition_id()},
        ).result_rows
        superseded = {int(build) for (build,) in rows}
        moment = time.monotonic() if now is None else now
        with self._lock:
            for key in [key for key in self._seen if key[0] == database and key[1] not in superseded]:
                del self._seen[key]
            for build in superseded:
                self._seen.setdefault((database, build), moment)
            due = sorted(build for build in superseded if moment - self._seen[(database, build)] >= grace_s)
        if due:
            delete_builds(client, database, due, wait=wait)
            with self._lock:
                for build in due:
                    self._seen.pop((database, build), None)
        return PruneReport(len(superseded), len(due), round((time.perf_counter() - started) * 1000, 1))


_workers: list[RollupMaintenance] = []  # the running workers (start() to the end of run()), any database
_workers_lock = threading.Lock()


def expect_reads(database: str, scopes: Iterable[tuple[str, int]]) -> int:
    """Scopes a reader is about to open: every running worker of `database` checks them (building stale slices) in
    the background, so the first read finds them current or joins the build under way. Returns how many scopes were
    queued (0 without a running worker: a process that does not serve). Never blocks on a build."""
    wanted = [(kind, int(scope_id)) for kind, scope_id in scopes if is_scope(kind)]
    with _workers_lock:
        workers = [worker for worker in _workers if worker.database == database]
    for worker in workers:
        worker.expect(wanted)
    return len(wanted) if workers else 0


def worker_status(database: str) -> dict[str, int | bool] | None:
    """What the running rollup workers of `database` have left to do (None without one, as in a CLI process): scopes
    queued for a check or rebuild, and whether they are idle (nothing queued and no build under way). Health shows
    it: a cold server answers tabs from the raw events until its worker has built their scopes."""
    with _workers_lock:
        workers = [worker for worker in _workers if worker.database == database]
    if not workers:
        return None
    queued = sum(worker.queued_scopes() for worker in workers)
    return {"queued_scopes": queued, "idle": all(worker.is_idle() for worker in workers)}


def _warn(what: str, exc: BaseException) -> None:
    """One warning line for a failure on the worker (type and ClickHouse code, never the text), unless it is a build
    failure xolap.analytics.rollups has already logged and noted for health (one fault, one line)."""
    if not rollup_failures.noted(exc):
        log.warning("%s: %s", what, rollup_failures.error_text(exc))


class RollupMaintenance:
    """The serving process's rollup worker: background rebuilds after writes, pruning every prune_interval_s."""

    def __init__(
        self,
        settings: Any,
        client: Callable[[], ClickHouseClient],
        *,
        debounce_s: float = REBUILD_DEBOUNCE_S,
        recent_s: float = RECENT_READ_S,
        prune_interval_s: float = PRUNE_INTERVAL_S,
    ) -> None:
        self.settings = settings
        self.database: str = settings.clickhouse_database
        self._client = client  # called on the worker thread (chDB: one client per thread)
        self.debounce_s = debounce_s
        self.recent_s = recent_s
        self.prune_interval_s = prune_interval_s
        self.pruner = Pruner()
        self.rebuilds = 0
        self.checked_ahead = 0  # expected scopes checked (expect_reads)
        self._expected: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._everything = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._remove_listener: Callable[[], None] | None = None

    def heard(self, database: str, sections: list[int] | None, projects: list[int] | None) -> None:
        """data_version listener: note the written scopes and wake the worker (never blocks the writer)."""
        if database != self.database:
            return
        with self._lock:
            if sections is None and projects is None:
                self._everything = True
            else:
                self._pending.update(("section", scope_id) for scope_id in sections or ())
                self._pending.update(("project", scope_id) for scope_id in projects or ())
            self._idle.clear()
        self._wake.set()

    def expect(self, scopes: Iterable[tuple[str, int]]) -> None:
        """Queue scopes for an ahead-of-time check and wake the worker (expect_reads; never blocks on a build). A scope
        already queued keeps its place: readers answering from the raw events queue their scope on every read, and
        moving it back each time would put the most-read scopes last."""
        with self._lock:
            for scope in scopes:
                self._expected.setdefault(scope, None)
            while len(self._expected) > MAX_EXPECTED:
                self._expected.popitem(last=False)
            if self._expected:
                self._idle.clear()
        self._wake.set()

    def check_expected(self, stop: threading.Event | None = None) -> int:
        """Run the rollup check for each expected scope, oldest first, until none is left (or `stop` is set);
        returns how many were checked. A check that fails is logged: the reader will check (and build) itself."""
        checked = 0
        while stop is None or not stop.is_set():
            with self._lock:
                if not self._expected:
                    break
                kind, scope_id = self._expected.popitem(last=False)[0]
            if not is_scope(kind):
                continue
            try:
                rollups.current_builds(
                    self._client(),
                    self.database,
                    kind,
                    scope_id,
                    max_age=rollups.memo_max_age(self.settings),
                    reading=False,
                    stage_memory=rollups.stage_memory_limit(self.settings),
                )
                self.checked_ahead += 1
            except Exception as exc:  # noqa: BLE001 - the reader will check (and build) itself
                _warn("ahead-of-time rollup check failed", exc)
            checked += 1
        return checked

    def rebuild_pending(self) -> int:
        """Run the rollup check for the noted scopes a dashboard read recently; returns how many were checked."""
        with self._lock:
            pending, everything = self._pending, self._everything
            self._pending, self._everything = set(), False
        recent = rollups.recently_read(self.database, self.recent_s)
        wanted = [scope for scope in recent if everything or scope in pending][-MAX_REBUILDS_PER_ROUND:]
        client, max_age = self._client(), rollups.memo_max_age(self.settings)
        for kind, scope_id in wanted:
            if not is_scope(kind):
                continue
            try:
                rollups.current_builds(
                    client,
                    self.database,
                    kind,
                    scope_id,
                    max_age=max_age,
                    reading=False,
                    stage_memory=rollups.stage_memory_limit(self.settings),
                )
                self.rebuilds += 1
            except Exception as exc:  # noqa: BLE001 - the reader will check (and build) itself
                _warn("background rollup rebuild failed", exc)
        return len(wanted)

    def prune_once(self) -> PruneReport:
        client = self._client()
        report = self.pruner.prune(client, self.database, grace_s=prune_grace_s(self.settings))
        drop_stale_stages(client, self.database)
        if report.deleted:
            log.info("pruned %d superseded rollup build(s) in %.0f ms", report.deleted, report.elapsed_ms)
        return report

    def queued_scopes(self) -> int:
        """Scopes queued for an ahead-of-time check or a rebuild after a write (the one being built not counted)."""
        with self._lock:
            return len(self._expected) + len(self._pending)

    def is_idle(self) -> bool:
        """Nothing queued and no check or rebuild under way."""
        return self._idle.is_set()

    def wait_idle(self, timeout: float) -> bool:
        """Until every noted write's rebuild has run (for tests and benches); False on timeout."""
        return self._idle.wait(timeout)

    def _writes_noted(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._everything

    def run(self, stop: threading.Event) -> None:
        """The worker loop until `stop` is set (start() runs it on a thread of its own)."""
        if self._remove_listener is None:
            self._remove_listener = data_version.add_listener(self.heard)
        with _workers_lock:
            if self not in _workers:
                _workers.append(self)
        next_prune = time.monotonic() + self.prune_interval_s
        try:
            while not stop.is_set():
                if self._wake.wait(timeout=max(0.0, min(1.0, next_prune - time.monotonic()))):
                    if self._writes_noted() and stop.wait(self.debounce_s):  # expected reads start at once
                        break
                    self._wake.clear()
                    try:
                        self.check_expected(stop)
                        self.rebuild_pending()
                    except Exception as exc:  # noqa: BLE001 - no client now: readers check themselves
                        _warn("background rollup rebuilds failed", exc)
                    with self._lock:
                        if not self._pending and not self._everything and not self._expected:
                            self._idle.set()
                if time.monotonic() >= next_prune:
                    try:
                        self.prune_once()
                    except Exception as exc:  # noqa: BLE001 - pruning waits for the next round
                        log.warning("rollup pruning failed: %s", rollup_failures.error_text(exc))
                    next_prune = time.monotonic() + self.prune_interval_s
        finally:
            with _workers_lock:
                if self in _workers:
                    _workers.remove(self)
            self._remove_listener()
            self._remove_listener = None
            self._idle.set()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Listen to writes from now on and run the worker loop on its own thread until `stop` is set."""
        self._remove_listener = data_version.add_listener(self.heard)
        with _workers_lock:  # expected reads are heard from now on, as writes are
            _workers.append(self)
        thread = threading.Thread(target=self.run, args=(stop,), name="xolap-rollups", daemon=True)
        thread.start()
        return thread
