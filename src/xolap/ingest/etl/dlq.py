"""The ETL's optional failure queue: a message that cannot be prepared (bad notification, missing object, not JSONL)
is copied there with its original id and the reason, so an operator can see and replay it."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("xolap.etl")

MAX_REASON_CHARS = 256  # Torus's FailureReason limit; SQS attributes allow more, consoles show less


def failure_attributes(message_id: str, reason: str, source: str | None = None) -> dict[str, dict[str, str]]:
    """SQS MessageAttributes: OriginalMessageId, FailureReason (<= 256 chars) and SourceObject when known."""
    reason = " ".join(reason.split()) or "unknown failure"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    attributes = {
        "OriginalMessageId": {"DataType": "String", "StringValue": message_id or "unknown"},
        "FailureReason": {"DataType": "String", "StringValue": reason},
    }
    if source:
        attributes["SourceObject"] = {"DataType": "String", "StringValue": source[:1024]}
    return attributes


def send_to_dlq(sqs: Any, dlq_url: str, message_id: str, body: str, reason: str, source: str | None = None) -> bool:
    """Copy the original body to the DLQ; False (logged) when the DLQ itself cannot be reached."""
    try:
        attributes = failure_attributes(message_id, reason, source)
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body or "{}", MessageAttributes=attributes)
        return True
    except Exception as exc:  # the message still fails and SQS redelivers it; the DLQ problem must not hide that
        log.warning("ETL DLQ send failed for message %s: %s", message_id, type(exc).__name__)
        return False
