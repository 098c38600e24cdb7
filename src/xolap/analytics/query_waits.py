"""Custom queries by tag while they are in run_custom_sql, waiting or running: progress and cancel that also reach a
query waiting for an identical one under way (the result cache computes a kept answer once, xolap.analytics.result_cache).

- A waiter's progress is the progress of the query it waits for, under the waiter's own tag.
- A waiter's cancel ends its own wait at once (QueryError "cancelled"); the query under way belongs to the caller that
  started it and goes on for that caller and the other waiters.
- That caller's cancel stops the query; each waiter then runs the query itself (a failed computation is not kept),
  so no waiter gets a cancel it did not ask for.
- A waiter's time limit bounds its whole stay: its wait, and after a wait the query it runs itself gets what is left
  of its time limit (with the same memory limit).
- A cancel that arrives before the call registers (its request still waits for a slot or a thread) is kept for the
  tag, so the call starts cancelled; one that arrives after the call registered but before its query shows in
  ClickHouse (the walls read the catalogue and parse the SQL first) keeps asking until it does. The page and the
  SQL console cancel through here.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

from xolap.analytics import executor
from xolap.analytics.executor import Limits, QueryError
from xolap.analytics.result_cache import Computation
from xolap.clickhouse.client_protocol import ClickHouseClient

POLL_S = 0.02  # how often a wait looks at its cancel and its time limit: a cancel ends a wait within this time
# A call's query reaches ClickHouse a few ms after the call registers (the walls read the catalogue and parse it):
# a cancel in between asks again every POLL_S until the query shows, the call ends, or this long has passed.
CANCEL_REACH_S = 2.0
# Cancels of tags no call holds yet (the request that starts it may still wait for a slot or a thread): the call
# starts cancelled. Tags are fresh per run (the page makes one for each), so one kept cancel stops one call; bounded.
CANCELLED_AHEAD_MAX = 1000

_calls: dict[str, QueryCall] = {}
_cancelled_ahead: dict[str, None] = {}  # insertion-ordered: the oldest goes first past CANCELLED_AHEAD_MAX
_calls_lock = threading.Lock()


class QueryCall:
    """One custom query's stay in run_custom_sql under its tag: the query it waits for, its cancel, its time left."""

    def __init__(self, tag: str, limits: Limits) -> None:
        self.tag = tag
        self.limits = limits
        self.started = time.monotonic()
        self.cancelled = threading.Event()
        self.waiting = False  # for an identical computation under way
        self.waiting_for: Hashable = None  # who computes it (a custom query's tag), while it waits
        self.waited = False  # it waited for a query that ended without an answer for it
        self.waited_s = 0.0

    def seconds_left(self) -> float:
        return self.limits.max_execution_time - (time.monotonic() - self.started)

    def stop_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise QueryError("cancelled", "the query was cancelled", tag=self.tag)

    def wait(self, peer: Computation) -> bool:
        """How this call waits for an identical computation under way (result_cache.PeerWait): True once it ended;
        QueryError when this call is cancelled or its time limit passes first."""
        self.waiting_for, self.waiting = peer.by, True
        try:
            while not peer.done.wait(max(0.0, min(POLL_S, self.seconds_left()))):
                self.stop_if_cancelled()
                if self.seconds_left() <= 0:
                    raise QueryError(
                        "timeout",
                        f"the query ran longer than the {self.limits.max_execution_time:g} s limit, waiting for an "
                        "identical query that is still running",
                        tag=self.tag,
                    )
            self.stop_if_cancelled()
            return True
        finally:
            self.waiting_for, self.waiting = None, False
            self.waited, self.waited_s = True, time.monotonic() - self.started

    def own_limits(self) -> Limits:
        """The limits of the query this call runs itself: its own, or after a wait what is left of its time limit
        with the memory limit it had. QueryError when it was cancelled or no time is left."""
        self.stop_if_cancelled()
        if not self.waited:
            return self.limits
        left = self.seconds_left()
        if left <= 0:
            raise self.over_time()
        memory = self.limits.effective_memory_usage
        return self.limits.replace(
            max_execution_time=left, max_memory_usage=memory, memory_per_second=math.ceil(memory / left)
        )

    def over_time(self) -> QueryError:
        return QueryError(
            "timeout",
            f"the query ran longer than the {self.limits.max_execution_time:g} s limit ({self.waited_s:.1f} s of it "
            "waiting for an identical query that ended without an answer for it)",
            tag=self.tag,
        )

    def run(self, run: Callable[[Limits], executor.QueryResult]) -> executor.QueryResult:
        """run(limits) with this call's own limits; a time-out after a wait names the whole limit and the wait."""
        try:
            return run(self.own_limits())
        except QueryError as exc:
            if exc.kind == "timeout" and self.waited:
                raise self.over_time() from exc
            raise


@contextmanager
def query_call(tag: str, limits: Limits) -> Iterator[QueryCall]:
    """This custom query's call, found by its tag until it returns (a tag already in a call keeps the first)."""
    call = QueryCall(tag, limits)
    with _calls_lock:
        mine = _calls.setdefault(tag, call) is call
        if mine and _cancelled_ahead.pop(tag, False) is None:
            call.cancelled.set()
    try:
        yield call
    finally:
        if mine:
            with _calls_lock:
                _calls.pop(tag, None)


def _call(tag: str) -> QueryCall | None:
    with _calls_lock:
        return _calls.get(tag)


def progress(client: ClickHouseClient, tag: str) -> executor.Progress | None:
    """executor.progress of the query carrying `tag`, or of the query it waits for (under this tag); None when
    neither runs. Use a client other than the ones running the queries."""
    call = _call(tag)
    waiting_for = call.waiting_for if call is not None else None
    if not isinstance(waiting_for, str):
        return executor.progress(client, tag)
    followed = executor.progress(client, waiting_for)
    return None if followed is None else dataclasses.replace(followed, tag=tag)


def cancel(client: ClickHouseClient, tag: str) -> int:
    """Stop the custom query carrying `tag`: its wait for an identical query (which goes on for its own caller),
    its ClickHouse query, or its start when it has not reached ClickHouse yet. Returns how many waits and queries
    were asked to stop."""
    with _calls_lock:
        call = _calls.get(tag)
        if call is None:  # not registered yet, or over: kept for a call that registers later
            _cancelled_ahead[tag] = None
            while len(_cancelled_ahead) > CANCELLED_AHEAD_MAX:
                del _cancelled_ahead[next(iter(_cancelled_ahead))]
    if call is None:
        return executor.cancel(client, tag)
    call.cancelled.set()  # before looking: a call no longer waiting sees it before its own query starts
    if call.waiting:
        return 1
    deadline = time.monotonic() + CANCEL_REACH_S
    while not (stopped := executor.cancel(client, tag)) and _call(tag) is call and not call.waiting:
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    return stopped or int(call.waiting)
