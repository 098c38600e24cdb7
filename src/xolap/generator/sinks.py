"""Where generated statements go: one JSONL file, a JSONL folder split by section/category/day, or S3 bundles.

Every sink takes (GeneratedStatement, serialized line) pairs through `write()` and must be `close()`d (they are
context managers). Output is byte-identical for the same seed: gzip headers carry no time or file name, and S3
bundle keys and ids are derived from the content, not from the clock.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, Self

import orjson

from xolap.generator.generate import GeneratedStatement

DAY_MS = 86_400_000


class StatementSink(Protocol):
    def write(self, item: GeneratedStatement, line: bytes) -> None: ...

    def close(self) -> None: ...


class _LineWriter:
    """Appends newline-terminated lines to a file (gzip when asked), writing them in large chunks."""

    chunk_lines = 4096

    def __init__(self, path: Path, compress: bool, append: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: BinaryIO = open(path, "ab" if append else "wb")  # noqa: SIM115 - closed in close()
        # filename='' and mtime=0 keep the gzip header free of run-specific bytes (determinism).
        self._out: gzip.GzipFile | BinaryIO = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            if compress
            else self._raw
        )
        self._lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        if len(self._lines) >= self.chunk_lines:
            self._drain()

    def _drain(self) -> None:
        if self._lines:
            self._lines.append(b"")
            self._out.write(b"\n".join(self._lines))
            self._lines = []

    def close(self) -> None:
        try:
            self._drain()
            if self._out is not self._raw:
                self._out.close()
        finally:
            self._raw.close()


class _SinkBase:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError  # each sink flushes and closes what it opened


class JsonlFileSink(_SinkBase):
    """All statements in one JSONL file (gzip when the name ends with .gz), overwritten if it exists."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._writer: _LineWriter | None = _LineWriter(self.path, self.path.suffix == ".gz")

    def write(self, item: GeneratedStatement, line: bytes) -> None:
        assert self._writer is not None, "sink is closed"
        self._writer.write(line)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms // DAY_MS * 86_400, tz=UTC).strftime("%Y-%m-%d")


class JsonlFolderSink(_SinkBase):
    """`<root>/section/<section_id>/<category>/<YYYY-MM-DD>.jsonl[.gz]` (UTC days), written as the stream goes.

    The generator's stream is time-ordered within a section and sections come one after the other, so at most one
    file per category is open. A file first touched in this run is truncated, so re-running replaces the data."""

    def __init__(self, root: str | Path, *, compress: bool = False):
        self.root = Path(root)
        self.compress = compress
        self.files_written: list[Path] = []
        self._seen: set[Path] = set()
        self._open: dict[str, tuple[int, int, _LineWriter]] = {}  # category -> (section, epoch day, writer)

    def path_for(self, section_id: int, category: str, day: str) -> Path:
        return self.root / "section" / str(section_id) / category / f"{day}.jsonl{'.gz' if self.compress else ''}"

    def write(self, item: GeneratedStatement, line: bytes) -> None:
        day = item.timestamp_ms // DAY_MS
        current = self._open.get(item.category)
        if current is None or current[1] != day or current[0] != item.section_id:
            if current is not None:
                current[2].close()
            path = self.path_for(item.section_id, item.category, day_of(item.timestamp_ms))
            handle = _LineWriter(path, self.compress, append=path in self._seen)
            if path not in self._seen:
                self._seen.add(path)
                self.files_written.append(path)
            current = (item.section_id, day, handle)
            self._open[item.category] = current
        current[2].write(line)

    def close(self) -> None:
        for _section, _day, handle in self._open.values():
            handle.close()
        self._open.clear()


class S3BundleSink(_SinkBase):
    """Statement bundles at Torus's key layout through xolap.ingest.s3_bundles.S3BundleUploader.

    A bundle holds up to `bundle_size` statements of one (section, category) spanning at most `max_span_ms`; its key
    time is its last statement's time and its id a hash of seed, section, category and sequence number, so keys are
    the same on every run. Uploads run on `workers` threads with a bounded number in flight."""

    def __init__(
        self, uploader: Any, *, seed: int, bundle_size: int = 1000, max_span_ms: int = DAY_MS, workers: int = 4
    ):
        if bundle_size < 1:
            raise ValueError(f"bundle_size must be at least 1, got {bundle_size}")
        self.uploader = uploader
        self.seed = seed
        self.bundle_size = bundle_size
        self.max_span_ms = max_span_ms
        self.keys: list[str] = []
        self._buffers: dict[tuple[int, str], tuple[int, list[bytes]]] = {}  # -> (first ms, lines)
        self._last_ms: dict[tuple[int, str], int] = {}
        self._sequence: dict[tuple[int, str], int] = {}
        self._section: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xolap-generate-s3")
        self._pending: list[Future[str]] = []
        self._max_pending = workers * 2

    def write(self, item: GeneratedStatement, line: bytes) -> None:
        if item.section_id != self._section:
            self._flush_all()
            self._section = item.section_id
        group = (item.section_id, item.category)
        buffered = self._buffers.get(group)
        if buffered is not None and item.timestamp_ms - buffered[0] > self.max_span_ms:
            self._flush(group)
            buffered = None
        if buffered is None:
            buffered = (item.timestamp_ms, [])
            self._buffers[group] = buffered
        buffered[1].append(line)
        self._last_ms[group] = item.timestamp_ms
        if len(buffered[1]) >= self.bundle_size:
            self._flush(group)

    def _flush(self, group: tuple[int, str]) -> None:
        buffered = self._buffers.pop(group, None)
        if not buffered or not buffered[1]:
            return
        section_id, category = group
        sequence = self._sequence.get(group, 0) + 1
        self._sequence[group] = sequence
        bundle_id = hashlib.sha256(
            f"xolap-generator:{self.seed}:{section_id}:{category}:{sequence}".encode()
        ).hexdigest()[:32]
        at = datetime.fromtimestamp(self._last_ms[group] / 1000, tz=UTC)
        while len(self._pending) >= self._max_pending:
            self.keys.append(self._pending.pop(0).result())
        self._pending.append(
            self._pool.submit(
                self.uploader.upload, "section", section_id, category, buffered[1], at, bundle_id=bundle_id
            )
        )

    def _flush_all(self) -> None:
        for group in list(self._buffers):
            self._flush(group)

    def close(self) -> None:
        try:
            self._flush_all()
            while self._pending:
                self.keys.append(self._pending.pop(0).result())
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def write_statements(
    stream: Iterable[GeneratedStatement],
    sink: StatementSink,
    *,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 10_000,
) -> int:
    """Serialize each statement with orjson (one line, no trailing newline) into the sink; returns how many."""
    dumps = orjson.dumps
    count = 0
    for item in stream:
        sink.write(item, dumps(item.statement))
        count += 1
        if on_progress is not None and count % progress_every == 0:
            on_progress(count)
    if on_progress is not None:
        on_progress(count)
    return count
