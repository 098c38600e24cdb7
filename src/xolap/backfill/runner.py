"""What the worker executes: a manual run, an inventory run's preparation, and an inventory batch chunk by chunk.

Plain synchronous functions of (runtime, id); xolap.backfill.tasks wraps them as procrastinate tasks and the bench
calls run_chunk directly. `final_attempt=False` means the job will be retried: a failure then leaves the record
waiting (status pending/queued with the error) and re-raises; on the final attempt it is marked failed.

Crash safety: a batch recomputes the same chunks (xolap.backfill.chunking) and skips those whose chunk log is
completed; an interrupted chunk is inserted again with the same dedup token, and raw_events' ReplacingMergeTree on
event_hash (read with FINAL) keeps every event once, so a kill -9 anywhere loses and doubles nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from xolap.backfill import chunk_sql
from xolap.backfill.chunking import Chunk, dedup_token, key_filter_reason, plan_chunks
from xolap.backfill.errors import describe
from xolap.backfill.events import publish
from xolap.backfill.inventory import InventoryError, InventoryFile, read_inventory_file, read_manifest
from xolap.backfill.models import TERMINAL, BackfillRun, ChunkLog, InventoryBatch, InventoryRun
from xolap.backfill.s3paths import object_url, parse_s3_url
from xolap.backfill.service import (
    NotFound,
    chunk_dict,
    chunk_tag,
    load_run,
    now,
    refresh_inventory,
    schedule_batches,
    set_batch_status,
    set_status,
)
from xolap.clickhouse import data_version
from xolap.clickhouse.client import thread_client
from xolap.config import Settings
from xolap.ingest.files import staging_table
from xolap.store.db import session_scope

if TYPE_CHECKING:
    from xolap.runtime import Runtime

log = logging.getLogger(__name__)
# Called with the share done (None while unknown) and the system.processes row of the running statement.
ProgressCallback = Callable[[float | None, dict[str, Any]], None]
PROGRESS_INTERVAL = 1.0


def _s3(settings: Settings) -> Any:
    from xolap.ingest.aws_clients import aws_client

    return aws_client(settings, "s3", max_attempts=2)


# --- statements with progress --------------------------------------------------------------------------------------


def _run_with_progress(settings: Settings, sql: str, query_tag: str, on_progress: ProgressCallback) -> None:
    """Run `sql` in a helper thread (its own client) and report system.processes progress every second."""
    error: list[BaseException] = []

    def work() -> None:
        try:
            thread_client(settings).command(sql)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=work, name=f"backfill-{query_tag}", daemon=True)
    thread.start()
    watcher = thread_client(settings)
    while thread.is_alive():
        thread.join(PROGRESS_INTERVAL)
        if thread.is_alive() and on_progress is not None:
            try:
                for process in chunk_sql.running_queries(watcher, query_tag):
                    total = process.get("total_rows_approx") or 0
                    on_progress(min(0.99, process["read_rows"] / total) if total else None, process)
            except Exception:  # noqa: BLE001 - progress is best effort
                pass
    if error:
        raise error[0]


@dataclass
class ChunkResult:
    rows_read: int = 0
    rows_written: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    duration_ms: int = 0
    objects: int = 0
    rejected: int = 0  # lines not stored (ingest_errors severity 'error')
    warnings: int = 0  # malformed optional values of stored lines, stored NULL (severity 'warning')


def _insert(
    settings: Settings,
    *,
    target_table: str,
    url: str,
    fmt: str,
    query_tag: str,
    ch_settings: dict,
    token: str | None,
    record_rejected: bool,
    on_progress: ProgressCallback | None = None,
    single_pass: bool = False,
) -> ChunkResult:
    """One INSERT … SELECT of a pattern (manual run, streamed) or, with single_pass (a chunk: a bounded number of
    objects), statements read once into a staging table (_insert_staged)."""
    client = thread_client(settings)
    started = time.perf_counter()
    chunk_sql.check_row_format(
        client,
        settings,
        target_table=target_table,
        url=url,
        fmt=fmt,
        clickhouse_settings=ch_settings,
        query_tag=query_tag + "-describe",
    )
    if single_pass and fmt == "JSONAsString" and _target_name(target_table) == "raw_events":
        return _insert_staged(
            settings,
            target_table=target_table,
            url=url,
            query_tag=query_tag,
            ch_settings=ch_settings,
            token=token,
            record_rejected=record_rejected,
            started=started,
        )
    line_expr = "toUInt32(_row_number + 1)"
    if fmt == "JSONAsString":  # a cheap plain read first, so source_line skips blank lines per file
        blank = client.query(
            chunk_sql.blank_rows_sql(settings, url=url, query_tag=query_tag + "-blank", clickhouse_settings=ch_settings)
        ).result_rows
        line_expr = chunk_sql.source_line_expression([(path, row) for path, row in blank])
    sql = chunk_sql.insert_sql(
        settings,
        target_table=target_table,
        url=url,
        fmt=fmt,
        query_tag=query_tag,
        clickhouse_settings=ch_settings,
        dedup_token=token,
        source_line_expr=line_expr,
    )
    try:
        if on_progress is None:
            client.command(sql)  # chunks: no progress polling, no helper thread (and no extra client)
        else:
            _run_with_progress(settings, sql, query_tag, on_progress)
    finally:  # a run or chunk's scopes are not read back (one INSERT … SELECT): every scope's version moves
        data_version.rows_written(settings.clickhouse_database)
    metrics = chunk_sql.query_metrics(client, query_tag)
    result = ChunkResult(**{k: v for k, v in metrics.items() if k in ChunkResult.__dataclass_fields__})
    if record_rejected and fmt == "JSONAsString":
        rejected_tag = query_tag + "-rejected"
        client.command(
            chunk_sql.rejected_insert_sql(
                settings,
                database=settings.clickhouse_database,
                url=url,
                query_tag=rejected_tag,
                clickhouse_settings=ch_settings,
                dedup_token=token,
                source_line_expr=line_expr,
            )
        )
        result.rejected = chunk_sql.query_metrics(client, rejected_tag).get("rows_written", 0)
        warned_tag = query_tag + "-warnings"
        client.command(
            chunk_sql.warned_insert_sql(
                settings,
                database=settings.clickhouse_database,
                url=url,
                query_tag=warned_tag,
                clickhouse_settings=ch_settings,
                dedup_token=token,
                source_line_expr=line_expr,
            )
        )
        result.warnings = chunk_sql.query_metrics(client, warned_tag).get("rows_written", 0)
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


def _target_name(target_table: str) -> str:
    return target_table.rsplit(".", 1)[-1].strip("`")


def _insert_staged(
    settings: Settings,
    *,
    target_table: str,
    url: str,
    query_tag: str,
    ch_settings: dict,
    token: str | None,
    record_rejected: bool,
    started: float,
) -> ChunkResult:
    """A chunk of statements in one read of its objects: staged in a Memory table (chunk_sql.stage_sql), then its
    good rows, rejections and warnings moved from there; the blank lines (for source_line) come from the stage too.
    Only for chunks, whose objects are bounded (a manual run's pattern can hold any number: read in one streaming
    INSERT … SELECT instead)."""
    client = thread_client(settings)
    database = settings.clickhouse_database
    with staging_table(client, database, query_tag) as stage:
        client.command(chunk_sql.create_stage_sql(stage, query_tag))
        client.command(
            chunk_sql.stage_sql(settings, stage=stage, url=url, query_tag=query_tag, clickhouse_settings=ch_settings)
        )
        blank = client.query(chunk_sql.stage_blank_rows_sql(stage)).result_rows
        line_expr = chunk_sql.stage_source_line_expression([(path, row) for path, row in blank])
        moved_tag = query_tag + "-move"
        try:
            client.command(
                chunk_sql.move_from_stage_sql(
                    stage=stage,
                    target_table=target_table,
                    query_tag=moved_tag,
                    clickhouse_settings=ch_settings,
                    dedup_token=token,
                    source_line_expr=line_expr,
                )
            )
        finally:  # a chunk's scopes are not read back: every scope's version moves
            data_version.rows_written(database)
        ran = [query_tag, moved_tag]  # their metrics are read after the last statement, with one log flush
        if record_rejected:
            common: dict[str, Any] = {
                "database": database,
                "stage": stage,
                "clickhouse_settings": ch_settings,
                "dedup_token": token,
                "source_line_expr": line_expr,
            }
            rejected_tag = query_tag + "-rejected"
            client.command(chunk_sql.stage_rejected_insert_sql(query_tag=rejected_tag, **common))
            ran.append(rejected_tag)
            needs = client.query(f"SELECT count() FROM {stage} WHERE needs_details").result_rows[0][0]
            if needs:
                warned_tag = query_tag + "-warnings"
                client.command(chunk_sql.stage_warned_insert_sql(query_tag=warned_tag, **common))
                ran.append(warned_tag)
    metrics = chunk_sql.statements_metrics(client, ran)
    read, written = metrics.get(query_tag, {}), metrics.get(moved_tag, {})
    result = ChunkResult(
        rows_read=read.get("rows_read", 0),
        bytes_read=read.get("bytes_read", 0),
        rows_written=written.get("rows_written", 0),
        bytes_written=written.get("bytes_written", 0),
        rejected=metrics.get(query_tag + "-rejected", {}).get("rows_written", 0),
        warnings=metrics.get(query_tag + "-warnings", {}).get("rows_written", 0),
    )
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


def _dry_run(settings: Settings, *, url: str, fmt: str, query_tag: str, ch_settings: dict) -> ChunkResult:
    started = time.perf_counter()
    rows = (
        thread_client(settings)
        .query(chunk_sql.dry_run_sql(settings, url=url, fmt=fmt, query_tag=query_tag, clickhouse_settings=ch_settings))
        .result_rows
    )
    return ChunkResult(
        rows_read=sum(int(r[2]) for r in rows),
        bytes_read=sum(int(r[1] or 0) for r in rows),
        objects=len(rows),
        duration_ms=int((time.perf_counter() - started) * 1000),
    )


def _matched_files(settings: Settings, *, url: str, query_tag: str, ch_settings: dict) -> int:
    """How many files a manual run's pattern matches (S3's listing only)."""
    sql = chunk_sql.matched_files_sql(
        settings, url=url, query_tag=query_tag + "-files", clickhouse_settings=ch_settings
    )
    return int(thread_client(settings).query(sql).result_rows[0][0])


# --- manual runs ---------------------------------------------------------------------------------------------------


def execute_manual_run(runtime: Runtime, run_id: int, *, final_attempt: bool = True) -> str:
    """Run (or dry-run) one manual backfill; returns the final status."""
    settings = runtime.settings
    with session_scope(settings) as session:
        run = load_run(session, "manual", run_id, lock=True)
        if run.status in TERMINAL:
            return run.status
        set_status(session, run, "running", attempts=run.attempts + 1, error=None, progress=0.0)
        target, pattern, fmt, ch_settings = run.target_table, run.s3_pattern, run.format, dict(run.clickhouse_settings)
        dry, options, query_tag = run.dry_run, dict(run.options), run.query_tag or f"backfill-run-{run.id}"
    location = parse_s3_url(pattern)
    url = object_url(settings, location.bucket, location.key)
    last_publish = [0.0]

    def on_progress(fraction: float | None, process: dict[str, Any]) -> None:
        if time.monotonic() - last_publish[0] < 2 * PROGRESS_INTERVAL:
            return
        last_publish[0] = time.monotonic()
        with session_scope(settings) as s:
            r = s.get(BackfillRun, run_id)
            if r is None or r.status != "running":
                return
            r.progress = fraction
            publish(
                s,
                "manual",
                run_id,
                "progress",
                {
                    "progress": fraction,
                    "read_rows": process.get("read_rows"),
                    "total_rows_approx": process.get("total_rows_approx"),
                },
            )

    try:
        if dry:
            result = _dry_run(settings, url=url, fmt=fmt, query_tag=query_tag, ch_settings=ch_settings)
        elif not (matched := _matched_files(settings, url=url, query_tag=query_tag, ch_settings=ch_settings)):
            result = ChunkResult(objects=0)  # nothing to read: no INSERT planned (the page says no file matched)
        else:
            token = f"backfill-run-{run_id}"
            result = _insert(
                settings,
                target_table=target,
                url=url,
                fmt=fmt,
                query_tag=query_tag,
                ch_settings=ch_settings,
                token=token,
                record_rejected=options.get("record_rejected", True),
                on_progress=on_progress,
            )
            result.objects = matched
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        message = describe(exc, settings)
        permanent = isinstance(exc, chunk_sql.FormatMismatch)
        log.warning(
            "backfill manual run %s attempt failed%s: %s",
            run_id,
            "" if final_attempt or permanent else " (will retry)",
            message,
        )
        with session_scope(settings) as session:
            run = load_run(session, "manual", run_id, lock=True)
            if run.status == "cancelled":
                return "cancelled"
            if final_attempt or permanent:
                set_status(session, run, "failed", error=message, progress=None)
            else:
                set_status(session, run, "pending", error=f"attempt {run.attempts} failed, will retry: {message}")
        if not (final_attempt or permanent):
            raise
        return "failed"
    with session_scope(settings) as session:
        run = load_run(session, "manual", run_id, lock=True)
        if run.status == "cancelled":
            return "cancelled"
        meta = (
            {**run.metadata_, "rejected_lines": result.rejected, "warnings": result.warnings}
            if not dry
            else run.metadata_
        )
        set_status(
            session,
            run,
            "completed",
            progress=1.0,
            objects=result.objects,
            rows_read=result.rows_read,
            rows_written=result.rows_written,
            bytes_read=result.bytes_read,
            bytes_written=result.bytes_written,
            duration_ms=result.duration_ms,
            metadata_=meta,
            error=None,
        )
        return "completed"


# --- inventory runs ------------------------------------------------------------------------------------------------


def prepare_inventory_run(runtime: Runtime, run_id: int, *, final_attempt: bool = True) -> str:
    """Read the manifest, create one batch per inventory file (once), queue the first batches."""
    settings = runtime.settings
    with session_scope(settings) as session:
        run = load_run(session, "inventory", run_id, lock=True)
        if run.status in TERMINAL or run.status == "paused":
            return run.status
        if run.batches_total:
            schedule_batches(session, run)
            refresh_inventory(session, run)
            return run.status
        set_status(session, run, "preparing", error=None)
        manifest_url = run.manifest_url
    try:
        manifest = read_manifest(_s3(settings), manifest_url)
    except Exception as exc:  # noqa: BLE001
        message = describe(exc, settings) if not isinstance(exc, InventoryError) else str(exc)
        with session_scope(settings) as session:
            run = load_run(session, "inventory", run_id, lock=True)
            if run.status in ("cancelled", "paused"):
                return run.status
            set_status(session, run, "failed" if final_attempt else "pending", error=message)
        if not final_attempt:
            raise
        return "failed"
    with session_scope(settings) as session:
        run = load_run(session, "inventory", run_id, lock=True)
        if run.status in ("cancelled", "paused"):
            return run.status
        run.source_bucket, run.destination_bucket = manifest.source_bucket, manifest.destination_bucket
        run.inventory_format, run.file_schema = manifest.file_format, manifest.file_schema
        run.metadata_ = {**run.metadata_, "manifest_bucket": manifest.bucket, "manifest_key": manifest.key}
        for sequence, file in enumerate(manifest.files):
            session.add(
                InventoryBatch(
                    run_id=run.id,
                    sequence=sequence,
                    inventory_key=file.key,
                    inventory_size=file.size,
                    inventory_md5=file.md5,
                    status="pending",
                    metadata_={},
                )
            )
        session.flush()
        if not manifest.files:
            set_status(session, run, "completed")
            return "completed"
        set_status(session, run, "running")
        schedule_batches(session, run)
        refresh_inventory(session, run)
        return run.status


def batch_chunks(settings: Settings, run: InventoryRun, batch: InventoryBatch) -> tuple[list[Chunk], int, int]:
    """The batch's chunks (deterministic), with its object and skipped counts."""
    from xolap.backfill.inventory import Manifest

    meta = run.metadata_ or {}
    manifest = Manifest(
        meta.get("manifest_bucket") or run.destination_bucket or "",
        meta.get("manifest_key", ""),
        run.source_bucket or "",
        run.destination_bucket or "",
        run.inventory_format or "CSV",
        run.file_schema or "",
    )
    entries = read_inventory_file(
        _s3(settings), manifest, InventoryFile(batch.inventory_key, batch.inventory_size, batch.inventory_md5)
    )
    kept = [
        (b, k)
        for b, k in entries
        if key_filter_reason(k, prefix=run.key_prefix, date_from=run.date_from, date_to=run.date_to) is None
    ]
    return plan_chunks(kept, run.chunk_size), len(entries), len(entries) - len(kept)


