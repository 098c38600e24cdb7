"""503 instead of a 500 trace while a store is down: the database drivers' connection errors become a short JSON
answer naming the component (and, for browsers, the same text), and the component board hears about it. A ClickHouse
query that fails for a reason of the server's own (a table gone, a time or memory limit on a page's query) is a 503
saying why in words, never ClickHouse's text (it may quote data); a missing table also turns the health board red."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from xolap.component_status import LABELS, board, one_line

log = logging.getLogger("xolap.web")
RETRY_AFTER_SECONDS = 10


def _postgres_errors() -> tuple[type[Exception], ...]:
    import psycopg
    import psycopg_pool
    from sqlalchemy import exc

    return (
        exc.OperationalError,
        exc.InterfaceError,
        exc.TimeoutError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        psycopg_pool.PoolTimeout,
    )


def _clickhouse_errors() -> tuple[type[Exception], ...]:
    from clickhouse_connect.driver import exceptions

    from xolap.clickhouse.client import ClickHouseUnavailable

    return (ClickHouseUnavailable, exceptions.OperationalError)


def _answer(component: str) -> Callable[[Request, Exception], JSONResponse]:
    label = LABELS[component]

    def handler(request: Request, exc: Exception) -> JSONResponse:
        board.report(component, False, one_line(exc))
        return JSONResponse(
            {"error": f"{label} is unavailable; try again shortly", "component": component, "status": 503},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return handler


# ClickHouse error codes of a table or database that is not there (UNKNOWN_TABLE, UNKNOWN_DATABASE).
SCHEMA_ERROR_CODES = frozenset({60, 81})
# What a page's query failure means, by executor.QueryError kind (others: "it failed (<kind>)").
QUERY_FAILURE_WORDS = {
    "timeout": "it took longer than the query time limit",
    "memory": "it needed more memory than the query memory limit",
    "too_many_rows_read": "it would read more rows than the query limit",
    "too_many_bytes_read": "it would read more bytes than the query limit",
    "too_large": "it would build a value larger than allowed",
    "too_many_rows": "its answer has more rows than the limit",
    "cancelled": "it was cancelled",
}


def _query_failed(request: Request, exc: Exception) -> JSONResponse:
    """A ClickHouse query of the server's own that failed (executor.QueryError, or the driver's DatabaseError from
    code that queries directly): 503 with the reason in words; a missing table is named and reported to health."""
    from xolap.analytics.executor import QueryError, clickhouse_error_code

    kind = exc.kind if isinstance(exc, QueryError) else "server"
    code = exc.code if isinstance(exc, QueryError) else clickhouse_error_code(exc)
    if kind == "unavailable":
        return _answer("clickhouse")(request, exc)
    if code in SCHEMA_ERROR_CODES:
        message = _missing_tables_message(request)
        board.report("clickhouse", False, message)
    else:
        message = f"ClickHouse could not answer this request: {QUERY_FAILURE_WORDS.get(kind, f'it failed ({kind})')}"
    log.warning("%s %s: a ClickHouse query failed (%s, code %s)", request.method, request.url.path, kind, code)
    return JSONResponse(
        {"error": message, "component": "clickhouse", "kind": kind, "status": 503},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _missing_tables_message(request: Request) -> str:
    from xolap.analytics.health import missing_tables_message
    from xolap.clickhouse.migrations import Migrator, RenderContext

    settings = request.app.state.runtime.settings
    try:
        context = RenderContext(settings.clickhouse_database, settings.clickhouse_cluster)
        missing = Migrator(request.app.state.runtime.clickhouse(), context).missing_tables()
    except Exception:  # noqa: BLE001 - the answer names what it can
        missing = []
    if missing:
        return missing_tables_message(settings.clickhouse_database, missing)
    return "ClickHouse is missing a table this page reads: run the migrations (xolap migrate) or restore it"


def install(app: FastAPI) -> None:
    for error in _postgres_errors():
        app.add_exception_handler(error, _answer("postgres"))
    for error in _clickhouse_errors():
        app.add_exception_handler(error, _answer("clickhouse"))
    from clickhouse_connect.driver.exceptions import DatabaseError

    from xolap.analytics.executor import QueryError

    app.add_exception_handler(QueryError, _query_failed)
    app.add_exception_handler(DatabaseError, _query_failed)  # OperationalError (unreachable) keeps its handler
