"""The backfill service layer used by the API, the CLI and the admin pages. Every function returns JSON-able dicts.

    create_manual_run(runtime, *, s3_pattern, format="JSONAsString", target_table=None, clickhouse_settings=None,
                      options=None, dry_run=False, initiated_by=None) -> dict
    create_inventory_run(runtime, *, manifest_url, target_table=None, format="JSONAsString", chunk_size=25,
                         max_simultaneous_batches=1, key_prefix=None, date_from=None, date_to=None,
                         clickhouse_settings=None, options=None, dry_run=False, initiated_by=None) -> dict
    list_runs(runtime, kind=None, status=None, limit=50) -> list[dict]        # kind: "manual" | "inventory" | None
    get_run(runtime, kind, run_id) -> dict                                   # inventory runs include "batches"
    pause(runtime, kind, run_id) / resume(…) / cancel(…) -> dict               # pause/resume: inventory runs only
    retry_run(runtime, kind, run_id) -> dict                                 # failed/cancelled run starts again
    retry_batch(runtime, batch_id) -> dict                                   # a failed/cancelled/paused batch
    delete_run(runtime, kind, run_id) -> None                                # terminal runs only
    chunk_logs(runtime, batch_id, before=None, after=None, limit=100) -> list[dict]   # by chunk_index, max 500

Errors: NotFound (404) and Conflict (409) are ServiceError; invalid input is naming.BackfillInputError (422).
Creation writes the record and its procrastinate job in one transaction (xolap.jobs.defer_in_transaction).

Inventory run status is derived from its batches (derive_status): cancelled > paused (both set by the operator,
sticky) > running (a batch queued/running/pending) > failed (no work left, at least one batch failed) >
completed (all batches completed); a run with no batches yet keeps pending/preparing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from xolap.backfill import naming
from xolap.backfill.events import publish
from xolap.backfill.models import TERMINAL, BackfillEvent, BackfillRun, ChunkLog, InventoryBatch, InventoryRun
from xolap.backfill.s3paths import parse_s3_url
from xolap.jobs import defer_in_transaction
from xolap.store.db import session_scope

if TYPE_CHECKING:
    from xolap.runtime import Runtime

QUEUE = "backfill"
TASK_MANUAL = "xolap.backfill.manual_run"
TASK_INVENTORY = "xolap.backfill.inventory_run"
TASK_BATCH = "xolap.backfill.inventory_batch"
KINDS = ("manual", "inventory")


class ServiceError(Exception):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


def now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- serialization -----------------------------------------------------------------------------------------------


def _shown_error(error: str | None) -> str | None:
    """A stored error as shown: ClickHouse text recorded before errors were scrubbed loses any echoed row content."""
    if error and "DB::Exception" in error:
        from xolap.backfill.errors import scrub

        return scrub(error)
    return error


def manual_dict(run: BackfillRun) -> dict[str, Any]:
    return {
        "kind": "manual",
        "id": run.id,
        "status": run.status,
        "target_table": run.target_table,
        "s3_pattern": run.s3_pattern,
        "format": run.format,
        "dry_run": run.dry_run,
        "options": run.options,
        "clickhouse_settings": run.clickhouse_settings,
        "progress": run.progress,
        "objects": run.objects,
        "rows_read": run.rows_read,
        "rows_written": run.rows_written,
        "bytes_read": run.bytes_read,
        "bytes_written": run.bytes_written,
        "duration_ms": run.duration_ms,
        "error": _shown_error(run.error),
        "attempts": run.attempts,
        "job_id": run.job_id,
        "query_tag": run.query_tag,
        "metadata": run.metadata_,
        "initiated_by": run.initiated_by,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def inventory_dict(run: InventoryRun) -> dict[str, Any]:
    return {
        "kind": "inventory",
        "id": run.id,
        "status": run.status,
        "manifest_url": run.manifest_url,
        "source_bucket": run.source_bucket,
        "destination_bucket": run.destination_bucket,
        "inventory_format": run.inventory_format,
        "target_table": run.target_table,
        "format": run.format,
        "chunk_size": run.chunk_size,
        "max_simultaneous_batches": run.max_simultaneous_batches,
        "key_prefix": run.key_prefix,
        "date_from": _iso(run.date_from),
        "date_to": _iso(run.date_to),
        "dry_run": run.dry_run,
        "options": run.options,
        "clickhouse_settings": run.clickhouse_settings,
        "error": _shown_error(run.error),
        "metadata": run.metadata_,
        "batches_total": run.batches_total,
        "batches_completed": run.batches_completed,
        "batches_failed": run.batches_failed,
        "batches_running": run.batches_running,
        "batches_pending": run.batches_pending,
        "rows_ingested": run.rows_ingested,
        "bytes_ingested": run.bytes_ingested,
        "initiated_by": run.initiated_by,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def batch_dict(batch: InventoryBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "run_id": batch.run_id,
        "sequence": batch.sequence,
        "inventory_key": batch.inventory_key,
        "status": batch.status,
        "object_count": batch.object_count,
        "skipped_objects": batch.skipped_objects,
        "processed_objects": batch.processed_objects,
        "chunk_count": batch.chunk_count,
        "chunks_completed": batch.chunks_completed,
        "rows_read": batch.rows_read,
        "rows_written": batch.rows_written,
        "bytes_read": batch.bytes_read,
        "bytes_written": batch.bytes_written,
        "attempts": batch.attempts,
        "error": _shown_error(batch.error),
        "metadata": batch.metadata_,
        "started_at": _iso(batch.started_at),
        "finished_at": _iso(batch.finished_at),
        "last_attempt_at": _iso(batch.last_attempt_at),
    }


def chunk_dict(log: ChunkLog) -> dict[str, Any]:
    return {
        "batch_id": log.batch_id,
        "chunk_index": log.chunk_index,
        "status": log.status,
        "keys": log.keys,
        "source_url": log.source_url,
        "dedup_token": log.dedup_token,
        "dry_run": log.dry_run,
        "attempts": log.attempts,
        "rows_read": log.rows_read,
        "rows_written": log.rows_written,
        "bytes_read": log.bytes_read,
        "bytes_written": log.bytes_written,
        "duration_ms": log.duration_ms,
        "error": _shown_error(log.error),
        "started_at": _iso(log.started_at),
        "finished_at": _iso(log.finished_at),
    }


def run_summary(run: BackfillRun | InventoryRun) -> dict[str, Any]:
    """The status event payload of a run."""
    return manual_dict(run) if isinstance(run, BackfillRun) else inventory_dict(run)


# --- shared helpers (also used by the runner) ----------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"unknown run kind {kind!r}: use manual or inventory")
    return kind


@overload
def load_run(session: Session, kind: Literal["manual"], run_id: int, *, lock: bool = False) -> BackfillRun: ...
@overload
def load_run(session: Session, kind: Literal["inventory"], run_id: int, *, lock: bool = False) -> InventoryRun: ...
@overload
def load_run(session: Session, kind: str, run_id: int, *, lock: bool = False) -> BackfillRun | InventoryRun: ...
def load_run(session: Session, kind: str, run_id: int, *, lock: bool = False) -> BackfillRun | InventoryRun:
    """The run of this kind and id (locked FOR UPDATE when asked); NotFound when there is none."""
    run: BackfillRun | InventoryRun | None
    if _check_kind(kind) == "manual":
        manual = select(BackfillRun).where(BackfillRun.id == run_id)
        run = session.scalars(manual.with_for_update() if lock else manual).first()
    else:
        inventory = select(InventoryRun).where(InventoryRun.id == run_id)
        run = session.scalars(inventory.with_for_update() if lock else inventory).first()
    if run is None:
        raise NotFound(f"{kind} backfill run {run_id} does not exist")
    return run


def set_status(session: Session, run: BackfillRun | InventoryRun, status: str, **fields: Any) -> None:
    """Change a run's status (and fields), stamp timestamps and publish a status event."""
    run.status = status
    for name, value in fields.items():
        setattr(run, name, value)
    if status in ("running", "preparing") and run.started_at is None:
        run.started_at = now()
    if status in TERMINAL:
        run.finished_at = now()
    elif status in ("pending", "running", "preparing"):
        run.finished_at = None
    session.flush()
    kind = "manual" if isinstance(run, BackfillRun) else "inventory"
    publish(session, kind, run.id, "status", run_summary(run))


