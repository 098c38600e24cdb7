"""503 instead of a 500 trace while a store is down: the database drivers' connection errors become a short JSON
answer naming the component (and, for browsers, the same text), and the component board hears about it."""

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


def install(app: FastAPI) -> None:
    for error in _postgres_errors():
        app.add_exception_handler(error, _answer("postgres"))
    for error in _clickhouse_errors():
        app.add_exception_handler(error, _answer("clickhouse"))