def run_chunk(
    settings: Settings,
    *,
    run_id: int,
    batch_id: int,
    chunk: Chunk,
    target_table: str,
    fmt: str,
    ch_settings: dict,
    dry_run: bool = False,
    record_rejected: bool = True,
) -> ChunkResult:
    """One chunk: its objects (s3('<common dir>/{k1,k2,…}')) read once into a staging table for statements
    (JSONAsString into raw_events), else one INSERT … SELECT; deterministic dedup tokens either way."""
    url = object_url(settings, chunk.bucket, chunk.glob)
    query_tag = chunk_tag(run_id, batch_id, chunk.index)
    if dry_run:
        return _dry_run(settings, url=url, fmt=fmt, query_tag=query_tag, ch_settings=ch_settings)
    return _insert(
        settings,
        target_table=target_table,
        url=url,
        fmt=fmt,
        query_tag=query_tag,
        ch_settings=ch_settings,
        token=dedup_token(run_id, batch_id, chunk),
        record_rejected=record_rejected,
        single_pass=True,
    )


def _upsert_chunk(session: Session, batch: InventoryBatch, chunk: Chunk, values: dict[str, Any]) -> ChunkLog:
    row = {"batch_id": batch.id, "chunk_index": chunk.index, "keys": list(chunk.keys), **values}
    statement = pg_insert(ChunkLog).values(**row)
    statement = statement.on_conflict_do_update(
        index_elements=["batch_id", "chunk_index"],
        set_={k: statement.excluded[k] for k in row if k not in ("batch_id", "chunk_index")},
    )
    session.execute(statement)
    log_row = session.scalars(
        select(ChunkLog)
        .where(ChunkLog.batch_id == batch.id, ChunkLog.chunk_index == chunk.index)
        .execution_options(populate_existing=True)
    ).one()
    publish(session, "inventory", batch.run_id, "chunk", chunk_dict(log_row), batch_id=batch.id)
    return log_row


