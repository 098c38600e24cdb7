"""What an SQS message body names for the ETL: the S3 objects of an S3 event (raw, SNS-wrapped, EventBridge, or
`{"bucket","key"}`), nothing for `s3:TestEvent` and non-create events, or a BadNotification saying why not.

S3 event notifications URL-encode object keys (`incoming%2Fa+b.jsonl`), so their keys pass through unquote_plus;
a hand-written `{"bucket","key"}` body is taken literally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import orjson


class BadNotification(Exception):
    """The message body is not an S3 notification the ETL understands; the message says what is wrong."""


@dataclass(frozen=True)
class S3ObjectRef:
    """One object to ingest; etag and size as the notification reported them (None when absent)."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _loads(text: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadNotification(f"{what} is not JSON: {exc}") from None


def _clean_etag(value: Any) -> str | None:
    return value.strip('"') if isinstance(value, str) and value.strip('"') else None


def _require_str(container: Any, field: str, where: str) -> str:
    value = container.get(field) if isinstance(container, dict) else None
    if not isinstance(value, str) or not value:
        raise BadNotification(f"{where}: missing or empty '{field}'")
    return value


def _from_s3_record(record: Any, index: int) -> S3ObjectRef | None:
    where = f"Records[{index}]"
    if not isinstance(record, dict):
        raise BadNotification(f"{where}: expected an object, got {type(record).__name__}")
    event_name = record.get("eventName")
    if isinstance(event_name, str) and not event_name.startswith("ObjectCreated"):
        return None  # ObjectRemoved, Replication, ... : nothing to ingest
    s3 = record.get("s3")
    if not isinstance(s3, dict):
        raise BadNotification(f"{where}: no 's3' section (eventSource {record.get('eventSource')!r})")
    bucket = _require_str(s3.get("bucket"), "name", f"{where}.s3.bucket")
    obj = s3.get("object")
    key = unquote_plus(_require_str(obj, "key", f"{where}.s3.object"))
    assert isinstance(obj, dict)  # _require_str read a key from it
    size = obj.get("size")
    return S3ObjectRef(bucket, key, _clean_etag(obj.get("eTag")), size if isinstance(size, int) else None)


def parse_notification(body: str | bytes) -> list[S3ObjectRef]:
    """The objects a message body asks to ingest ([] for test and non-create events); raises BadNotification."""
    payload = _loads(body, "message body")
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        message = payload["Message"]  # SNS envelope: the S3 event is a JSON string inside
        payload = _loads(message, "SNS Message") if isinstance(message, (str, bytes)) else message
    if not isinstance(payload, dict):
        raise BadNotification(f"message body must be a JSON object, got {type(payload).__name__}")
    if payload.get("Event") == "s3:TestEvent":
        return []
    if "Records" in payload:
        records = payload["Records"]
        if not isinstance(records, list):
            raise BadNotification("'Records' must be a list")
        refs = [_from_s3_record(record, i) for i, record in enumerate(records)]
        return [ref for ref in refs if ref is not None]
    if isinstance(payload.get("detail"), dict) and payload.get("source") == "aws.s3":  # EventBridge
        if payload.get("detail-type") != "Object Created":
            return []
        detail = payload["detail"]
        bucket = _require_str(detail.get("bucket"), "name", "detail.bucket")
        obj = detail.get("object")
        size = obj.get("size") if isinstance(obj, dict) else None
        etag = obj.get("etag") if isinstance(obj, dict) else None
        key = _require_str(obj, "key", "detail.object")
        return [S3ObjectRef(bucket, key, _clean_etag(etag), size if isinstance(size, int) else None)]
    if "bucket" in payload or "key" in payload:
        return [S3ObjectRef(_require_str(payload, "bucket", "body"), _require_str(payload, "key", "body"))]
    raise BadNotification(f"not an S3 notification (top-level fields: {', '.join(sorted(payload)[:8]) or 'none'})")
