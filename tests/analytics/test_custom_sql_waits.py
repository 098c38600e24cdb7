"""A custom query waiting for an identical one that is running (the result cache computes a kept answer once): its
progress is the running query's, its cancel stops its own wait at once while the running query goes on for its
caller, the running query's cancel does not fail it (it runs the query itself), and its time limit bounds its wait
and what it runs after."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from dashboard_support import load_events
from xolap.analytics import custom_sql, executor, query_waits
from xolap.analytics.executor import QueryError
from xolap.analytics.result_cache import ResultCache
from xolap.clickhouse.client import connect

# runs until cancelled or timed out: a five-way self join of section 101's 120 events (~2.5e10 rows)
SLOW = (
    "SELECT count() AS {label} FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c "
    "CROSS JOIN raw_events AS d CROSS JOIN raw_events AS e"
)
FIRST, WAITER = "q-00000000000f1257", "q-0000000000a17e25"


@pytest.fixture()
def events(ch_db):
    client, settings = ch_db
    load_events(client, settings.clickhouse_database)
    return client, settings


class Caller:
    """One caller of run_custom_sql on its own thread and client; `outcome` is its result or QueryError."""

    def __init__(self, settings, sql: str, tag: str, limits: executor.Limits) -> None:
        self.outcome: object = None
        self.ended_at = 0.0

        def call() -> None:
            try:
                self.outcome = custom_sql.run_custom_sql(
                    connect(settings), settings, sql, scope="section", scope_id=101, tag=tag, limits=limits
                )
            except QueryError as exc:
                self.outcome = exc
            self.ended_at = time.monotonic()

        self.thread = threading.Thread(target=call, daemon=True)
        self.started_at = time.monotonic()
        self.thread.start()

    def ended(self, within: float) -> bool:
        self.thread.join(within)
        return not self.thread.is_alive()


def eventually(condition: Callable[[], object], within: float = 30.0) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


def limits(settings, seconds: float) -> executor.Limits:
    return executor.Limits.from_settings(settings).replace(max_execution_time=seconds)


def test_a_waiter_shows_the_running_query_progress_and_its_cancel_stops_only_its_wait(events):
    client, settings = events
    sql, bounds = SLOW.format(label="followed"), limits(settings, 20)
    first = Caller(settings, sql, FIRST, bounds)
    try:
        assert eventually(lambda: executor.progress(client, FIRST)), "the first query never started"
        waiter = Caller(settings, sql, WAITER, bounds)
        seen = eventually(lambda: (p := query_waits.progress(client, WAITER)) is not None and p.rows_read > 0 and p)
        assert seen, "a waiter's progress shows the running computation's rows"
        assert seen.tag == WAITER and executor.progress(client, WAITER) is None, "it runs no query of its own"
        asked = time.monotonic()
        assert query_waits.cancel(client, WAITER) == 1
        assert waiter.ended(1.0), "a waiter's cancel stops its wait at once"
        assert isinstance(waiter.outcome, QueryError) and waiter.outcome.kind == "cancelled"
        assert waiter.outcome.tag == WAITER and waiter.ended_at - asked < 0.5
        assert executor.progress(client, FIRST) is not None, "the running query goes on for its own caller"
        assert query_waits.progress(client, WAITER) is None, "a stopped waiter shows nothing running"
    finally:
        query_waits.cancel(client, FIRST)
        assert first.ended(5.0)
    assert isinstance(first.outcome, QueryError) and first.outcome.kind == "cancelled"


def test_the_running_query_cancelled_by_its_caller_does_not_fail_its_waiter(events):
    client, settings = events
    sql, bounds = SLOW.format(label="abandoned"), limits(settings, 20)
    first = Caller(settings, sql, FIRST, bounds)
    waiter = None
    try:
        assert eventually(lambda: executor.progress(client, FIRST)), "the first query never started"
        waiter = Caller(settings, sql, WAITER, bounds)
        assert eventually(lambda: query_waits.progress(client, WAITER)), "the waiter never waited"
        assert query_waits.cancel(client, FIRST) >= 1
        assert first.ended(5.0) and isinstance(first.outcome, QueryError) and first.outcome.kind == "cancelled"
        # the waiter runs the query itself, under its own tag, instead of failing with a cancel it did not ask for
        own = eventually(lambda: executor.progress(client, WAITER))
        assert own and waiter.thread.is_alive(), f"the waiter ended with {waiter.outcome!r}"
        followed = query_waits.progress(client, WAITER)
        assert followed is not None and followed.tag == WAITER
    finally:
        if waiter is not None:
            query_waits.cancel(client, WAITER)
            assert waiter.ended(5.0)
    assert isinstance(waiter.outcome, QueryError) and waiter.outcome.kind == "cancelled"


def test_a_waiter_gets_the_answer_of_the_query_it_waited_for(events):
    client, settings = events
    # long enough to be waited for (a four-way self join of 120 events: ~2e8 rows), short enough to end
    sql = "SELECT count() AS shared FROM raw_events AS a CROSS JOIN raw_events AS b CROSS JOIN raw_events AS c"
    sql += " CROSS JOIN (SELECT * FROM raw_events LIMIT 30) AS d"
    bounds = limits(settings, 20)
    first = Caller(settings, sql, FIRST, bounds)
    assert eventually(lambda: executor.progress(client, FIRST) or not first.thread.is_alive())
    waiter = Caller(settings, sql, WAITER, bounds)
    assert first.ended(10.0) and waiter.ended(10.0)
    assert not isinstance(first.outcome, QueryError) and not isinstance(waiter.outcome, QueryError)
    assert first.outcome.rows == waiter.outcome.rows == [(120**3 * 30,)]
    assert waiter.outcome.tag == WAITER


def test_a_waiter_stays_within_its_time_limit_when_the_running_query_fails(events):
    """The running query times out (same limits: it started first), so the waiter runs it itself with what is left
    of its own limit: it stops at its limit, not at twice it."""
    client, settings = events
    seconds = 1.0
    sql, bounds = SLOW.format(label="bounded"), limits(settings, seconds)
    first = Caller(settings, sql, FIRST, bounds)
    assert eventually(lambda: executor.progress(client, FIRST)), "the first query never started"
    waiter = Caller(settings, sql, WAITER, bounds)
    assert first.ended(5.0) and waiter.ended(5.0)
    assert isinstance(first.outcome, QueryError) and first.outcome.kind == "timeout"
    assert isinstance(waiter.outcome, QueryError) and waiter.outcome.kind == "timeout", waiter.outcome
    # without the bound it waits ~0.9 s, then runs for its whole limit again
    assert waiter.ended_at - waiter.started_at < seconds + 0.4, "the waiter's time limit bounds its whole wait"
    assert f"{seconds:g} s limit" in waiter.outcome.message


def test_a_wait_for_a_computation_that_outlives_the_time_limit_ends_at_the_limit():
    """A computation ClickHouse cannot stop in time (one long block, stack-findings F) keeps its waiters no longer than
    their own time limit, and a cancel ends the wait within a poll; neither leaves the tag behind."""
    cache, computing, stuck = ResultCache(max_bytes=1 << 20, max_age=60), threading.Event(), threading.Event()

    def compute() -> bytes:
        computing.set()
        return stuck.wait(5) and b"x"

    running = threading.Thread(target=cache.get_or_compute, args=("k", lambda: (0, 0), compute))
    running.start()
    try:
        assert computing.wait(30), "the computation never started"  # else the next call would compute it itself
        bounds = executor.Limits(0.3, 10, 10, 10, 10)
        started = time.monotonic()
        with query_waits.query_call(WAITER, bounds) as call, pytest.raises(QueryError) as timed_out:
            cache.get_or_compute("k", lambda: (0, 0), lambda: b"never", wait=call.wait)
        assert timed_out.value.kind == "timeout" and "0.3 s limit" in timed_out.value.message
        assert 0.3 <= time.monotonic() - started < 0.5
        with query_waits.query_call(WAITER, executor.Limits(20, 10, 10, 10, 10)) as call:
            asked: list[float] = []  # when the cancel was sent (the timer thread itself may start late when loaded)
            cancel = threading.Timer(
                0.1, lambda: asked.append(time.monotonic()) or query_waits.cancel(None, WAITER)
            )  # a wait asks ClickHouse nothing
            cancel.start()
            with pytest.raises(QueryError) as cancelled:
                cache.get_or_compute("k", lambda: (0, 0), lambda: b"never", wait=call.wait)
            ended = time.monotonic()
        assert cancelled.value.kind == "cancelled" and ended - asked[0] < 0.2
    finally:
        stuck.set()
        running.join(5)
    assert WAITER not in query_waits._calls, "a call's tag is forgotten when it returns"


def test_a_cancel_that_arrives_before_the_call_registers_stops_it_from_starting(events):
    """The page's Cancel can reach the server before its query's call is registered (the request that starts it
    waits for a query slot, a worker thread, the guard): the call then starts cancelled instead of running."""
    client, settings = events
    sql, bounds = SLOW.format(label="early"), limits(settings, 20)
    assert query_waits.cancel(client, FIRST) == 0, "nothing runs under the tag yet"
    first = Caller(settings, sql, FIRST, bounds)
    assert first.ended(5.0), "a cancelled call does not run to its time limit"
    assert isinstance(first.outcome, QueryError) and first.outcome.kind == "cancelled"
    again = Caller(settings, "SELECT count() AS plain FROM raw_events", FIRST, bounds)
    assert again.ended(10.0) and not isinstance(again.outcome, QueryError), "a cancel stops one call, once"


def test_a_cancel_between_the_call_and_its_query_reaching_clickhouse_stops_it(events, monkeypatch):
    """The call is registered but its query is not in ClickHouse yet (the wall reads the catalogue first, the
    function wall parses it): the cancel keeps asking until the query shows, instead of finding nothing to stop."""
    from xolap.analytics import scope_wall

    client, settings = events
    reading, release = threading.Event(), threading.Event()
    real = scope_wall.catalogue_tables

    def slow_catalogue(*args, **kwargs):
        reading.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(scope_wall, "catalogue_tables", slow_catalogue)
    first = Caller(settings, SLOW.format(label="between"), FIRST, limits(settings, 20))
    assert reading.wait(10), "the query never reached its wall"
    threading.Timer(0.2, release.set).start()
    query_waits.cancel(client, FIRST)
    assert first.ended(5.0), "the cancel reached the query once it started"
    assert isinstance(first.outcome, QueryError) and first.outcome.kind == "cancelled"
