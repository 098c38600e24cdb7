"""Reading the ETL's S3 objects: the size limit, telling a missing object (a preparation failure) from a transient
error (retried by SQS), and reading small objects a few messages ahead in threads so S3 latency overlaps mapping."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from xolap.ingest.etl.notifications import S3ObjectRef

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
READ_AHEAD_MAX_OBJECT_BYTES = 8 * 1024 * 1024  # larger (or unknown-size) objects are read when their turn comes


class PreparationFailure(Exception):
    """A message cannot be ingested as it is (retrying will not help); it goes to the DLQ."""

    def __init__(self, reason: str, source: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.source = source


def client_error_code(exc: Exception) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def read_object(s3: Any, ref: S3ObjectRef, max_bytes: int) -> tuple[bytes, str | None]:
    """(content, etag without quotes); PreparationFailure when missing or over max_bytes, other errors raised as is."""
    if ref.size is not None and ref.size > max_bytes:
        raise PreparationFailure(f"{ref.uri}: {ref.size} bytes is over XOLAP_ETL_MAX_OBJECT_BYTES={max_bytes}", ref.uri)
    try:
        response = s3.get_object(Bucket=ref.bucket, Key=ref.key)
    except Exception as exc:
        code = client_error_code(exc)
        if code in MISSING_OBJECT_CODES:
            raise PreparationFailure(f"{ref.uri}: object not found ({code})", ref.uri) from None
        raise
    size = response.get("ContentLength")
    if isinstance(size, int) and size > max_bytes:
        response["Body"].close()
        raise PreparationFailure(f"{ref.uri}: {size} bytes is over XOLAP_ETL_MAX_OBJECT_BYTES={max_bytes}", ref.uri)
    data = response["Body"].read()
    etag = response.get("ETag")
    return data, (etag.strip('"') if isinstance(etag, str) else ref.etag)


class ObjectReads:
    """Reads refs[i] on get(i), having started refs[i+1 .. i+depth] in threads when they are small enough.

    depth 1 reads strictly one object at a time. Use as a context manager: reads never asked for are cancelled."""

    def __init__(self, s3: Any, refs: Sequence[S3ObjectRef], *, max_bytes: int, depth: int):
        self.s3 = s3
        self.refs = refs
        self.max_bytes = max_bytes
        self.depth = max(1, depth)
        self._futures: dict[int, Future[tuple[bytes, str | None]]] = {}
        self._pool = (
            ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix="xolap-etl-read") if self.depth > 1 else None
        )

    def _prefetchable(self, index: int) -> bool:
        ref = self.refs[index]
        return ref.size is not None and ref.size <= READ_AHEAD_MAX_OBJECT_BYTES

    def get(self, index: int) -> tuple[bytes, str | None]:
        if self._pool is not None:
            for ahead in range(index + 1, min(index + self.depth, len(self.refs))):
                if ahead not in self._futures and self._prefetchable(ahead):
                    self._futures[ahead] = self._pool.submit(read_object, self.s3, self.refs[ahead], self.max_bytes)
        future = self._futures.pop(index, None)
        if future is not None:
            return future.result()
        return read_object(self.s3, self.refs[index], self.max_bytes)

    def __enter__(self) -> ObjectReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()
