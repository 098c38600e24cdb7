"""Admin backfill pages (/admin/clickhouse/backfill): Manual and Inventory tabs with create forms (field-level
errors), run lists with status, progress and metrics, pause/resume/cancel/retry/delete, and a run page whose
chunk-log viewer streams live over the backfill SSE endpoint and pages back through older chunks on scroll.

Everything goes through xolap.backfill.service; every route needs an admin and the flags `clickhouse-olap` and
`clickhouse-olap-bulk-ingest` (require_bulk_ingest). Each page also answers JSON.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request

from xolap.backfill import service
from xolap.backfill.models import TERMINAL
from xolap.backfill.naming import FORMATS, BackfillInputError
from xolap.runtime import Runtime
from xolap.web.auth import Principal, require_bulk_ingest
from xolap.web.negotiation import redirect, render

router = APIRouter(prefix="/admin/clickhouse/backfill", tags=["admin"])
TABS = ("manual", "inventory")
RUN_LIST_LIMIT = 25
_FIELD_RE = re.compile(r"^([a-z_]+): ")


def parse_settings(text: str) -> dict:
    """ClickHouse settings typed as JSON object or as `name = value` lines."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackfillInputError(f"clickhouse_settings: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(value, dict):
            raise BackfillInputError("clickhouse_settings: expected a JSON object")
        return value
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise BackfillInputError(
                f"clickhouse_settings: line {number}: expected name = value (got {line.strip()!r})"
            )
        out[name.strip()] = value.strip()
    return out


def field_errors(exc: Exception) -> dict[str, str]:
    """{field: message} from a service error that names its field ("s3_pattern: ..."), else under "form"."""
    message = str(exc)
    match = _FIELD_RE.match(message)
    return {match.group(1): message[match.end() :]} if match else {"form": message}


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _page(request: Request, tab: str, *, form: dict | None = None, errors: dict | None = None, status_code: int = 200):
    if tab not in TABS:
        raise HTTPException(404, f"unknown tab {tab!r}: manual or inventory")
    runs = service.list_runs(_runtime(request), kind=tab, limit=RUN_LIST_LIMIT)
    defaults = {"format": "JSONAsString", "chunk_size": "25", "max_simultaneous_batches": "1"}
    context = {
        "tab": tab,
        "runs": runs,
        "form": {**defaults, **(form or {})},
        "errors": errors or {},
        "formats": FORMATS,
        "terminal": TERMINAL,
    }
    body = {"tab": tab, "runs": runs, **({"errors": errors} if errors else {})}
    return render(request, "admin/backfill.html", context, json_data=body, status_code=status_code)


@router.get("")
def backfill_page(request: Request, tab: str = "manual", principal: Principal = Depends(require_bulk_ingest)):
    return _page(request, tab)


def _initiator(principal: Principal) -> str:
    return f"user:{principal.user.id}" if principal.user is not None else "admin-token"


@router.post("/manual")
def create_manual(
    request: Request,
    s3_pattern: str = Form(""),
    format: str = Form("JSONAsString"),
    target_table: str = Form(""),
    clickhouse_settings: str = Form(""),
    dry_run: bool = Form(False),
    principal: Principal = Depends(require_bulk_ingest),
):
    form = {
        "s3_pattern": s3_pattern,
        "format": format,
        "target_table": target_table,
        "clickhouse_settings": clickhouse_settings,
        "dry_run": dry_run,
    }
    if not s3_pattern.strip():
        return _page(
            request,
            "manual",
            form=form,
            errors={"s3_pattern": "required, e.g. s3://bucket/prefix/**/*.jsonl"},
            status_code=422,
        )
    try:
        run = service.create_manual_run(
            _runtime(request),
            s3_pattern=s3_pattern,
            format=format,
            target_table=target_table or None,
            clickhouse_settings=parse_settings(clickhouse_settings),
            dry_run=dry_run,
            initiated_by=_initiator(principal),
        )
    except (BackfillInputError, service.ServiceError) as exc:
        return _page(request, "manual", form=form, errors=field_errors(exc), status_code=422)
    return redirect(
        request,
        f"/admin/clickhouse/backfill/runs/manual/{run['id']}",
        f"Manual run {run['id']} queued.",
        "success",
        json_data=run,
    )