def _totals(session: Session, batch: InventoryBatch) -> None:
    logs = session.scalars(select(ChunkLog).where(ChunkLog.batch_id == batch.id, ChunkLog.status == "completed")).all()
    batch.chunks_completed = len(logs)
    batch.processed_objects = sum(len(log.keys) for log in logs) + batch.skipped_objects
    batch.rows_read = sum(log.rows_read for log in logs)
    batch.rows_written = sum(log.rows_written for log in logs)
    batch.bytes_read = sum(log.bytes_read for log in logs)
    batch.bytes_written = sum(log.bytes_written for log in logs)


def _stop_if_requested(session: Session, run: InventoryRun, batch: InventoryBatch) -> str | None:
    if run.status == "cancelled":
        set_batch_status(session, batch, "cancelled")
        return "cancelled"
    if run.status == "paused":
        set_batch_status(session, batch, "paused", job_id=None)
        return "paused"
    return None


def _finish_batch(session: Session, run: InventoryRun, batch: InventoryBatch, status: str, **fields: Any) -> None:
    set_batch_status(session, batch, status, **fields)
    schedule_batches(session, run)
    refresh_inventory(session, run)


def _existing_batch(session: Session, batch_id: int) -> InventoryBatch:
    """The batch being executed; NotFound (a clear error, not an AttributeError on None) if it was removed."""
    batch = session.get(InventoryBatch, batch_id)
    if batch is None:
        raise NotFound(f"inventory batch {batch_id} no longer exists")
    return batch