def set_batch_status(session: Session, batch: InventoryBatch, status: str, **fields: Any) -> None:
    batch.status = status
    for name, value in fields.items():
        setattr(batch, name, value)
    if status == "running":
        batch.started_at = batch.started_at or now()
        batch.last_attempt_at = now()
    if status in TERMINAL:
        batch.finished_at = now()
    session.flush()
    publish(session, "inventory", batch.run_id, "batch", batch_dict(batch), batch_id=batch.id)


def cancel_job(session: Session, job_id: int | None) -> None:
    """Cancel a procrastinate job that has not started (a running one sees the record's status instead)."""
    if job_id:
        status = session.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        ).scalar()
        if status == "todo":
            session.execute(text("SELECT procrastinate_cancel_job_v1(:id, false, false)"), {"id": job_id})


def derive_status(current: str, batch_statuses: list[str]) -> str:
    """An inventory run's status from its batches (precedence in the module docstring)."""
    if current in ("cancelled", "paused"):
        return current
    if not batch_statuses:
        return current
    if any(s in ("queued", "running", "pending") for s in batch_statuses):
        return "running"
    if any(s == "paused" for s in batch_statuses):
        return "paused"
    if any(s in ("failed", "cancelled") for s in batch_statuses):
        return "failed"
    return "completed"


