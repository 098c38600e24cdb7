"""Backfill JSON API (admin bearer token) and the live SSE stream of a run's events; the CLI drives a running
server through it. Routes (prefix /api/v1/backfill):

    GET    /runs?kind=&status=&limit=                list runs
    POST   /runs/manual, /runs/inventory              create (body: the service's keyword arguments)
    GET    /runs/{kind}/{id}                          one run (inventory: with batches)
    POST   /runs/{kind}/{id}/{pause|resume|cancel|retry}
    DELETE /runs/{kind}/{id}
    POST   /batches/{id}/retry
    GET    /batches/{id}/chunks?before=&after=&limit=
    GET    /runs/{kind}/{id}/events                   text/event-stream; `id:` is the journal id, Last-Event-ID
                                                      (header or ?last_event_id=) resumes without losing events;
                                                      ends with `event: refused` once its caller is no admin
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from xolap.backfill import service
from xolap.backfill.event_stream import event_stream
from xolap.backfill.naming import BackfillInputError
from xolap.runtime import Runtime
from xolap.web.live_answers import LIVE_HEADERS, caller_check
from xolap.web.security import admin_api_refusal, require_admin_api

router = APIRouter(prefix="/api/v1/backfill", tags=["backfill"], dependencies=[Depends(require_admin_api)])
INITIATOR = "api:admin-token"


class ManualRunRequest(BaseModel):
    s3_pattern: str
    format: str = "JSONAsString"
    target_table: str | None = None
    clickhouse_settings: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False


class InventoryRunRequest(BaseModel):
    manifest_url: str
    target_table: str | None = None
    format: str = "JSONAsString"
    chunk_size: int = 25
    max_simultaneous_batches: int = 1
    key_prefix: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    clickhouse_settings: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except service.ServiceError as exc:
        raise HTTPException(exc.status_code, str(exc)) from None
    except BackfillInputError as exc:
        raise HTTPException(422, str(exc)) from None


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


@router.get("/runs")
def runs(
    request: Request, kind: str | None = None, status: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> list:
    return _call(service.list_runs, _runtime(request), kind=kind, status=status, limit=limit)


@router.post("/runs/manual", status_code=201)
def create_manual(body: ManualRunRequest, request: Request) -> dict:
    return _call(service.create_manual_run, _runtime(request), initiated_by=INITIATOR, **body.model_dump())


@router.post("/runs/inventory", status_code=201)
def create_inventory(body: InventoryRunRequest, request: Request) -> dict:
    return _call(service.create_inventory_run, _runtime(request), initiated_by=INITIATOR, **body.model_dump())


@router.get("/runs/{kind}/{run_id}")
def run(kind: str, run_id: int, request: Request) -> dict:
    return _call(service.get_run, _runtime(request), kind, run_id)


_ACTIONS = {"pause": service.pause, "resume": service.resume, "cancel": service.cancel, "retry": service.retry_run}


@router.post("/runs/{kind}/{run_id}/{action}")
def run_action(kind: str, run_id: int, action: str, request: Request) -> dict:
    if action not in _ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}: use pause, resume, cancel or retry")
    return _call(_ACTIONS[action], _runtime(request), kind, run_id)


@router.delete("/runs/{kind}/{run_id}")
def delete(kind: str, run_id: int, request: Request) -> dict:
    _call(service.delete_run, _runtime(request), kind, run_id)
    return {"deleted": True, "kind": kind, "id": run_id}


@router.post("/batches/{batch_id}/retry")
def retry_batch(batch_id: int, request: Request) -> dict:
    return _call(service.retry_batch, _runtime(request), batch_id)


@router.get("/batches/{batch_id}/chunks")
def chunks(
    batch_id: int,
    request: Request,
    before: int | None = None,
    after: int | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list:
    return _call(service.chunk_logs, _runtime(request), batch_id, before=before, after=after, limit=limit)


@router.get("/runs/{kind}/{run_id}/events")
def events(kind: str, run_id: int, request: Request, last_event_id: int | None = None) -> StreamingResponse:
    runtime = _runtime(request)
    _call(service.get_run, runtime, kind, run_id)  # 404 before streaming
    header = request.headers.get("last-event-id")
    start = last_event_id if last_event_id is not None else int(header) if header and header.isdigit() else 0
    return StreamingResponse(
        event_stream(runtime.settings, kind, run_id, start, refused=caller_check(request, admin_api_refusal)),
        media_type="text/event-stream",
        headers=LIVE_HEADERS,
    )
