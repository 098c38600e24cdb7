"""Statement bundles written to S3 as JSONL at Torus's key layout, so they can be ETL'd or backfilled later.

Key: `<prefix><partition>/<partition_id>/<category>/<UTC ISO-8601, ':' -> '-'>_<bundle_id>.jsonl`, e.g.
`xapi/section/42/video/2026-01-31T09-05-07.123456Z_5f0c....jsonl` (torus-implementation.md §4). The timestamp has
microseconds and a `Z`, as Elixir's `DateTime.to_iso8601` writes it for a UTC time.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

log = logging.getLogger(__name__)

EXT = "http://oli.cmu.edu/extensions/"
CATEGORIES = (
    "video",
    "attempt_evaluated",
    "page_viewed",
    "tutor_activity_message",
    "experiment_condition_assigned",
    "other",
)

VIDEO_VERB_PREFIX = "https://w3id.org/xapi/video/verbs/"
VIDEO_OBJECT_TYPE = "https://w3id.org/xapi/video/activity-type/video"
EXPERIENCED_VERB = "http://adlnet.gov/expapi/verbs/experienced"
ATTEMPT_OBJECT_TYPES = frozenset(
    {"http://adlnet.gov/expapi/activities/question", EXT + "activity_attempt", EXT + "page_attempt"}
)
PAGE_OBJECT_TYPE = EXT + "types/page"
VIEWED_VERB = "http://id.tincanapi.com/verb/viewed"
TUTOR_OBJECT_TYPES = frozenset({EXT + "tutor_message", EXT + "tutor_activity_message"})
EXPERIMENT_VERB = EXT + "verbs/experiment_condition_assigned"
EXPERIMENT_OBJECT_TYPE = EXT + "types/condition_assignment"

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H-%M-%S.%fZ"
_SEGMENT_RE = re.compile(r"^[^/\s]+$")
BUNDLE_KEY_RE = re.compile(
    r"^(?P<prefix>(?:.*/)?)(?P<partition>[^/]+)/(?P<partition_id>[^/]+)/(?P<category>[^/]+)/"
    r"(?P<timestamp>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d{1,6})?Z)_(?P<bundle_id>[^/]+)\.jsonl$"
)


class BundleUploadError(Exception):
    """A bundle could not be written to S3 after two attempts; the message names bucket, key and cause."""


@dataclass(frozen=True)
class BundleKey:
    """The parts of a bundle's S3 key."""

    prefix: str
    partition: str
    partition_id: str
    category: str
    at: datetime
    bundle_id: str


def normalize_prefix(prefix: str | None) -> str:
    """'' stays ''; 'xapi' and '/xapi/' become 'xapi/'."""
    prefix = (prefix or "").strip("/")
    return f"{prefix}/" if prefix else ""


def _check_segment(name: str, value: object) -> str:
    text = str(value)
    if not _SEGMENT_RE.match(text):
        raise ValueError(f"bundle key {name} must be non-empty without '/' or spaces, got {text!r}")
    return text


def bundle_key(
    partition: str, partition_id: str | int, category: str, at: datetime, bundle_id: str, *, prefix: str = ""
) -> str:
    """The S3 key of a bundle; a naive `at` is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    stamp = at.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)
    parts = [
        _check_segment("partition", partition),
        _check_segment("partition_id", partition_id),
        _check_segment("category", category),
    ]
    return f"{normalize_prefix(prefix)}{'/'.join(parts)}/{stamp}_{_check_segment('bundle_id', bundle_id)}.jsonl"


def parse_bundle_key(key: str) -> BundleKey:
    """The inverse of bundle_key; raises ValueError naming the key when it does not follow the layout."""
    match = BUNDLE_KEY_RE.match(key)
    if not match:
        raise ValueError(f"{key!r} is not a bundle key (<prefix><partition>/<id>/<category>/<UTC time>_<bundle>.jsonl)")
    stamp = match["timestamp"]
    at = datetime.strptime(stamp, _TIMESTAMP_FORMAT if "." in stamp else "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=UTC)
    return BundleKey(
        match["prefix"], match["partition"], match["partition_id"], match["category"], at, match["bundle_id"]
    )


def _type_and_verb(statement: dict[str, Any]) -> tuple[str, str]:
    verb = statement.get("verb")
    obj = statement.get("object")
    definition = obj.get("definition") if isinstance(obj, dict) else None
    verb_id = verb.get("id") if isinstance(verb, dict) else None
    object_type = definition.get("type") if isinstance(definition, dict) else None
    return (object_type if isinstance(object_type, str) else "", verb_id if isinstance(verb_id, str) else "")


def category_for(statement: dict[str, Any]) -> str:
    """Torus's bundle category of a statement (by verb and object type), "other" for any other producer."""
    object_type, verb_id = _type_and_verb(statement)
    if verb_id.startswith(VIDEO_VERB_PREFIX) or verb_id == EXPERIENCED_VERB or object_type == VIDEO_OBJECT_TYPE:
        return "video"
    if object_type in ATTEMPT_OBJECT_TYPES:
        return "attempt_evaluated"
    if object_type == PAGE_OBJECT_TYPE or (verb_id == VIEWED_VERB and object_type.endswith("/types/page")):
        return "page_viewed"
    if object_type in TUTOR_OBJECT_TYPES:
        return "tutor_activity_message"
    if verb_id == EXPERIMENT_VERB or object_type == EXPERIMENT_OBJECT_TYPE:
        return "experiment_condition_assigned"
    return "other"