def refresh_inventory(session: Session, run: InventoryRun) -> None:
    """Recount batch counters and totals; derive and publish the run status when it changes."""
    batches = session.scalars(select(InventoryBatch).where(InventoryBatch.run_id == run.id)).all()
    statuses = [b.status for b in batches]
    run.batches_total = len(batches)
    run.batches_completed = statuses.count("completed")
    run.batches_failed = statuses.count("failed")
    run.batches_running = sum(s in ("queued", "running") for s in statuses)
    run.batches_pending = sum(s in ("pending", "paused") for s in statuses)
    run.rows_ingested = sum(b.rows_written for b in batches)
    run.bytes_ingested = sum(b.bytes_written for b in batches)
    new = derive_status(run.status, statuses) if run.status not in ("pending", "preparing") or batches else run.status
    if new != run.status:
        errors = [f"batch {b.sequence}: {b.error}" for b in batches if b.status == "failed" and b.error]
        set_status(session, run, new, error=("; ".join(errors)[:4000] or None) if new == "failed" else run.error)
    else:
        session.flush()


def schedule_batches(session: Session, run: InventoryRun) -> list[int]:
    """Queue pending batches until max_simultaneous_batches are queued or running; returns their ids.
    The caller holds the run row lock (SELECT … FOR UPDATE), so two workers never over-schedule."""
    if run.status in ("paused", "cancelled") or run.status in TERMINAL and run.status != "failed":
        return []
    active = (
        session.scalar(
            select(func.count())
            .select_from(InventoryBatch)
            .where(InventoryBatch.run_id == run.id, InventoryBatch.status.in_(("queued", "running")))
        )
        or 0
    )
    free = max(0, run.max_simultaneous_batches - active)
    if not free:
        return []
    pending = session.scalars(
        select(InventoryBatch)
        .where(InventoryBatch.run_id == run.id, InventoryBatch.status == "pending")
        .order_by(InventoryBatch.sequence)
        .limit(free)
    ).all()
    queued = []
    for batch in pending:
        batch.job_id = defer_in_transaction(
            session, TASK_BATCH, queue=QUEUE, args={"batch_id": batch.id}, lock=f"backfill-batch-{batch.id}"
        )
        set_batch_status(session, batch, "queued", error=None)
        queued.append(batch.id)
    return queued


# --- public API ---------------------------------------------------------------------------------------------------


def _database(runtime: Runtime) -> str:
    return runtime.settings.clickhouse_database


