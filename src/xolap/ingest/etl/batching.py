"""How the ETL bounds its work: rows and bytes per insert, the remaining-time budget, and deterministic insert
deduplication tokens, so a redelivered batch re-sends identical blocks with identical tokens that ClickHouse drops.

Limits come from XOLAP_ETL_* environment variables (defaults follow Torus's Lambda, torus-implementation.md §3).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields

import pyarrow as pa

ENV_PREFIX = "XOLAP_ETL_"


@dataclass(frozen=True)
class EtlLimits:
    """Bounds of one ETL invocation."""

    max_rows_per_insert: int = 30_000
    max_bytes_per_insert: int = 16 * 1024 * 1024  # estimated Arrow bytes of one insert
    min_remaining_ms: int = 15_000  # do not start a new message with less time left
    insert_safety_margin_ms: int = 5_000  # do not start an insert with less time left
    max_object_bytes: int = 512 * 1024 * 1024  # larger objects are a preparation failure (-> DLQ)
    max_messages: int = 0  # 0: no cap on messages taken per invocation
    read_ahead: int = 8  # small objects read ahead in threads (1: one at a time)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            minimum = 0 if item.name in ("max_messages", "min_remaining_ms", "insert_safety_margin_ms") else 1
            if not isinstance(value, int) or value < minimum:
                raise ValueError(f"{ENV_PREFIX}{item.name.upper()} must be an integer >= {minimum}, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EtlLimits:
        """Defaults overridden by XOLAP_ETL_<FIELD> (e.g. XOLAP_ETL_MAX_ROWS_PER_INSERT=10000)."""
        environ = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for item in fields(cls):
            raw = environ.get(ENV_PREFIX + item.name.upper())
            if raw is None or raw.strip() == "":
                continue
            try:
                values[item.name] = int(raw.replace("_", ""))
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{item.name.upper()} must be an integer, got {raw!r}") from None
        return cls(**values)


class TimeBudget:
    """Milliseconds left, from a Lambda context's get_remaining_time_in_millis or a deadline of our own."""

    def __init__(self, remaining_ms: Callable[[], int]):
        self._remaining_ms = remaining_ms

    @classmethod
    def from_context(cls, context: object) -> TimeBudget:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        if callable(getter):
            return cls(lambda: int(getter()))
        return cls.unlimited()

    @classmethod
    def until(cls, deadline_monotonic: float) -> TimeBudget:
        return cls(lambda: int((deadline_monotonic - time.monotonic()) * 1000))

    @classmethod
    def unlimited(cls) -> TimeBudget:
        return cls(lambda: 2**31)

    def remaining_ms(self) -> int:
        return self._remaining_ms()

    def allows(self, needed_ms: int) -> bool:
        return self.remaining_ms() >= needed_ms


def split_for_insert(table: pa.Table, max_rows: int, max_bytes: int) -> Iterator[tuple[int, pa.Table]]:
    """(offset, slice) pieces of a table, each within the row cap and (by average row size) the byte cap."""
    rows = table.num_rows
    if rows == 0:
        return
    per_row = max(1, math.ceil(table.nbytes / rows))
    step = max(1, min(max_rows, max_bytes // per_row))
    for offset in range(0, rows, step):
        yield offset, table.slice(offset, step)


def segment_identity(source_file: str, source_etag: str | None, first_line: int, last_line: int) -> str:
    """Names a run of lines of one object version: the unit an insert batch is made of."""
    return f"{source_file}\0{source_etag or ''}\0{first_line}-{last_line}"


def deduplication_token(segments: Sequence[str], offset: int, rows: int) -> str:
    """The same segments (in order) and slice always give the same token (ClickHouse insert_deduplication_token)."""
    digest = hashlib.sha256()
    for segment in segments:
        digest.update(segment.encode())
        digest.update(b"\n")
    digest.update(f"{offset}+{rows}".encode())
    return "xolap-etl-" + digest.hexdigest()[:40]
