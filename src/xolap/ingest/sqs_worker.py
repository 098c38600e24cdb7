"""The local ETL worker: long-polls an SQS queue, runs each received batch through the same EtlProcessor the Lambda
uses, deletes the messages that succeeded and leaves failed ones for SQS to redeliver.

Its time budget per batch is the queue's visibility timeout (a message not finished by then is redelivered anyway),
so the Lambda's "stop taking messages" rule applies unchanged. Used by `xolap etl run` and, in a thread, by
`xolap serve` when XOLAP_ETL_QUEUE_URL is set (give the worker its own ClickHouse client: one per thread).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.component_status import board
from xolap.config import Settings
from xolap.ingest.etl.batching import EtlLimits, TimeBudget
from xolap.ingest.etl.handler import EtlProcessor, stage
from xolap.ingest.etl.objects import client_error_code

if TYPE_CHECKING:
    from xolap.runtime import Runtime

log = logging.getLogger("xolap.etl")

SQS_MAX_BATCH = 10
DEFAULT_VISIBILITY_SECONDS = 30
PERMANENT_ERROR_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "InvalidAddress"})


class QueueUnavailable(Exception):
    """The queue does not exist or its URL is invalid: retrying will not help."""


@dataclass
class WorkerStats:
    """Counts over one receive (run_once) or a whole run (run_forever)."""

    receives: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    deleted: int = 0
    rows: int = 0
    rejected: int = 0

    def add(self, other: WorkerStats) -> None:
        for item in dataclasses.fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def lambda_record(message: dict[str, Any], queue_arn: str | None, region: str) -> dict[str, Any]:
    """An SQS receive_message entry in the shape Lambda's SQS event source delivers."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEtlWorker:
    """Receives from one queue and ingests what the messages name."""

    def __init__(
        self,
        settings: Settings,
        client: ClickHouseClient,
        queue_url: str,
        *,
        sqs: Any = None,
        s3: Any = None,
        limits: EtlLimits | None = None,
        batch_size: int = SQS_MAX_BATCH,
        wait_seconds: int = 20,
    ):
        if not 1 <= batch_size <= SQS_MAX_BATCH:
            raise ValueError(
                f"batch_size must be 1..{SQS_MAX_BATCH} (an SQS receive returns at most 10), got {batch_size}"
            )
        if not 0 <= wait_seconds <= 20:
            raise ValueError(f"wait_seconds must be 0..20 (SQS long-poll limit), got {wait_seconds}")
        if sqs is None:
            from xolap.ingest.aws_clients import aws_client

            sqs = aws_client(settings, "sqs", read_timeout=wait_seconds + 10)
        self.settings = settings
        self.queue_url = queue_url
        self.sqs = sqs
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._queue_arn: str | None = None
        self._visibility_ms: int | None = None
        self.processor = EtlProcessor(settings, client, s3=s3, sqs=sqs, limits=limits, ingest_path="etl")

    def _load_queue_attributes(self) -> None:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout", "QueueArn"]
        )["Attributes"]
        self._queue_arn = attributes.get("QueueArn")
        self._visibility_ms = int(attributes.get("VisibilityTimeout", DEFAULT_VISIBILITY_SECONDS)) * 1000
        # The Lambda defaults assume minutes of visibility; keep them proportionate to a short local timeout.
        limits = self.processor.limits
        self.processor.limits = dataclasses.replace(
            limits,
            min_remaining_ms=min(limits.min_remaining_ms, self._visibility_ms // 2),
            insert_safety_margin_ms=min(limits.insert_safety_margin_ms, self._visibility_ms // 4),
        )

    def run_once(self, max_messages: int | None = None) -> WorkerStats:
        """One long-poll receive, then process and delete; returns its counts (all zero when the queue was empty)."""
        if self._visibility_ms is None:
            self._load_queue_attributes()
        stats = WorkerStats(receives=1)
        wanted = self.batch_size if max_messages is None else max(1, min(self.batch_size, max_messages))
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received_at = time.monotonic()
        messages = response.get("Messages", [])
        if not messages:
            return stats
        stats.received = len(messages)
        records = [lambda_record(m, self._queue_arn, self.settings.aws_region) for m in messages]
        budget = TimeBudget.until(received_at + (self._visibility_ms or 0) / 1000)
        report = self.processor.process_records(records, budget)
        succeeded = set(report.succeeded)
        stats.succeeded, stats.failed = len(succeeded), len(report.failed)
        stats.rows, stats.rejected = report.rows, report.rejected
        stats.deleted = self._delete([r for r in records if r["messageId"] in succeeded])
        return stats

    def _delete(self, records: list[dict[str, Any]]) -> int:
        deleted = 0
        for start in range(0, len(records), SQS_MAX_BATCH):
            group = records[start : start + SQS_MAX_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(group)]
            result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            deleted += len(result.get("Successful", []))
            for failure in result.get("Failed", []):
                message_id = group[int(failure["Id"])]["messageId"]
                stage("delete_failed", message_id=message_id, code=failure.get("Code"), reason=failure.get("Message"))
        return deleted

    def run_forever(
        self, stop_event: threading.Event, *, max_messages: int | None = None, until_empty: bool = False
    ) -> WorkerStats:
        """Receive until stop_event is set (the current batch is finished first), max_messages were received, or,
        with until_empty, a receive comes back empty. Receive errors are logged and retried with backoff."""
        totals = WorkerStats()
        backoff = 1.0
        stage("worker_start", queue=self.queue_url, batch_size=self.batch_size, wait_seconds=self.wait_seconds)
        while not stop_event.is_set():
            remaining = None if max_messages is None else max_messages - totals.received
            if remaining is not None and remaining <= 0:
                break
            try:
                stats = self.run_once(remaining)
            except Exception as exc:  # SQS unreachable, throttled, credentials expired...
                if client_error_code(exc) in PERMANENT_ERROR_CODES:
                    raise QueueUnavailable(f"{self.queue_url}: {exc}") from exc
                board.report("etl_worker", False, exc)
                stage(
                    "receive_failed",
                    queue=self.queue_url,
                    error=f"{type(exc).__name__}: {str(exc)[:300]}",
                    retry_in_s=backoff,
                )
                stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            board.report("etl_worker", True)
            totals.add(stats)
            if until_empty and stats.received == 0:
                break
        stage("worker_stop", **dataclasses.asdict(totals))
        return totals


def start_sqs_etl_worker(
    runtime: Runtime, stop_event: threading.Event, *, wait_seconds: int = 10, backoff: Any = None
) -> Any:
    """For `xolap serve` (a BACKGROUND_STARTERS entry): when XOLAP_ETL_QUEUE_URL is set, run the worker in a
    supervised daemon thread (xolap.supervisor: restarted with backoff after a failure, its reason logged and shown
    as component "etl_worker") with its own ClickHouse client until stop_event is set; otherwise return None."""
    from xolap.supervisor import Supervised

    settings = runtime.settings
    queue_url = settings.etl_queue_url
    if not queue_url:
        return None

    def run(stop: threading.Event) -> None:
        worker = SqsEtlWorker(settings, runtime.clickhouse(), queue_url, wait_seconds=wait_seconds)
        worker.run_forever(stop)

    supervised = Supervised("etl_worker", run, stop_event, backoff=backoff).start()
    if hasattr(runtime, "workers"):
        runtime.workers["etl_worker"] = supervised
    return supervised