def create_manual_run(
    runtime: Runtime,
    *,
    s3_pattern: str,
    format: str = "JSONAsString",
    target_table: str | None = None,
    clickhouse_settings: dict | None = None,
    options: dict | None = None,
    dry_run: bool = False,
    initiated_by: str | None = None,
) -> dict[str, Any]:
    """Validate, then write the run and its job in one transaction."""
    parse_s3_url(s3_pattern)
    run = BackfillRun(
        s3_pattern=s3_pattern.strip(),
        format=naming.data_format(format),
        target_table=naming.target_table(target_table, _database(runtime)),
        clickhouse_settings=naming.clickhouse_settings(clickhouse_settings),
        options=dict(options or {}),
        dry_run=bool(dry_run),
        initiated_by=initiated_by,
        status="pending",
        metadata_={},
    )
    with session_scope(runtime.settings) as session:
        session.add(run)
        session.flush()
        run.query_tag = f"backfill-run-{run.id}"
        run.job_id = defer_in_transaction(
            session,
            TASK_MANUAL,
            queue=QUEUE,
            args={"run_id": run.id},
            lock=f"backfill-run-{run.id}",
            queueing_lock=f"backfill-run-{run.id}",
        )
        set_status(session, run, "pending")
        return manual_dict(run)


def _parse_time(value: str | datetime | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise naming.BackfillInputError(f"{field}: {value!r} is not an ISO-8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_inventory_run(
    runtime: Runtime,
    *,
    manifest_url: str,
    target_table: str | None = None,
    format: str = "JSONAsString",
    chunk_size: int = 25,
    max_simultaneous_batches: int = 1,
    key_prefix: str | None = None,
    date_from: str | datetime | None = None,
    date_to: str | datetime | None = None,
    clickhouse_settings: dict | None = None,
    options: dict | None = None,
    dry_run: bool = False,
    initiated_by: str | None = None,
) -> dict[str, Any]:
    """Validate, then write the run and its orchestrator job (reads the manifest, creates batches) in one transaction."""
    parse_s3_url(manifest_url, "manifest_url")
    if not 1 <= int(chunk_size) <= 1000:
        raise naming.BackfillInputError(f"chunk_size: {chunk_size} must be between 1 and 1000")
    if not 1 <= int(max_simultaneous_batches) <= 64:
        raise naming.BackfillInputError(
            f"max_simultaneous_batches: {max_simultaneous_batches} must be between 1 and 64"
        )
    start, end = _parse_time(date_from, "date_from"), _parse_time(date_to, "date_to")
    if start and end and start >= end:
        raise naming.BackfillInputError("date_from must be before date_to")
    run = InventoryRun(
        manifest_url=manifest_url.strip(),
        target_table=naming.target_table(target_table, _database(runtime)),
        format=naming.data_format(format),
        chunk_size=int(chunk_size),
        max_simultaneous_batches=int(max_simultaneous_batches),
        key_prefix=key_prefix or None,
        date_from=start,
        date_to=end,
        clickhouse_settings=naming.clickhouse_settings(clickhouse_settings),
        options=dict(options or {}),
        dry_run=bool(dry_run),
        initiated_by=initiated_by,
        status="pending",
        metadata_={},
    )
    with session_scope(runtime.settings) as session:
        session.add(run)
        session.flush()
        run.job_id = defer_in_transaction(
            session,
            TASK_INVENTORY,
            queue=QUEUE,
            args={"run_id": run.id},
            lock=f"backfill-inv-{run.id}",
            queueing_lock=f"backfill-inv-{run.id}",
        )
        set_status(session, run, "pending")
        return inventory_dict(run)


AnyRun = TypeVar("AnyRun", BackfillRun, InventoryRun)


def _newest_runs(session: Session, model: type[AnyRun], status: str | None, limit: int) -> Sequence[AnyRun]:
    """Up to `limit` runs of one kind, newest first, only those in `status` when it is given."""
    query = select(model).order_by(model.created_at.desc(), model.id.desc()).limit(limit)
    if status:
        query = query.where(model.status == status)
    return session.scalars(query).all()


def list_runs(
    runtime: Runtime, kind: str | None = None, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest first, both kinds unless `kind` is given."""
    out: list[dict[str, Any]] = []
    with session_scope(runtime.settings) as session:
        if not kind or kind == "manual":
            out += [manual_dict(r) for r in _newest_runs(session, BackfillRun, status, limit)]
        if not kind or kind == "inventory":
            out += [inventory_dict(r) for r in _newest_runs(session, InventoryRun, status, limit)]
    out.sort(key=lambda r: r["created_at"] or "", reverse=True)
    return out[:limit]


def get_run(runtime: Runtime, kind: str, run_id: int) -> dict[str, Any]:
    with session_scope(runtime.settings) as session:
        run = load_run(session, kind, run_id)
        body = run_summary(run)
        if kind == "inventory":
            batches = session.scalars(
                select(InventoryBatch).where(InventoryBatch.run_id == run_id).order_by(InventoryBatch.sequence)
            ).all()
            body["batches"] = [batch_dict(b) for b in batches]
        return body


def pause(runtime: Runtime, kind: str, run_id: int) -> dict[str, Any]:
    """Inventory runs: nothing new starts (queued batches are held), running chunks finish, then batches pause."""
    if kind != "inventory":
        raise Conflict("only inventory runs can be paused (a manual run is one query: cancel it instead)")
    with session_scope(runtime.settings) as session:
        run = load_run(session, "inventory", run_id, lock=True)
        if run.status in TERMINAL or run.status == "paused":
            raise Conflict(f"inventory run {run_id} is {run.status}: nothing to pause")
        for batch in session.scalars(
            select(InventoryBatch).where(
                InventoryBatch.run_id == run_id, InventoryBatch.status.in_(("pending", "queued"))
            )
        ).all():
            cancel_job(session, batch.job_id)
            set_batch_status(session, batch, "paused", job_id=None)
        set_status(session, run, "paused", metadata_={**run.metadata_, "pause_requested": True})
        return inventory_dict(run)


def resume(runtime: Runtime, kind: str, run_id: int) -> dict[str, Any]:
    if kind != "inventory":
        raise Conflict("only inventory runs can be paused and resumed")
    with session_scope(runtime.settings) as session:
        run = load_run(session, "inventory", run_id, lock=True)
        if run.status != "paused":
            raise Conflict(f"inventory run {run_id} is {run.status}, not paused")
        meta = {k: v for k, v in run.metadata_.items() if k != "pause_requested"}
        for batch in session.scalars(
            select(InventoryBatch).where(InventoryBatch.run_id == run_id, InventoryBatch.status == "paused")
        ).all():
            set_batch_status(session, batch, "pending")
        has_batches = bool(
            session.scalar(select(func.count()).select_from(InventoryBatch).where(InventoryBatch.run_id == run_id))
        )
        if not has_batches:  # paused before the manifest was read: start the orchestrator again
            set_status(session, run, "pending", metadata_=meta)
            run.job_id = defer_in_transaction(
                session, TASK_INVENTORY, queue=QUEUE, args={"run_id": run.id}, lock=f"backfill-inv-{run.id}"
            )
        else:
            set_status(session, run, "running", metadata_=meta)
            schedule_batches(session, run)
            refresh_inventory(session, run)
        return inventory_dict(run)


def _kill(runtime: Runtime, tags: list[str]) -> int:
    from xolap.backfill.chunk_sql import kill_queries

    killed = 0
    try:
        client = runtime.clickhouse()
        for query_tag in tags:
            killed += kill_queries(client, query_tag)
    except Exception:  # noqa: BLE001 - ClickHouse down: the status change still stops further work
        pass
    return killed


def cancel(runtime: Runtime, kind: str, run_id: int) -> dict[str, Any]:
    """Stop a run: queued work is dropped, its running ClickHouse query is killed, status becomes cancelled."""
    tags: list[str] = []
    with session_scope(runtime.settings) as session:
        run = load_run(session, kind, run_id, lock=True)
        if run.status in TERMINAL:
            raise Conflict(f"{kind} run {run_id} is already {run.status}")
        cancel_job(session, run.job_id)
        if isinstance(run, BackfillRun):
            tags.append(run.query_tag or f"backfill-run-{run.id}")
        else:
            batches = session.scalars(select(InventoryBatch).where(InventoryBatch.run_id == run_id)).all()
            for batch in batches:
                if batch.status not in TERMINAL:
                    cancel_job(session, batch.job_id)
                    set_batch_status(session, batch, "cancelled")
                running = session.scalars(
                    select(ChunkLog.chunk_index).where(ChunkLog.batch_id == batch.id, ChunkLog.status == "running")
                ).all()
                tags += [chunk_tag(run.id, batch.id, index) for index in running]
        set_status(session, run, "cancelled")
        body = run_summary(run)
    body["killed_queries"] = _kill(runtime, tags)
    return body


def chunk_tag(run_id: int, batch_id: int, chunk_index: int) -> str:
    return f"backfill-inv-{run_id}-b{batch_id}-c{chunk_index}"


def retry_run(runtime: Runtime, kind: str, run_id: int) -> dict[str, Any]:
    """A failed or cancelled run starts again (inventory: its failed/cancelled batches resume from their last chunk)."""
    with session_scope(runtime.settings) as session:
        run = load_run(session, kind, run_id, lock=True)
        if run.status not in ("failed", "cancelled"):
            raise Conflict(f"{kind} run {run_id} is {run.status}: only failed or cancelled runs can be retried")
        cancel_job(session, run.job_id)  # a job still waiting for its retry would hold the queueing lock
        if isinstance(run, BackfillRun):
            run.job_id = defer_in_transaction(
                session,
                TASK_MANUAL,
                queue=QUEUE,
                args={"run_id": run.id},
                lock=f"backfill-run-{run.id}",
                queueing_lock=f"backfill-run-{run.id}",
            )
            set_status(session, run, "pending", error=None, progress=None)
            return manual_dict(run)
        batches = session.scalars(select(InventoryBatch).where(InventoryBatch.run_id == run_id)).all()
        if not batches:
            run.job_id = defer_in_transaction(
                session, TASK_INVENTORY, queue=QUEUE, args={"run_id": run.id}, lock=f"backfill-inv-{run.id}"
            )
            set_status(session, run, "pending", error=None)
            return inventory_dict(run)
        for batch in batches:
            if batch.status in ("failed", "cancelled", "paused"):
                set_batch_status(session, batch, "pending", error=None)
        set_status(session, run, "running", error=None)
        schedule_batches(session, run)
        refresh_inventory(session, run)
        return inventory_dict(run)


def retry_batch(runtime: Runtime, batch_id: int) -> dict[str, Any]:
    """Queue one failed, cancelled or paused batch again; it resumes after its last completed chunk."""
    with session_scope(runtime.settings) as session:
        batch = session.get(InventoryBatch, batch_id)
        if batch is None:
            raise NotFound(f"inventory batch {batch_id} does not exist")
        run = load_run(session, "inventory", batch.run_id, lock=True)
        session.refresh(batch, with_for_update=True)
        if batch.status not in ("failed", "cancelled", "paused"):
            raise Conflict(
                f"batch {batch_id} is {batch.status}: only failed, cancelled or paused batches can be retried"
            )
        set_batch_status(session, batch, "pending", error=None, finished_at=None)
        if run.status in ("failed", "cancelled", "completed"):
            set_status(session, run, "running", error=None)
        schedule_batches(session, run)
        refresh_inventory(session, run)
        return batch_dict(batch)


def delete_run(runtime: Runtime, kind: str, run_id: int) -> None:
    """Remove a finished run with its batches, chunk logs and events."""
    with session_scope(runtime.settings) as session:
        run = load_run(session, kind, run_id, lock=True)
        if run.status not in TERMINAL:
            raise Conflict(f"{kind} run {run_id} is {run.status}: cancel it before deleting")
        session.execute(delete(BackfillEvent).where(BackfillEvent.run_kind == kind, BackfillEvent.run_id == run_id))
        session.delete(run)


def chunk_logs(
    runtime: Runtime, batch_id: int, before: int | None = None, after: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """A page of a batch's chunk logs ordered by chunk_index: the latest `limit` by default, or those before/after
    a chunk_index (for paging back and forth)."""
    limit = max(1, min(int(limit), 500))
    with session_scope(runtime.settings) as session:
        if session.get(InventoryBatch, batch_id) is None:
            raise NotFound(f"inventory batch {batch_id} does not exist")
        query = select(ChunkLog).where(ChunkLog.batch_id == batch_id)
        if after is not None:
            rows = session.scalars(
                query.where(ChunkLog.chunk_index > after).order_by(ChunkLog.chunk_index).limit(limit)
            ).all()
        else:
            if before is not None:
                query = query.where(ChunkLog.chunk_index < before)
            rows = list(reversed(session.scalars(query.order_by(ChunkLog.chunk_index.desc()).limit(limit)).all()))
        return [chunk_dict(r) for r in rows]
