"""Operations API for the CLI beside a running server (admin only): ClickHouse migrations, custom SQL for a scope named
by id or slug, a curated category, ClickHouse health and a titles import. Each route is a thin adapter over the
operation `xolap` runs locally (xolap.clickhouse.migrations.run_action, xolap.analytics.operations), so the answer
is the same both ways; errors are {"error": {"kind", "message"}} with 400 (refused), 404 (unknown scope or category),
422 (a limit) or 503 (ClickHouse unavailable).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from xolap.analytics import operations
from xolap.clickhouse.migrations import run_action
from xolap.operation_errors import OperationError
from xolap.runtime import Runtime
from xolap.web.security import require_admin_api

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin_api)])


class MigrateRequest(BaseModel):
    action: str  # setup | up | down | status
    steps: int = 1
    target: int | None = None


class QueryRequest(BaseModel):
    sql: str
    scope: str  # section | project | admin
    ref: str | None = None  # the section's or project's id or slug
    max_rows: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, ge=0.1)


class CategoryRequest(BaseModel):
    scope: str
    ref: str
    start: date | None = None
    end: date | None = None


class TitlesRequest(BaseModel):
    filename: str
    content: str


async def _answer(produce: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(produce)
    except OperationError as exc:
        return JSONResponse({"error": {"kind": exc.kind, "message": exc.message}}, status_code=exc.status_code or 422)


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


@router.post("/clickhouse/migrations")
async def migrations(body: MigrateRequest, request: Request) -> Any:
    def produce() -> dict:
        try:
            return run_action(_runtime(request).migrator(), body.action, steps=body.steps, target=body.target)
        except ValueError as exc:
            raise OperationError(str(exc), kind="invalid", refused=True, status_code=400) from None

    return await _answer(produce)


@router.post("/query")
async def query(body: QueryRequest, request: Request) -> Any:
    return await _answer(
        lambda: operations.query(
            _runtime(request), body.sql, scope=body.scope, ref=body.ref, max_rows=body.max_rows, timeout=body.timeout
        )
    )


@router.post("/analytics/categories/{key}")
async def category(key: str, body: CategoryRequest, request: Request) -> Any:
    return await _answer(
        lambda: operations.category(
            _runtime(request), key, scope=body.scope, ref=body.ref, start=body.start, end=body.end
        )
    )


@router.get("/analytics/health")
async def health(request: Request) -> Any:
    return await _answer(lambda: operations.health(_runtime(request)))


@router.post("/analytics/titles")
async def titles(body: TitlesRequest, request: Request) -> Any:
    return await _answer(lambda: operations.import_titles(_runtime(request), body.filename, body.content.encode()))
