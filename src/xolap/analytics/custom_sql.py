"""Custom SQL, the one place it runs: the guard for a scope, that scope's wall, the engine's own check of the functions
it calls (function_wall), the read-only client, the bounded executor.

`xolap query` (locally), the admin query API it uses through a running server, and the dashboards' query, export and
saved-visualization routes all call run_custom_sql; none of them guards, walls or picks a client on its own.

A section's or project's answer is kept in the per-process result cache while the scope's data is unchanged, when its
key is exact (keepable_question): a dashboard's query and its export, or a rerun, then cost no ClickHouse query.
Every layer still holds for what runs: a kept answer was computed behind the guard, the wall, readonly and the
limits of exactly this scope, and is only handed to a caller the route authorized for it. A call waiting for an
identical one under way is followed, cancelled and timed by its own tag (xolap.analytics.query_waits).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from xolap.analytics import executor, query_waits, result_cache
from xolap.analytics.date_window import dated
from xolap.analytics.function_wall import check_functions
from xolap.analytics.guard import GuardedQuery, GuardError, GuardScope, guard, is_guard_scope
from xolap.analytics.repeatable_sql import is_repeatable
from xolap.analytics.scope_wall import is_wall_scope, scope_wall
from xolap.clickhouse.client_protocol import ClickHouseClient

if TYPE_CHECKING:
    from xolap.config import Settings
    from xolap.runtime import Runtime

SCOPES = ("section", "project", "admin")
_readonly_clients = threading.local()


class EmptyQuery(ValueError):
    """The SQL is empty or only whitespace."""


def guarded_sql(sql: str, scope: str, database: str) -> GuardedQuery:
    """User SQL rewritten by the guard so it only reads this scope's rows (GuardError says why it is refused)."""
    if not sql or not sql.strip():
        raise EmptyQuery("sql: the query is empty")
    if not is_guard_scope(scope):
        raise ValueError(f"unknown scope {scope!r}: use section, project or admin")
    return _guarded_once(sql, scope, database)


@lru_cache(maxsize=512)
def _guarded_once(sql: str, scope: GuardScope, database: str) -> GuardedQuery:
    """The guard's answer, kept per process: it depends only on these three (the scope id is bound when the query
    runs) and a GuardedQuery is immutable, so a dashboard's repeated custom query or export is parsed once. A
    refusal raises and is not kept."""
    return guard(sql, scope=scope, database=database)


def limits_for(settings: Settings, *, max_rows: int | None = None, timeout: float | None = None) -> executor.Limits:
    """The configured query limits, with a smaller row limit or time limit when the caller asks for one: a caller
    asking for more (or for inf) gets the configured bound, never a value past what ClickHouse holds."""
    limits = executor.Limits.from_settings(settings)
    if max_rows is not None and max_rows < limits.max_result_rows:
        limits = limits.replace(max_result_rows=max_rows)
    if timeout is not None and timeout < limits.max_execution_time:  # NaN compares False: the configured one
        limits = limits.replace(max_execution_time=timeout)
    return limits


def user_sql_client(runtime: Runtime) -> Any:
    """The client user SQL runs on: the read-only server user when configured, else this thread's client."""
    from xolap.clickhouse.client import connect

    settings = runtime.settings
    if settings.is_embedded_clickhouse or not settings.clickhouse_readonly_url:
        return runtime.clickhouse()
    client = getattr(_readonly_clients, "client", None)
    if client is None:
        client = _readonly_clients.client = connect(settings, readonly_user=True)
    return client


def run_custom_sql(
    client: ClickHouseClient,
    settings: Settings,
    sql: str,
    *,
    scope: str,
    scope_id: int | None,
    tag: str | None = None,
    limits: executor.Limits | None = None,
    start: date | None = None,
    end: date | None = None,
) -> executor.QueryResult:
    """Guard with the scope, then run bounded and read-only with the scope's id bound as xolap_scope_id, behind the
    scope's engine-enforced table filters (scope_wall). Raises EmptyQuery, GuardError, QueryError or ValueError.
    An answer already computed for exactly this question about this scope at its current data version is served
    from the result cache (with this call's tag) instead of running again."""
    limits = limits or executor.Limits.from_settings(settings)
    query_tag = tag or executor.new_tag()
    with query_waits.query_call(query_tag, limits) as call:
        return _run_call(client, settings, sql, call, scope=scope, scope_id=scope_id, start=start, end=end)


