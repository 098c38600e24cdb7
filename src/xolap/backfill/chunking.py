"""Deterministic chunks of inventory keys: filters, grouping by bucket, `{k1,k2,…}` globs, dedup tokens.

A batch's chunks depend only on its inventory file and the run's options (prefix, date range, chunk size), so a
restarted batch recomputes exactly the same chunks and skips the completed ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# Torus bundle file names: <UTC ISO-8601 with ':' → '-'>_<bundle_id>.jsonl
_BUNDLE_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})(\.\d{1,6})?Z_")
# Keys that can stand in an s3() brace glob as they are (no glob, comma, quote or URL-special characters).
SAFE_KEY_RE = re.compile(r"^[A-Za-z0-9/_.=:+@-]+$")


@dataclass(frozen=True)
class Chunk:
    index: int
    bucket: str
    keys: tuple[str, ...]

    @property
    def glob(self) -> str:
        return chunk_glob(self.keys)


def key_time(key: str) -> datetime | None:
    """The UTC time at the start of a bundle key's file name, or None when the name has none."""
    match = _BUNDLE_TIME_RE.match(key.rsplit("/", 1)[-1])
    if not match:
        return None
    date, hh, mm, ss, frac = match.groups()
    micro = int((frac or ".0")[1:].ljust(6, "0"))
    return datetime.fromisoformat(f"{date}T{hh}:{mm}:{ss}").replace(microsecond=micro, tzinfo=UTC)


def key_filter_reason(
    key: str, *, prefix: str | None, date_from: datetime | None, date_to: datetime | None
) -> str | None:
    """Why a key is skipped (None: keep). date_from inclusive, date_to exclusive."""
    if prefix and not key.startswith(prefix):
        return "prefix"
    if date_from or date_to:
        at = key_time(key)
        if at is None:
            return "no timestamp in the file name"
        if date_from and at < date_from:
            return "before date range"
        if date_to and at >= date_to:
            return "after date range"
    if not SAFE_KEY_RE.match(key):
        return "unsupported characters in key"
    return None


def chunk_glob(keys: tuple[str, ...] | list[str]) -> str:
    """One key as is; several as <common directory>/{rest1,rest2,…} (ClickHouse reads each listed key)."""
    if len(keys) == 1:
        return keys[0]
    first = keys[0]
    cut = 0
    for i in range(len(first)):
        if any(len(k) <= i or k[i] != first[i] for k in keys):
            break
        if first[i] == "/":
            cut = i + 1
    common = first[:cut]
    return common + "{" + ",".join(k[cut:] for k in keys) + "}"


def plan_chunks(entries: list[tuple[str, str]], chunk_size: int) -> list[Chunk]:
    """(bucket, key) entries → chunks of at most chunk_size keys, one bucket per chunk, in (bucket, key) order."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    chunks: list[Chunk] = []
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in sorted(set(entries)):
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), chunk_size):
            chunks.append(Chunk(len(chunks), bucket, tuple(keys[start : start + chunk_size])))
    return chunks


def dedup_token(run_id: int, batch_id: int, chunk: Chunk) -> str:
    """sha256 of run, batch, chunk index and keys: the same chunk always gets the same token."""
    text = f"{run_id}\n{batch_id}\n{chunk.index}\n{chunk.bucket}\n" + "\n".join(chunk.keys)
    return hashlib.sha256(text.encode()).hexdigest()
