"""The ETL function: SQS batches of S3 notifications -> JSONL objects -> mapped rows -> bounded, idempotent inserts.

It runs as the AWS Lambda handler `xolap.ingest.etl.lambda_handler` (configured from XOLAP_* env) and, unchanged,
inside the local SQS worker (xolap.ingest.sqs_worker). Per message:
- ok: every object it names was read, mapped and inserted (bad lines go to ingest_errors; they do not fail it);
- skipped: nothing to ingest (s3:TestEvent, removals);
- failed: a preparation failure (bad notification, missing object, not JSONL, too large: also sent to the DLQ when
  XOLAP_ETL_DLQ_URL is set) or an insert failure (left to SQS redelivery);
- untouched: not started because the time budget or the message cap ran out.
Failed and untouched messages are returned as `batchItemFailures` so SQS redelivers only those. Inserts carry a
deterministic insert_deduplication_token per (object, etag, line range, slice), and raw_events collapses repeated
event_hash rows, so redelivery does not double rows. Logs are `ETL stage {json}` lines with counts and object names,
never statement content or learner ids.
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

from xolap.config import Settings, load_settings, mask_url
from xolap.ingest.etl_batching import EtlLimits, TimeBudget, deduplication_token, split_for_insert
from xolap.ingest.etl_dlq import send_to_dlq
from xolap.ingest.etl_notifications import BadNotification, S3ObjectRef, parse_notification
from xolap.ingest.pipeline import EventWriter, NotJsonlError, map_lines, read_lines

log = logging.getLogger("xolap.etl")

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class PreparationFailure(Exception):
    """A message cannot be ingested as it is (retrying will not help); it goes to the DLQ."""

    def __init__(self, reason: str, source: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.source = source


class OutOfTime(Exception):
    """Too little time is left to start another insert; the message is retried by SQS."""


@dataclass
class MessageOutcome:
    message_id: str
    status: str  # ok | skipped | failed | untouched
    objects: int = 0
    rows: int = 0
    rejected: int = 0
    reason: str | None = None
    dlq: bool = False


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


def _client_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


class EtlProcessor:
    """Processes SQS records carrying S3 notifications into raw_events (one instance per Lambda container/worker)."""

    def __init__(
        self,
        settings: Settings,
        client: Any,
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

    # -- batch -------------------------------------------------------------------------------------------------------

    def process_records(self, records: Iterable[dict[str, Any]], budget: TimeBudget | None = None) -> EtlReport:
        """Process records in order until done, out of time, or at the message cap; never raises for one message."""
        budget = budget or TimeBudget.unlimited()
        started = time.perf_counter()
        report = EtlReport()
        records = list(records)
        stage("invocation_start", records=len(records), remaining_ms=budget.remaining_ms())
        stop_reason: str | None = None
        for index, record in enumerate(records):
            message_id = str(record.get("messageId") or record.get("MessageId") or f"record-{index}")
            if stop_reason is None:
                if self.limits.max_messages and index >= self.limits.max_messages:
                    stop_reason = "message cap reached"
                elif not budget.allows(self.limits.min_remaining_ms):
                    stop_reason = "time budget exhausted"
                if stop_reason is not None:
                    stage("stop_taking_messages", reason=stop_reason, untouched=len(records) - index, remaining_ms=budget.remaining_ms())
            if stop_reason is not None:
                report.outcomes.append(MessageOutcome(message_id, "untouched", reason=stop_reason))
                continue
            outcome = self._process_message(message_id, record, budget, report)
            report.outcomes.append(outcome)
            if outcome.reason == "time budget exhausted before insert":
                stop_reason = "time budget exhausted"
        report.elapsed_ms = int((time.perf_counter() - started) * 1000)
        stage("invocation_end", **report.summary())
        return report

    # -- message -----------------------------------------------------------------------------------------------------

    def _process_message(self, message_id: str, record: dict[str, Any], budget: TimeBudget, report: EtlReport) -> MessageOutcome:
        body = record.get("body", record.get("Body"))
        outcome = MessageOutcome(message_id, "ok")
        source: str | None = None
        try:
            if not isinstance(body, (str, bytes)):
                raise BadNotification("SQS record has no body")
            refs = parse_notification(body)
            if not refs:
                outcome.status = "skipped"
                stage("message_skipped", message_id=message_id, reason="no object to ingest (test event or non-create)")
                return outcome
            for ref in refs:
                source = ref.uri
                rows, rejected, inserts = self._ingest_object(ref, budget)
                outcome.objects += 1
                outcome.rows += rows
                outcome.rejected += rejected
                report.inserts += inserts
        except BadNotification as exc:
            self._fail_preparation(outcome, body, f"bad notification: {exc}", None)
        except PreparationFailure as exc:
            self._fail_preparation(outcome, body, exc.reason, exc.source)
        except OutOfTime:
            outcome.status, outcome.reason = "failed", "time budget exhausted before insert"
            stage("message_failed", message_id=message_id, reason=outcome.reason, source=source, rows=outcome.rows)
        except Exception as exc:  # insert or unexpected errors: SQS redelivers the message
            outcome.status = "failed"
            outcome.reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            stage("message_failed", message_id=message_id, reason=outcome.reason, source=source, rows=outcome.rows)
            log.debug("ETL message %s failed", message_id, exc_info=True)
        else:
            stage("message_done", message_id=message_id, objects=outcome.objects, rows=outcome.rows, rejected=outcome.rejected)
        return outcome

    def _fail_preparation(self, outcome: MessageOutcome, body: Any, reason: str, source: str | None) -> None:
        outcome.status, outcome.reason = "failed", reason
        if self.settings.etl_dlq_url:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
            outcome.dlq = send_to_dlq(self.sqs, self.settings.etl_dlq_url, outcome.message_id, text, reason, source)
        stage("preparation_failed", message_id=outcome.message_id, reason=reason, source=source, dlq=outcome.dlq)

    # -- object ------------------------------------------------------------------------------------------------------

    def _read_object(self, ref: S3ObjectRef) -> tuple[bytes, str | None]:
        limit = self.limits.max_object_bytes
        if ref.size is not None and ref.size > limit:
            raise PreparationFailure(f"{ref.uri}: {ref.size} bytes is over XOLAP_ETL_MAX_OBJECT_BYTES={limit}", ref.uri)
        try:
            response = self.s3.get_object(Bucket=ref.bucket, Key=ref.key)
        except Exception as exc:
            code = _client_error_code(exc)
            if code in MISSING_OBJECT_CODES:
                raise PreparationFailure(f"{ref.uri}: object not found ({code})", ref.uri) from None
            raise
        size = response.get("ContentLength")
        if isinstance(size, int) and size > limit:
            response["Body"].close()
            raise PreparationFailure(f"{ref.uri}: {size} bytes is over XOLAP_ETL_MAX_OBJECT_BYTES={limit}", ref.uri)
        data = response["Body"].read()
        etag = response.get("ETag")
        return data, (etag.strip('"') if isinstance(etag, str) else ref.etag)

    def _ingest_object(self, ref: S3ObjectRef, budget: TimeBudget) -> tuple[int, int, int]:
        """(rows inserted, lines rejected, inserts) for one object."""
        started = time.perf_counter()
        data, etag = self._read_object(ref)
        source_file = ref.uri
        rows = rejected = inserts = 0
        try:
            lines: Iterator[tuple[int, bytes]] = iter(read_lines(data, source_file))
            while True:
                chunk = list(islice(lines, self.limits.max_rows_per_insert))
                if not chunk:
                    break
                batch = map_lines(chunk, source_file=source_file, source_etag=etag)
                first_line, last_line = chunk[0][0], chunk[-1][0]
                for offset, piece in split_for_insert(batch.table, self.limits.max_rows_per_insert, self.limits.max_bytes_per_insert):
                    if not budget.allows(self.limits.insert_safety_margin_ms):
                        raise OutOfTime()
                    token = deduplication_token(source_file, etag, first_line, last_line, offset, piece.num_rows)
                    insert_started = time.perf_counter()
                    rows += self._insert(piece, token)
                    inserts += 1
                    stage(
                        "insert",
                        source=source_file,
                        lines=f"{first_line}-{last_line}",
                        rows=piece.num_rows,
                        bytes=piece.nbytes,
                        ms=int((time.perf_counter() - insert_started) * 1000),
                    )
                if batch.errors:
                    self.writer.record_errors(batch.errors)
                    rejected += len(batch.errors)
        except NotJsonlError as exc:
            raise PreparationFailure(f"{source_file}: not JSONL: {exc}", source_file) from None
        stage(
            "object_done",
            source=source_file,
            bytes=len(data),
            rows=rows,
            rejected=rejected,
            inserts=inserts,
            ms=int((time.perf_counter() - started) * 1000),
        )
        return rows, rejected, inserts

    def _insert(self, table: Any, token: str) -> int:
        return self.writer.write(table, deduplication_token=token)


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

    versions = {}
    for package in ("xolap", "clickhouse-connect", "pyarrow", "orjson", "boto3", "pydantic", "pydantic-settings"):
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
            "aws_region": settings.aws_region,
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