def _scope_id(statement: dict[str, Any], name: str) -> str | None:
    context = statement.get("context")
    extensions = context.get("extensions") if isinstance(context, dict) else None
    value = extensions.get(EXT + name) if isinstance(extensions, dict) else None
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text if text.isdigit() else None


def partition_for(statement: dict[str, Any]) -> tuple[str, str]:
    """("section", id) from the section_id context extension; ("project", id) without one; else ("unscoped", "0")."""
    section_id = _scope_id(statement, "section_id")
    if section_id is not None:
        return "section", section_id
    project_id = _scope_id(statement, "project_id")
    if project_id is not None:
        return "project", project_id
    return "unscoped", "0"


def _as_line(statement: dict[str, Any] | bytes, index: int) -> bytes:
    if isinstance(statement, (bytes, bytearray, memoryview)):
        line = bytes(statement).rstrip(b"\r\n")
        if b"\n" in line:
            raise ValueError(f"statement {index}: a bytes statement must be one JSON line (it contains a newline)")
        if not line.strip():
            raise ValueError(f"statement {index}: empty")
        return line
    if isinstance(statement, dict):
        return orjson.dumps(statement)
    raise TypeError(f"statement {index}: expected a dict or bytes, got {type(statement).__name__}")


def jsonl_body(statements: Sequence[dict[str, Any] | bytes]) -> bytes:
    """One statement per line, newline-terminated."""
    if not statements:
        raise ValueError("a bundle needs at least one statement")
    return b"".join(_as_line(s, i) + b"\n" for i, s in enumerate(statements))


class S3BundleUploader:
    """Writes statement bundles to one bucket under one prefix (two attempts per bundle, as Torus does)."""

    attempts = 2
    retry_delay_seconds = 0.2

    def __init__(self, s3_client: Any, bucket: str, prefix: str = ""):
        if not bucket:
            raise ValueError("S3BundleUploader needs a bucket (XOLAP_S3_BUNDLE_BUCKET)")
        self.s3 = s3_client
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)

    @classmethod
    def from_settings(
        cls, settings: Any, *, s3_client: Any = None, bucket: str | None = None, prefix: str | None = None
    ) -> S3BundleUploader:
        """Bucket and prefix from the arguments, else XOLAP_S3_BUNDLE_BUCKET / XOLAP_S3_BUNDLE_PREFIX."""
        from xolap.ingest.aws_clients import aws_client

        bucket = bucket or settings.s3_bundle_bucket
        if not bucket:
            raise ValueError("no bundle bucket: pass one or set XOLAP_S3_BUNDLE_BUCKET")
        client = s3_client if s3_client is not None else aws_client(settings, "s3", max_attempts=1)
        return cls(client, bucket, settings.s3_bundle_prefix if prefix is None else prefix)

    def upload(
        self,
        partition: str,
        partition_id: str | int,
        category: str,
        statements: Sequence[dict[str, Any] | bytes],
        at: datetime | None = None,
        *,
        bundle_id: str | None = None,
    ) -> str:
        """Write one bundle; returns its key. Raises BundleUploadError when both attempts fail."""
        key = bundle_key(
            partition,
            partition_id,
            category,
            at or datetime.now(UTC),
            bundle_id or uuid.uuid4().hex,
            prefix=self.prefix,
        )
        body = jsonl_body(statements)
        last_error: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
                log.debug(
                    "bundle uploaded: %s (%d statements, %d bytes, attempt %d)",
                    key,
                    len(statements),
                    len(body),
                    attempt,
                )
                return key
            except Exception as exc:  # botocore raises ClientError, EndpointConnectionError, ReadTimeoutError...
                last_error = exc
                if attempt < self.attempts:
                    time.sleep(self.retry_delay_seconds)
        where = f"s3://{self.bucket}/{key}"
        raise BundleUploadError(f"cannot write {where} after {self.attempts} attempts: {last_error}") from last_error

    def archive(self, statements: Iterable[dict[str, Any] | bytes], at: datetime | None = None) -> list[str]:
        """Group statements by (partition from section_id, category) and write one bundle per group; returns keys.

        Bytes statements are parsed to find their section and category and written as sent.
        """
        groups: dict[tuple[str, str, str], list[dict[str, Any] | bytes]] = {}
        for index, statement in enumerate(statements):
            parsed = statement
            if isinstance(statement, (bytes, bytearray, memoryview)):
                try:
                    parsed = orjson.loads(bytes(statement))
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"statement {index}: not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise ValueError(f"statement {index}: expected a JSON object, got {type(parsed).__name__}")
            partition, partition_id = partition_for(parsed)
            groups.setdefault((partition, partition_id, category_for(parsed)), []).append(statement)
        at = at or datetime.now(UTC)
        return [self.upload(p, pid, category, group, at) for (p, pid, category), group in groups.items()]
