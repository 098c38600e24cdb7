"""Operations API for the CLI beside a running server (admin only): ClickHouse migrations, custom SQL for a scope named
by id or slug (a tagged run can be followed and cancelled, as the SQL console does), a curated category, ClickHouse health and a titles import. Each route is a thin adapter over the
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

from xolap.analytics import operations, query_waits
from xolap.clickhouse.migrations import run_action
from xolap.operation_errors import OperationError, refused
from xolap.runtime import Runtime
from xolap.web import query_slots
from xolap.web.analytics_scope import TAG_RE, DashboardError, running_queries
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
    tag: str | None = None  # q-<16 hex>: names the run for GET /query/{tag}/progress and POST /query/{tag}/cancel


class CategoryRequest(BaseModel):
    scope: str
    ref: str
    start: date | None = None
    end: date | None = None


class TitlesRequest(BaseModel):
    filename: str
    content: str


async def _answer(produce: Callable[[], Any]) -> Any:
    return await run_in_threadpool(_answered, produce)


def _answered(produce: Callable[[], Any]) -> Any:
    try:
        return produce()
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


# The SQL console's queries are owned by scope None in the running-queries registry: no dashboard scope sees or stops
# them, and they see or stop no dashboard's.
CONSOLE = None


def _tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise refused(f"query tag must look like q- followed by 16 hex digits, got {tag!r}")
    return tag


@router.post("/query")
async def query(body: QueryRequest, request: Request) -> Any:
    registry = running_queries(request)

    def produce() -> dict:
        tag = _tag(body.tag) if body.tag else None
        if tag is not None:
            try:
                started = registry.start(tag, CONSOLE)
            except DashboardError as exc:
                raise OperationError(exc.message, kind=exc.kind, status_code=exc.status) from None
            if not started:
                raise OperationError("the query was cancelled before it started", kind="cancelled", status_code=409)
        try:
            return operations.query(
                _runtime(request),
                body.sql,
                scope=body.scope,
                ref=body.ref,
                max_rows=body.max_rows,
                timeout=body.timeout,
                tag=tag,
            )
        finally:
            if tag is not None:
                registry.finish(tag)

    return await query_slots.run_user_sql(request, _answered, produce)


@router.get("/query/{tag}/progress")
async def query_progress(tag: str, request: Request) -> Any:
    """How far a tagged console query is: rows read, seconds, and the share read when the engine can tell."""

    def produce() -> dict:
        _tag(tag)
        if not running_queries(request).is_running_in(tag, CONSOLE):
            return {"tag": tag, "running": False}
        progress = query_waits.progress(_runtime(request).clickhouse(), tag)  # also a wait for an identical one
        if progress is None:  # registered, not yet started in the engine
            return {"tag": tag, "running": True, "rows_read": 0, "total_rows": 0, "elapsed_s": 0.0, "fraction": None}
        return {
            "tag": tag,
            "running": True,
            "rows_read": progress.rows_read,
            "total_rows": progress.total_rows,
            "elapsed_s": progress.elapsed_s,
            "fraction": progress.fraction,
        }

    return await _answer(produce)


@router.post("/query/{tag}/cancel")
async def query_cancel(tag: str, request: Request) -> Any:
    """Stop a tagged console query; a cancel that comes before its query starts is kept and stops it at the start."""

    def produce() -> dict:
        _tag(tag)
        registry = running_queries(request)
        if registry.is_running_in(tag, CONSOLE):
            return {"tag": tag, "cancelled": query_waits.cancel(_runtime(request).clickhouse(), tag)}
        registry.cancel_before_start(tag, CONSOLE)
        return {"tag": tag, "cancelled": 0}

    return await _answer(produce)


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