def _run_call(
    client: ClickHouseClient,
    settings: Settings,
    sql: str,
    call: query_waits.QueryCall,
    *,
    scope: str,
    scope_id: int | None,
    start: date | None,
    end: date | None,
) -> executor.QueryResult:
    database, limits, query_tag = settings.clickhouse_database, call.limits, call.tag
    guarded = guarded_sql(sql, scope, database)
    parameters = guarded.parameters(scope_id)
    scope_only = scope_wall(scope, scope_id, database)
    # the dashboard's dates, when applied, narrow every read of raw_events (date_window)
    wall = dated(scope_only, start, end) if scope_only is not None else None

    def run_walled(own_limits: executor.Limits) -> executor.QueryResult:
        try:  # the engine's own parse names no refused function (function_wall); a parse it fails, the run fails too
            check_functions(client, guarded.sql, parameters)
        except (GuardError, executor.QueryError):
            raise
        except Exception as exc:  # clickhouse-connect and chDB raise several exception types
            raise executor.classify_error(exc, own_limits, query_tag=query_tag) from exc
        return executor.run(
            client,
            settings,
            guarded.sql,
            parameters=parameters,
            tag=query_tag,
            limits=own_limits,
            readonly=True,
            wall=wall,
        )

    def run() -> executor.QueryResult:
        return call.run(run_walled)

    question = keepable_question(sql, guarded, limits, start, end)
    if question is None or scope_only is None:  # admin reads every scope: no scope's version covers it
        return run()
    _remember_question((sql, scope, database, start, end, limits), question)
    result, hit = result_cache.cached_result(
        settings, scope_only.scope, scope_only.scope_id, question, run, by=query_tag, wait=call.wait
    )
    return dataclasses.replace(result, tag=query_tag, cached=True) if hit else result


# The user's text (with scope kind, database, dates and limits) -> its keepable question, for the questions
# run_custom_sql has seen in this process: kept_answer finds a kept answer without guarding the text again.
KEPT_QUESTIONS = 1024
_kept_questions: OrderedDict[tuple[Hashable, ...], tuple[Hashable, ...]] = OrderedDict()
_kept_questions_lock = threading.Lock()


def _remember_question(asked: tuple[Hashable, ...], question: tuple[Hashable, ...]) -> None:
    with _kept_questions_lock:
        _kept_questions[asked] = question
        _kept_questions.move_to_end(asked)
        while len(_kept_questions) > KEPT_QUESTIONS:
            _kept_questions.popitem(last=False)


def kept_answer(
    settings: Settings,
    sql: str,
    *,
    scope: str,
    scope_id: int | None,
    start: date | None = None,
    end: date | None = None,
) -> executor.QueryResult | None:
    """The answer run_custom_sql (with the configured limits) would serve from the result cache for this query about
    this scope at its current data version, or None. It never guards, runs or waits, so an event loop may ask before
    handing anything else to a worker thread: only texts run_custom_sql already guarded and kept in this process
    are looked up, and small answers only (result_cache.stored_result)."""
    if not is_wall_scope(scope) or isinstance(scope_id, bool) or not isinstance(scope_id, int):
        return None
    asked = (sql, scope, settings.clickhouse_database, start, end, executor.Limits.from_settings(settings))
    with _kept_questions_lock:
        question = _kept_questions.get(asked)
    if question is None:
        return None
    result = result_cache.stored_result(settings, scope, scope_id, question)
    return dataclasses.replace(result, cached=True) if result is not None else None


def keepable_question(
    sql: str, guarded: GuardedQuery, limits: executor.Limits, start: date | None, end: date | None
) -> tuple[Hashable, ...] | None:
    """The result cache's key for this query (beside the database, scope kind and id), or None when its answer may
    not be kept: it reads a table other than raw_events (content_titles of a section's projects change with writes
    to other sections, which do not move this section's version), or it names a clock, random or block-layout
    function (repeatable_sql). The guard's printed SQL stands for the user's text with the scope kind and database;
    the dates narrow the wall, and the limits decide errors and truncation."""
    if any(table != "raw_events" for table in guarded.tables) or not is_repeatable(sql, guarded.sql):
        return None
    return ("custom_sql", guarded.sql, start, end, limits)
