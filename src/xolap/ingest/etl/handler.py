"""The ETL function: SQS batches of S3 notifications -> JSONL objects -> mapped rows -> bounded, idempotent inserts.

It runs as the AWS Lambda handler `xolap.ingest.etl.handler.lambda_handler` (configured from XOLAP_* env) and, unchanged,
inside the local SQS worker (xolap.ingest.sqs_worker). Messages are read in order; their mapped rows collect in
one pending batch that is inserted when the next run of lines would pass the row or byte cap, and at the end
(Torus bundles are small: few, larger inserts instead of one per object). Per message:
- ok: every object it names was read, mapped and inserted (bad lines go to ingest_errors; they do not fail it);
- skipped: nothing to ingest (s3:TestEvent, removals);
- failed: a preparation failure (bad notification, missing object, not JSONL, too large: also sent to the DLQ when
  XOLAP_ETL_DLQ_URL is set), or an insert of a batch holding its rows failed or had no time left (SQS redelivers);
- untouched: not started because the time budget or the message cap ran out.
Failed and untouched messages are returned as `batchItemFailures` so SQS redelivers only those. Every insert
carries a deterministic insert_deduplication_token (from the object, etag and line range of each run in it, and the
slice), and raw_events collapses repeated event_hash rows, so redelivery does not double rows. Logs are
`ETL stage {json}` lines with counts and object names, never statement content or learner ids.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

import orjson
import pyarrow as pa

from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings, load_settings, mask_url
from xolap.ingest.etl.batching import EtlLimits, TimeBudget, deduplication_token, segment_identity, split_for_insert
from xolap.ingest.etl.dlq import send_to_dlq
from xolap.ingest.etl.notifications import BadNotification, S3ObjectRef, parse_notification
from xolap.ingest.etl.objects import ObjectReads, PreparationFailure
from xolap.ingest.limits import IngestLimits
from xolap.ingest.pipeline import EventWriter, NotJsonlError, map_lines, read_lines

log = logging.getLogger("xolap.etl")


class OutOfTime(Exception):
    """Too little time is left to start another insert; the messages of the batch are retried by SQS."""


@dataclass
class MessageOutcome:
    message_id: str
    status: str  # ok | skipped | failed | untouched
    objects: int = 0
    rows: int = 0
    rejected: int = 0
    reason: str | None = None
    dlq: bool = False
    logged: bool = False

    def fail(self, reason: str) -> None:
        if self.status != "failed":  # the first reason is the cause
            self.status, self.reason = "failed", reason


@dataclass
class EtlReport:
    """What one batch of SQS records came to."""

    outcomes: list[MessageOutcome] = field(default_factory=list)
    inserts: int = 0
    elapsed_ms: int = 0

    def ids(self, *statuses: str) -> list[str]:
        return [o.message_id for o in self.outcomes if o.status in statuses]

    @property
    def succeeded(self) -> list[str]:
        return self.ids("ok", "skipped")

    @property
    def failed(self) -> list[str]:
        """Failed and untouched messages: both must be redelivered."""
        return self.ids("failed", "untouched")

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.outcomes)

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.outcomes)

    def batch_item_failures(self) -> dict[str, list[dict[str, str]]]:
        """The SQS partial-batch response (ReportBatchItemFailures)."""
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failed]}

    def summary(self) -> dict[str, Any]:
        counts = {status: len(self.ids(status)) for status in ("ok", "skipped", "failed", "untouched")}
        return {
            "messages": len(self.outcomes),
            **counts,
            "rows": self.rows,
            "rejected": self.rejected,
            "inserts": self.inserts,
            "dlq": sum(o.dlq for o in self.outcomes),
            "ms": self.elapsed_ms,
        }


def stage(name: str, **fields: Any) -> None:
    """One structured log line: `ETL stage {"stage": name, ...}`."""
    log.info("ETL stage %s", orjson.dumps({"stage": name, **fields}, default=str).decode())


class EtlProcessor:
    """Processes SQS records carrying S3 notifications into raw_events (one instance per Lambda container/worker)."""

    def __init__(
        self,
        settings: Settings,
        client: ClickHouseClient,
        *,
        s3: Any = None,
        sqs: Any = None,
        limits: EtlLimits | None = None,
        ingest_path: str = "etl",
    ):
        self.settings = settings
        self.client = client
        self.limits = limits or EtlLimits.from_env()
        self.ingest_path = ingest_path
        self._s3 = s3
        self._sqs = sqs
        self.writer = EventWriter(client, settings, ingest_path=ingest_path, batch_rows=self.limits.max_rows_per_insert)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            from xolap.ingest.aws_clients import aws_client

            self._s3 = aws_client(self.settings, "s3")
        return self._s3

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            from xolap.ingest.aws_clients import aws_client

            self._sqs = aws_client(self.settings, "sqs")
        return self._sqs

    def process_records(self, records: Iterable[dict[str, Any]], budget: TimeBudget | None = None) -> EtlReport:
        """Process records in order until done, out of time, or at the message cap; never raises for one message."""
        return _Invocation(self, budget or TimeBudget.unlimited()).run(list(records))

    def fail_preparation(self, outcome: MessageOutcome, body: Any, reason: str, source: str | None) -> None:
        """Mark a message failed for a reason retrying will not fix, and copy it to the DLQ when one is configured."""
        outcome.fail(reason)
        if self.settings.etl_dlq_url:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
            outcome.dlq = send_to_dlq(self.sqs, self.settings.etl_dlq_url, outcome.message_id, text, reason, source)
        outcome.logged = True
        stage("preparation_failed", message_id=outcome.message_id, reason=reason, source=source, dlq=outcome.dlq)


def _parse_record(record: dict[str, Any]) -> list[S3ObjectRef] | BadNotification:
    """The objects an SQS record names, or why it names none usable."""
    body = record.get("body", record.get("Body"))
    if not isinstance(body, (str, bytes)):
        return BadNotification("SQS record has no body")
    try:
        return parse_notification(body)
    except BadNotification as exc:
        return exc


@dataclass
class _Segment:
    """Mapped rows and rejected lines from one run of lines of one object, owned by one message."""

    outcome: MessageOutcome
    identity: str
    table: pa.Table
    errors: list[Any]
    warnings: list[Any] = field(default_factory=list)  # of stored rows: malformed optional values stored NULL
    attributions: list[Any] = field(default_factory=list)  # experiment_attributions rows of the stored rows

    @property
    def rows(self) -> int:
        return self.table.num_rows


class _Invocation:
    """One batch of records: reads objects (ahead), maps them into a pending batch, inserts it when full and at the end."""

    def __init__(self, processor: EtlProcessor, budget: TimeBudget):
        self.processor = processor
        self.limits = processor.limits
        self.budget = budget
        self.report = EtlReport()
        self.pending: list[_Segment] = []
        self.out_of_time = False

    # -- batch -------------------------------------------------------------------------------------------------------

    def run(self, records: list[dict[str, Any]]) -> EtlReport:
        started = time.perf_counter()
        stage("invocation_start", records=len(records), remaining_ms=self.budget.remaining_ms())
        notices = [_parse_record(record) for record in records]
        refs = [ref for notice in notices if isinstance(notice, list) for ref in notice]
        with ObjectReads(
            self.processor.s3, refs, max_bytes=self.limits.max_object_bytes, depth=self.limits.read_ahead
        ) as reads:
            self._take_messages(records, notices, reads)
            self._flush("end_of_invocation")
        for outcome in self.report.outcomes:
            if outcome.status == "failed" and not outcome.logged:
                stage("message_failed", message_id=outcome.message_id, reason=outcome.reason)
        self.report.elapsed_ms = int((time.perf_counter() - started) * 1000)
        stage("invocation_end", **self.report.summary())
        return self.report

    def _stop_reason(self, index: int) -> str | None:
        if self.out_of_time or not self.budget.allows(self.limits.min_remaining_ms):
            return "time budget exhausted"
        if self.limits.max_messages and index >= self.limits.max_messages:
            return "message cap reached"
        return None

    def _take_messages(self, records: list[dict[str, Any]], notices: list[Any], reads: ObjectReads) -> None:
        stop_reason: str | None = None
        next_ref = 0  # position in `reads` of the next message's first object
        for index, record in enumerate(records):
            message_id = str(record.get("messageId") or record.get("MessageId") or f"record-{index}")
            if stop_reason is None and (stop_reason := self._stop_reason(index)) is not None:
                untouched = len(records) - index
                stage(
                    "stop_taking_messages",
                    reason=stop_reason,
                    untouched=untouched,
                    remaining_ms=self.budget.remaining_ms(),
                )
            if stop_reason is not None:
                self.report.outcomes.append(MessageOutcome(message_id, "untouched", reason=stop_reason))
                continue
            outcome = MessageOutcome(message_id, "ok")
            self.report.outcomes.append(outcome)
            self._read_message(outcome, record.get("body", record.get("Body")), notices[index], reads, next_ref)
            if isinstance(notices[index], list):
                next_ref += len(notices[index])

    # -- message -----------------------------------------------------------------------------------------------------

    def _read_message(
        self,
        outcome: MessageOutcome,
        body: Any,
        notice: list[S3ObjectRef] | BadNotification,
        reads: ObjectReads,
        first_ref: int,
    ) -> None:
        """Read and map every object the message names into the pending batch (inserting when it is full)."""
        try:
            if isinstance(notice, BadNotification):
                raise notice
            if not notice:
                outcome.status = "skipped"
                stage(
                    "message_skipped",
                    message_id=outcome.message_id,
                    reason="no object to ingest (test event or non-create)",
                )
                return
            for position, ref in enumerate(notice, start=first_ref):
                self._read_object(ref, reads.get(position), outcome)
                if outcome.status == "failed":  # an insert holding its earlier rows failed: it will be redelivered
                    return
                outcome.objects += 1
        except BadNotification as exc:
            self._drop(outcome)
            self.processor.fail_preparation(outcome, body, f"bad notification: {exc}", None)
        except PreparationFailure as exc:
            self._drop(outcome)  # its rows not yet inserted stay out: the whole message goes to the DLQ
            self.processor.fail_preparation(outcome, body, exc.reason, exc.source)
        except OutOfTime as exc:
            self._drop(outcome)
            outcome.fail(str(exc))
        except Exception as exc:  # S3 throttling, network, unexpected: SQS redelivers the message
            self._drop(outcome)
            outcome.fail(f"{type(exc).__name__}: {str(exc)[:300]}")
            log.debug("ETL message %s failed", outcome.message_id, exc_info=True)

    def _read_object(self, ref: S3ObjectRef, content: tuple[bytes, str | None], outcome: MessageOutcome) -> None:
        """Map an object in runs of at most max_rows_per_insert lines, each run a segment of the pending batch."""
        started = time.perf_counter()
        data, etag = content
        source_file = ref.uri
        lines_read = mapped = rejected = 0
        try:
            lines: Iterator[tuple[int, bytes]] = iter(
                read_lines(data, source_file, IngestLimits.from_settings(self.processor.settings))
            )
            while chunk := list(islice(lines, self.limits.max_rows_per_insert)):
                batch = map_lines(chunk, source_file=source_file, source_etag=etag)
                identity = segment_identity(source_file, etag, chunk[0][0], chunk[-1][0])
                segment = _Segment(outcome, identity, batch.table, batch.errors, batch.warnings, batch.attributions)
                lines_read += len(chunk)
                mapped += segment.rows
                rejected += len(segment.errors)
                trigger = self._overflow(segment)
                if trigger is not None:
                    self._flush(trigger)
                    if self.out_of_time:
                        raise OutOfTime("time budget exhausted before insert")
                    if outcome.status == "failed":
                        return
                self.pending.append(segment)
        except NotJsonlError as exc:
            raise PreparationFailure(f"{source_file}: not JSONL: {exc}", source_file) from None
        ms = int((time.perf_counter() - started) * 1000)
        stage("object_read", message_id=outcome.message_id, source=source_file, bytes=len(data), lines=lines_read,
              mapped=mapped, rejected=rejected, ms=ms)  # fmt: skip

    # -- insert ------------------------------------------------------------------------------------------------------

    def _overflow(self, segment: _Segment) -> str | None:
        """Why the pending batch must be inserted before this segment joins it (None: it fits)."""
        if not self.pending:
            return None
        if sum(s.rows for s in self.pending) + segment.rows > self.limits.max_rows_per_insert:
            return "max_rows_reached"
        if sum(s.table.nbytes for s in self.pending) + segment.table.nbytes > self.limits.max_bytes_per_insert:
            return "payload_ceiling_reached"
        return None

    def _drop(self, outcome: MessageOutcome) -> None:
        self.pending = [s for s in self.pending if s.outcome is not outcome]

    def _flush(self, trigger: str) -> None:
        """Insert the pending segments (several messages' rows in few inserts), then record their rejected lines.

        On failure every message with rows in the batch fails (SQS redelivers it; tokens and event_hash dedup
        make the re-insert harmless)."""
        segments = [s for s in self.pending if s.outcome.status != "failed"]
        self.pending = []
        if not segments:
            return
        owners = list({id(s.outcome): s.outcome for s in segments}.values())
        identities = [s.identity for s in segments]
        table = pa.concat_tables([s.table for s in segments]) if len(segments) > 1 else segments[0].table
        inserted = 0
        try:
            for offset, piece in split_for_insert(
                table, self.limits.max_rows_per_insert, self.limits.max_bytes_per_insert
            ):
                if not self.budget.allows(self.limits.insert_safety_margin_ms):
                    self.out_of_time = True
                    raise OutOfTime("time budget exhausted before insert")
                insert_started = time.perf_counter()
                token = deduplication_token(identities, offset, piece.num_rows)
                self.processor.writer.write(piece, deduplication_token=token)
                inserted += 1
                self.report.inserts += 1
                ms = int((time.perf_counter() - insert_started) * 1000)
                stage("insert", trigger=trigger, messages=len(owners), segments=len(segments), rows=piece.num_rows,
                      bytes=piece.nbytes, ms=ms)  # fmt: skip
            found = [row for s in segments for row in s.attributions]
            if found:
                self.processor.writer.write_attributions(found)
            errors = [error for s in segments for error in s.errors + s.warnings]
            if errors:  # a redelivered object's lines give the same token: recorded once
                self.processor.writer.record_errors(errors, deduplication_token(identities, 0, len(errors)) + "-errors")
        except Exception as exc:
            reason = (
                str(exc) if isinstance(exc, OutOfTime) else f"insert failed: {type(exc).__name__}: {str(exc)[:300]}"
            )
            for outcome in owners:
                self._drop(outcome)
                outcome.fail(reason)
            stage("insert_failed", trigger=trigger, messages=len(owners), inserted_pieces=inserted, reason=reason[:300])
            return
        for segment in segments:
            segment.outcome.rows += segment.rows
            segment.outcome.rejected += len(segment.errors)


# -- Lambda entry point ----------------------------------------------------------------------------------------------

_lambda_processor: EtlProcessor | None = None
_lambda_lock = threading.Lock()


def configure_logging() -> None:
    """INFO for xolap loggers (the Lambda runtime's root logger defaults to WARNING); XOLAP_LOG_LEVEL overrides."""
    level = os.environ.get("XOLAP_LOG_LEVEL", "INFO").upper()
    logging.getLogger("xolap").setLevel(level)
    if not logging.getLogger().handlers:  # outside Lambda (e.g. a local invoke): print to stderr
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def lambda_processor() -> EtlProcessor:
    """The container's processor: settings from XOLAP_* env, one ClickHouse client reused across invocations."""
    global _lambda_processor
    with _lambda_lock:
        if _lambda_processor is None:
            from xolap.clickhouse.client import connect

            configure_logging()
            settings = load_settings()
            _lambda_processor = EtlProcessor(settings, connect(settings), limits=EtlLimits.from_env())
        return _lambda_processor


def reset_lambda_processor() -> None:
    """Forget the cached processor (tests, or after configuration changes)."""
    global _lambda_processor
    with _lambda_lock:
        _lambda_processor = None


def diagnostics(context: Any = None) -> dict[str, Any]:
    """Runtime facts for `{"diagnostics": true}`: versions, masked configuration, limits, ClickHouse reachability."""
    from importlib import metadata

    from xolap.ingest.aws_clients import region_for

    versions: dict[str, str | None] = {}
    for package in (
        "xolap",
        "clickhouse-connect",
        "pyarrow",
        "orjson",
        "msgspec",
        "boto3",
        "pydantic",
        "pydantic-settings",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "remaining_ms": TimeBudget.from_context(context).remaining_ms() if context is not None else None,
    }
    try:
        settings = load_settings()
        info["config"] = {
            "clickhouse_url": mask_url(settings.effective_clickhouse_url),
            "clickhouse_database": settings.clickhouse_database,
            "s3_endpoint_url": settings.s3_endpoint_url,
            "aws_region": region_for(settings),
            "dlq": bool(settings.etl_dlq_url),
        }
        info["limits"] = asdict(EtlLimits.from_env())
    except Exception as exc:
        info["config_error"] = str(exc)
        return info
    try:
        processor = lambda_processor()
        version = processor.client.query("SELECT version()").result_rows[0][0]
        info["clickhouse"] = {"reachable": True, "version": version}
    except Exception as exc:
        info["clickhouse"] = {"reachable": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return info


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point for an SQS event source with ReportBatchItemFailures enabled."""
    if isinstance(event, dict) and event.get("diagnostics") is True:
        configure_logging()
        return diagnostics(context)
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("expected an SQS event with a 'Records' list (or {\"diagnostics\": true})")
    report = lambda_processor().process_records(records, TimeBudget.from_context(context))
    return report.batch_item_failures()