@router.post("/inventory")
def create_inventory(
    request: Request,
    manifest_url: str = Form(""),
    format: str = Form("JSONAsString"),
    target_table: str = Form(""),
    chunk_size: str = Form("25"),
    max_simultaneous_batches: str = Form("1"),
    key_prefix: str = Form(""),
    date_from: str = Form(""),
    date_to: str = Form(""),
    clickhouse_settings: str = Form(""),
    dry_run: bool = Form(False),
    principal: Principal = Depends(require_bulk_ingest),
):
    form = {
        "manifest_url": manifest_url,
        "format": format,
        "target_table": target_table,
        "chunk_size": chunk_size,
        "max_simultaneous_batches": max_simultaneous_batches,
        "key_prefix": key_prefix,
        "date_from": date_from,
        "date_to": date_to,
        "clickhouse_settings": clickhouse_settings,
        "dry_run": dry_run,
    }
    errors: dict[str, str] = {}
    if not manifest_url.strip():
        errors["manifest_url"] = "required: the s3:// URL of an S3 Inventory manifest.json"
    numbers: dict[str, int] = {}
    for name, value in (("chunk_size", chunk_size), ("max_simultaneous_batches", max_simultaneous_batches)):
        try:
            numbers[name] = int(value)
        except ValueError:
            errors[name] = f"{value!r} is not a whole number"
    if errors:
        return _page(request, "inventory", form=form, errors=errors, status_code=422)
    try:
        run = service.create_inventory_run(
            _runtime(request),
            manifest_url=manifest_url,
            format=format,
            target_table=target_table or None,
            key_prefix=key_prefix.strip() or None,
            date_from=date_from or None,
            date_to=date_to or None,
            clickhouse_settings=parse_settings(clickhouse_settings),
            dry_run=dry_run,
            initiated_by=_initiator(principal),
            chunk_size=numbers["chunk_size"],
            max_simultaneous_batches=numbers["max_simultaneous_batches"],
        )
    except (BackfillInputError, service.ServiceError) as exc:
        return _page(request, "inventory", form=form, errors=field_errors(exc), status_code=422)
    return redirect(
        request,
        f"/admin/clickhouse/backfill/runs/inventory/{run['id']}",
        f"Inventory run {run['id']} queued.",
        "success",
        json_data=run,
    )


def _service_call(function, *args):
    try:
        return function(*args)
    except service.ServiceError as exc:
        raise HTTPException(exc.status_code, str(exc)) from None


@router.get("/runs/{kind}/{run_id}")
def run_page(kind: str, run_id: int, request: Request, principal: Principal = Depends(require_bulk_ingest)):
    run = _service_call(service.get_run, _runtime(request), kind, run_id)
    run["last_event_id"] = last_event_id(request, kind, run_id)
    return render(request, "admin/backfill_run.html", {"run": run, "terminal": TERMINAL}, json_data=run)


def last_event_id(request: Request, kind: str, run_id: int) -> int:
    """The newest journal id of the run: the page shows that state, the SSE stream continues after it."""
    from sqlalchemy import func, select

    from xolap.backfill.models import BackfillEvent

    with _runtime(request).sessions() as session:
        return int(
            session.execute(
                select(func.coalesce(func.max(BackfillEvent.id), 0)).where(
                    BackfillEvent.run_kind == kind, BackfillEvent.run_id == run_id
                )
            ).scalar_one()
        )


ACTIONS = {
    "pause": service.pause,
    "resume": service.resume,
    "cancel": service.cancel,
    "retry": service.retry_run,
    "delete": service.delete_run,
}


@router.post("/runs/{kind}/{run_id}/{action}")
def run_action(
    kind: str, run_id: int, action: str, request: Request, principal: Principal = Depends(require_bulk_ingest)
):
    if action not in ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}: use {', '.join(ACTIONS)}")
    back = (
        f"/admin/clickhouse/backfill?tab={kind}"
        if action == "delete"
        else f"/admin/clickhouse/backfill/runs/{kind}/{run_id}"
    )
    try:
        result = ACTIONS[action](_runtime(request), kind, run_id)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except service.ServiceError as exc:
        return redirect(request, back, str(exc), "error")
    return redirect(
        request,
        back,
        f"{kind.capitalize()} run {run_id}: {action} done.",
        "success",
        json_data=result if isinstance(result, dict) else {"ok": True, "action": action},
    )


@router.post("/batches/{batch_id}/retry")
def retry_batch(batch_id: int, request: Request, principal: Principal = Depends(require_bulk_ingest)):
    try:
        batch = service.retry_batch(_runtime(request), batch_id)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except service.ServiceError as exc:
        return redirect(request, "/admin/clickhouse/backfill?tab=inventory", str(exc), "error")
    return redirect(
        request,
        f"/admin/clickhouse/backfill/runs/inventory/{batch['run_id']}",
        f"Batch {batch_id} queued again.",
        "success",
        json_data=batch,
    )


@router.get("/batches/{batch_id}/chunks")
def chunks(
    batch_id: int,
    request: Request,
    before: int | None = None,
    after: int | None = None,
    limit: int = Query(100, ge=1, le=500),
    principal: Principal = Depends(require_bulk_ingest),
):
    """A page of chunk logs (JSON for the viewer's infinite scroll; HTML rows otherwise)."""
    rows = _service_call(service.chunk_logs, _runtime(request), batch_id, before, after, limit)
    return render(
        request,
        "admin/backfill_chunks.html",
        {"chunks": rows},
        json_data={"batch_id": batch_id, "chunks": rows, "has_older": bool(rows) and rows[0]["chunk_index"] > 0},
    )
