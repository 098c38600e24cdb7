"""Postgres records of backfills: manual runs, inventory runs, their batches, chunk logs and the event journal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from xolap.store.models import Base

RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
INVENTORY_STATUSES = ("pending", "preparing", "running", "paused", "completed", "failed", "cancelled")
BATCH_STATUSES = ("pending", "queued", "running", "paused", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def _ts(nullable: bool = True) -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True), nullable=nullable)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class BackfillRun(Base):
    """One INSERT … SELECT over an S3 pattern (globs allowed) into a target table; or a dry run that only counts."""

    __tablename__ = "backfill_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_table: Mapped[str] = mapped_column(String(200), nullable=False)
    s3_pattern: Mapped[str] = mapped_column(Text, nullable=False)
    format: Mapped[str] = mapped_column(String(40), nullable=False, default="JSONAsString")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    options: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    clickhouse_settings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    query_tag: Mapped[str | None] = mapped_column(String(120))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    progress: Mapped[float | None] = mapped_column(Float)
    objects: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = _counter()
    rows_written: Mapped[int] = _counter()
    bytes_read: Mapped[int] = _counter()
    bytes_written: Mapped[int] = _counter()
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, nullable=False, default=dict)
    initiated_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()


class InventoryRun(Base):
    """A backfill driven by an S3 Inventory manifest: one batch per inventory file, keys loaded in chunks."""

    __tablename__ = "backfill_inventory_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manifest_url: Mapped[str] = mapped_column(Text, nullable=False)
    source_bucket: Mapped[str | None] = mapped_column(String(255))
    destination_bucket: Mapped[str | None] = mapped_column(String(255))
    inventory_format: Mapped[str | None] = mapped_column(String(20))
    file_schema: Mapped[str | None] = mapped_column(Text)
    target_table: Mapped[str] = mapped_column(String(200), nullable=False)
    format: Mapped[str] = mapped_column(String(40), nullable=False, default="JSONAsString")
    clickhouse_settings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    options: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    chunk_size: Mapped[int] = mapped_column(Integer, nullable=False, default=25)
    max_simultaneous_batches: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    key_prefix: Mapped[str | None] = mapped_column(Text)
    date_from: Mapped[datetime | None] = _ts()
    date_to: Mapped[datetime | None] = _ts()
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, nullable=False, default=dict)
    batches_total: Mapped[int] = _counter()
    batches_completed: Mapped[int] = _counter()
    batches_failed: Mapped[int] = _counter()
    batches_running: Mapped[int] = _counter()
    batches_pending: Mapped[int] = _counter()
    rows_ingested: Mapped[int] = _counter()
    bytes_ingested: Mapped[int] = _counter()
    initiated_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()


class InventoryBatch(Base):
    """One inventory data file of a run; its keys are loaded chunk by chunk (chunk logs record each)."""

    __tablename__ = "backfill_inventory_batches"
    __table_args__ = (UniqueConstraint("run_id", "sequence", name="uq_backfill_batch_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("backfill_inventory_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    inventory_key: Mapped[str] = mapped_column(Text, nullable=False)
    inventory_size: Mapped[int | None] = mapped_column(BigInteger)
    inventory_md5: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    object_count: Mapped[int] = _counter()
    skipped_objects: Mapped[int] = _counter()
    processed_objects: Mapped[int] = _counter()
    chunk_count: Mapped[int] = _counter()
    chunks_completed: Mapped[int] = _counter()
    rows_read: Mapped[int] = _counter()
    rows_written: Mapped[int] = _counter()
    bytes_read: Mapped[int] = _counter()
    bytes_written: Mapped[int] = _counter()
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()
    last_attempt_at: Mapped[datetime | None] = _ts()


class ChunkLog(Base):
    """One chunk of a batch (one INSERT … SELECT over `{k1,k2,…}`), upserted on (batch_id, chunk_index)."""

    __tablename__ = "backfill_chunk_logs"
    __table_args__ = (UniqueConstraint("batch_id", "chunk_index", name="uq_backfill_chunk"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("backfill_inventory_batches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")  # running | completed | failed
    keys: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    source_url: Mapped[str | None] = mapped_column(Text)
    dedup_token: Mapped[str | None] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    rows_read: Mapped[int] = _counter()
    rows_written: Mapped[int] = _counter()
    bytes_read: Mapped[int] = _counter()
    bytes_written: Mapped[int] = _counter()
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()


class BackfillEvent(Base):
    """The journal of published events (status changes, chunk logs); its id is the SSE `id:` for resumption."""

    __tablename__ = "backfill_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_kind: Mapped[str] = mapped_column(String(20), nullable=False)  # manual | inventory
    run_id: Mapped[int] = mapped_column(Integer, nullable=False)
    batch_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)  # status | batch | chunk | progress
    payload: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