def execute_batch(runtime: Runtime, batch_id: int, *, final_attempt: bool = True) -> str:
    """Load one inventory file's keys chunk by chunk, resuming after the last completed chunk."""
    settings = runtime.settings
    with session_scope(settings) as session:
        batch = session.get(InventoryBatch, batch_id)
        if batch is None:
            return "missing"
        run = load_run(session, "inventory", batch.run_id, lock=True)
        session.refresh(batch, with_for_update=True)
        if batch.status in TERMINAL or batch.status == "paused":
            return batch.status
        stopped = _stop_if_requested(session, run, batch)
        if stopped:
            refresh_inventory(session, run)
            return stopped
        set_batch_status(session, batch, "running", attempts=batch.attempts + 1, error=None)
        refresh_inventory(session, run)
        run_id = run.id
        target, fmt, ch_settings, dry = run.target_table, run.format, dict(run.clickhouse_settings), run.dry_run
        record_rejected = (run.options or {}).get("record_rejected", True)
        try:
            chunks, objects, skipped = batch_chunks(settings, run, batch)
        except Exception as exc:  # noqa: BLE001 - a missing/garbled inventory file fails the batch
            message = str(exc) if isinstance(exc, InventoryError) else describe(exc, settings)
            if final_attempt:
                _finish_batch(session, run, batch, "failed", error=message)
                return "failed"
            set_batch_status(session, batch, "queued", error=f"attempt {batch.attempts} failed, will retry: {message}")
            raise
        batch.object_count, batch.skipped_objects, batch.chunk_count = objects, skipped, len(chunks)
        batch.metadata_ = {**batch.metadata_, "chunk_size": run.chunk_size}
        done = set(
            session.scalars(
                select(ChunkLog.chunk_index).where(ChunkLog.batch_id == batch.id, ChunkLog.status == "completed")
            ).all()
        )
        _totals(session, batch)
    for chunk in chunks:
        if chunk.index in done:
            continue
        with session_scope(settings) as session:
            run = load_run(session, "inventory", run_id)
            batch = _existing_batch(session, batch_id)
            stopped = _stop_if_requested(session, run, batch) if batch.status == "running" else batch.status
            if stopped:
                refresh_inventory(session, run)
                return stopped
            previous = session.scalars(
                select(ChunkLog.attempts).where(ChunkLog.batch_id == batch_id, ChunkLog.chunk_index == chunk.index)
            ).first()
            url = object_url(settings, chunk.bucket, chunk.glob)
            _upsert_chunk(
                session,
                batch,
                chunk,
                {
                    "status": "running",
                    "source_url": url,
                    "dry_run": dry,
                    "error": None,
                    "dedup_token": None if dry else dedup_token(run_id, batch_id, chunk),
                    "attempts": (previous or 0) + 1,
                    "started_at": now(),
                    "finished_at": None,
                },
            )
        try:
            result = run_chunk(
                settings,
                run_id=run_id,
                batch_id=batch_id,
                chunk=chunk,
                target_table=target,
                fmt=fmt,
                ch_settings=ch_settings,
                dry_run=dry,
                record_rejected=record_rejected,
            )
        except Exception as exc:  # noqa: BLE001 - recorded on the chunk and the batch
            message = describe(exc, settings)
            permanent = isinstance(exc, chunk_sql.FormatMismatch)
            log.warning(
                "backfill inventory run %s batch %s chunk %s failed%s: %s",
                run_id,
                batch_id,
                chunk.index,
                "" if final_attempt or permanent else " (will retry)",
                message,
            )
            with session_scope(settings) as session:
                run = load_run(session, "inventory", run_id, lock=True)
                batch = _existing_batch(session, batch_id)
                _upsert_chunk(session, batch, chunk, {"status": "failed", "error": message, "finished_at": now()})
                if run.status == "cancelled" or batch.status == "cancelled":
                    if batch.status != "cancelled":
                        set_batch_status(session, batch, "cancelled")
                    refresh_inventory(session, run)
                    return "cancelled"
                if final_attempt or permanent:
                    _finish_batch(session, run, batch, "failed", error=f"chunk {chunk.index}: {message}")
                    return "failed"
                set_batch_status(session, batch, "queued", error=f"chunk {chunk.index} failed, will retry: {message}")
            raise
        with session_scope(settings) as session:
            batch = _existing_batch(session, batch_id)
            _upsert_chunk(
                session,
                batch,
                chunk,
                {
                    "status": "completed",
                    "error": None,
                    "finished_at": now(),
                    "rows_read": result.rows_read,
                    "rows_written": result.rows_written,
                    "bytes_read": result.bytes_read,
                    "bytes_written": result.bytes_written,
                    "duration_ms": result.duration_ms,
                },
            )
            _totals(session, batch)
            if result.rejected or result.warnings:
                batch.metadata_ = {
                    **batch.metadata_,
                    "rejected_lines": batch.metadata_.get("rejected_lines", 0) + result.rejected,
                    "warnings": batch.metadata_.get("warnings", 0) + result.warnings,
                }
    with session_scope(settings) as session:
        run = load_run(session, "inventory", run_id, lock=True)
        batch = _existing_batch(session, batch_id)
        session.refresh(batch)
        if batch.status != "running":
            refresh_inventory(session, run)
            return batch.status
        _totals(session, batch)
        _finish_batch(session, run, batch, "completed", error=None)
        return "completed"
