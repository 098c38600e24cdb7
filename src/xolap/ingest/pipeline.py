"""The Python ingest pipeline every path shares: JSONL bytes → lines → Arrow rows + line errors → raw_events.

read_lines splits (and un-gzips) a file, map_lines applies the one mapping (xolap.xapi) to each line, EventWriter
inserts Arrow tables in bounded batches and records rejected lines in ingest_errors; ingest_lines writes one batch
while it maps the next. The ETL Lambda / SQS worker,
`xolap ingest` and the statements API all go through these functions.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from xolap.clickhouse import data_version
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES, MAPPED_COLUMNS
from xolap.config import Settings
from xolap.ingest.gc_pause import collection_paused
from xolap.ingest.limits import IngestLimits, OversizeLine, split_lines
from xolap.xapi import attributions as experiment_attributions
from xolap.xapi.rows import Rejected, build_row

GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20
SNIFF_BYTES = 4096
DEFAULT_BATCH_ROWS = 50_000  # rows per insert (bounded memory, a few MB of Arrow per insert)
MAX_RAW_LINE_CHARS = 65_536  # of a rejected line kept in ingest_errors
MAX_REPORTED_ERRORS = 1_000  # LineErrors kept in an IngestReport (all are recorded in ingest_errors)


class NotJsonlError(Exception):
    """The whole file is not JSONL (binary content, a broken gzip stream); the message names the file."""


class DecompressionLimitError(NotJsonlError):
    """A gzip stream expanded past XOLAP_INGEST_MAX_DECOMPRESSED_BYTES or the compression ratio limit."""


@dataclass(frozen=True)
class LineError:
    """A rejected line: where it is, why (naming the field), and the line itself."""

    source_file: str
    source_line: int
    reason: str
    raw_line: str
    severity: str = "error"  # 'warning': the row was stored, a malformed optional value in it stored NULL

    def __str__(self) -> str:
        return f"{self.source_file}:{self.source_line}: {self.reason}"


@dataclass
class MappedBatch:
    """Rows mapped from some lines (an Arrow table typed to raw_events) and the lines that were rejected."""

    table: pa.Table
    errors: list[LineError]
    lines: int
    warnings: list[LineError] = field(default_factory=list)  # of stored rows (severity 'warning')
    attributions: list[list[Any]] = field(default_factory=list)  # experiment_attributions rows of the stored rows


@dataclass
class IngestReport:
    rows: int = 0
    rejected: int = 0
    errors: list[LineError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    warnings: int = 0  # warnings recorded for stored rows (malformed optional values stored NULL)

    def add(self, other: IngestReport) -> None:
        self.rows += other.rows
        self.rejected += other.rejected
        self.warnings += other.warnings
        self.errors.extend(other.errors[: max(0, MAX_REPORTED_ERRORS - len(self.errors))])


# --- Arrow schema ------------------------------------------------------------------------------------------------


def _arrow_type(ch_type: str) -> pa.DataType:
    inner = ch_type
    for wrapper in ("Nullable(", "LowCardinality("):
        if inner.startswith(wrapper):
            inner = inner[len(wrapper) : -1]
    if inner == "String":
        return pa.string()
    if inner == "UInt64":
        return pa.uint64()
    if inner == "UInt32":
        return pa.uint32()
    if inner == "Float64":
        return pa.float64()
    if inner == "Bool":
        return pa.bool_()
    if inner.startswith("DateTime64(3"):
        return pa.timestamp("ms", tz="UTC")
    raise ValueError(f"no Arrow type for ClickHouse type {ch_type}")


ARROW_SCHEMA = pa.schema(
    [pa.field(name, _arrow_type(ch_type), nullable=ch_type.startswith("Nullable")) for name, ch_type in MAPPED_COLUMNS]
)


ATTRIBUTION_SCHEMA = pa.schema(
    [pa.field(name, _arrow_type(t), nullable=t.startswith("Nullable")) for name, t in experiment_attributions.COLUMNS]
)


def attributions_table(rows: list[list[Any]]) -> pa.Table:
    """Arrow table from experiment_attributions rows (attributions.COLUMN_NAMES order)."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=False)) if rows else [[] for _ in ATTRIBUTION_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(v, type=f.type) for v, f in zip(columns, ATTRIBUTION_SCHEMA, strict=False)], schema=ATTRIBUTION_SCHEMA
    )


def empty_table() -> pa.Table:
    return ARROW_SCHEMA.empty_table()


ROW_TYPE = pa.struct(list(ARROW_SCHEMA))  # a build_row() tuple as one Arrow struct value


def rows_to_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Arrow table from build_row() rows (MAPPED_COLUMN_NAMES order): Arrow reads the tuples as struct values in
    one pass, no Python transposition into columns (half the time of a list and an array per column)."""
    if not rows:
        return empty_table()
    values = pa.array(rows, type=ROW_TYPE)
    assert isinstance(values, pa.StructArray)
    batch = pa.RecordBatch.from_struct_array(values)
    return pa.Table.from_batches([batch], schema=ARROW_SCHEMA)


# --- reading -----------------------------------------------------------------------------------------------------


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or mostly undecodable as UTF-8 (a stray Latin-1 line stays a line error, not a file error)."""
    if b"\x00" in head:
        return True
    bad = head[:-3].decode("utf-8", "replace").count("\ufffd")  # the tail may cut a multi-byte character
    return bad > max(8, len(head) // 20)


def _stream(data: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data


class _CountingReader:
    """Counts the bytes read through a binary stream (the compressed side of a gzip stream)."""

    def __init__(self, stream: BinaryIO | io.RawIOBase):
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size) or b""  # a raw stream's None (nothing available yet) never comes from a file
        self.count += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        raise io.UnsupportedOperation("a counted gzip stream is read forward only")


def check_expansion(source: str, compressed: int, decompressed: int, limits: IngestLimits) -> None:
    """DecompressionLimitError when `decompressed` bytes out of `compressed` read are past a limit."""
    if decompressed > limits.max_decompressed_bytes:
        raise DecompressionLimitError(
            f"{source}: refused: gzip content expands past {limits.max_decompressed_bytes:,} bytes "
            f"(XOLAP_INGEST_MAX_DECOMPRESSED_BYTES): possible decompression bomb"
        )
    if decompressed > limits.ratio_floor_bytes and decompressed > limits.max_compression_ratio * max(compressed, 1):
        raise DecompressionLimitError(
            f"{source}: refused: gzip content expands more than {limits.max_compression_ratio}x "
            f"({decompressed:,} bytes from {compressed:,} compressed; XOLAP_INGEST_MAX_COMPRESSION_RATIO): "
            f"possible decompression bomb"
        )


def _chunks(
    stream: BinaryIO | gzip.GzipFile, source: str, compressed: _CountingReader | None, limits: IngestLimits
) -> Iterator[bytes]:
    decompressed = 0
    try:
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                return
            if compressed is not None:
                decompressed += len(chunk)
                check_expansion(source, compressed.count, decompressed, limits)
            yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        if compressed is not None:
            raise NotJsonlError(f"{source}: not a JSONL file: broken gzip stream ({exc})") from None
        raise


def read_lines(data: bytes | BinaryIO, source: str, limits: IngestLimits | None = None) -> Iterator[tuple[int, bytes]]:
    """(1-based index among non-empty lines, line bytes without its '\\n' / '\\r\\n') for a JSONL or JSONL.gz file.

    Raises NotJsonlError naming `source` when the content is binary or a broken gzip stream, and its subclass
    DecompressionLimitError when gzip content expands past the limits. A line over limits.max_line_bytes comes
    out as an OversizeLine (map_lines rejects it); memory stays bounded by the line limit."""
    limits = limits or IngestLimits()
    raw = _stream(data)
    head = raw.read(2)
    stream: BinaryIO | gzip.GzipFile = raw
    gzipped = head == GZIP_MAGIC
    compressed: _CountingReader | None = None
    if gzipped:
        compressed = _CountingReader(_Prefixed(head, raw))
        stream = gzip.GzipFile(fileobj=compressed, mode="rb")
        first = b""
    else:
        first = head
    chunks = _chunks(stream, source, compressed, limits)
    sniffed = first
    pending: list[bytes] = [first] if first else []
    for chunk in chunks:
        pending.append(chunk)
        sniffed += chunk[:SNIFF_BYTES]
        if len(sniffed) >= SNIFF_BYTES:
            break
    if _looks_binary(sniffed[:SNIFF_BYTES]):
        kind = "gzip content is binary" if gzipped else "binary content"
        raise NotJsonlError(f"{source}: not a JSONL file ({kind}, not UTF-8 JSON lines)")
    return split_lines(_chain(pending, chunks), limits.max_line_bytes)


def _chain(pending: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from pending
    yield from rest


class _Prefixed(io.RawIOBase):
    """A stream that replays bytes already read from its head."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- mapping -----------------------------------------------------------------------------------------------------


def map_lines(lines: Iterable[tuple[int, bytes]], *, source_file: str, source_etag: str | None) -> MappedBatch:
    """Apply the mapping to each (line number, line); bad lines become LineErrors, good ones Arrow rows. The cyclic
    garbage collector is paused meanwhile (gc_pause): the batch's row tuples are freed before it resumes."""
    with collection_paused():
        return _mapped(lines, source_file, source_etag)


def _mapped(lines: Iterable[tuple[int, bytes]], source_file: str, source_etag: str | None) -> MappedBatch:
    """map_lines' work; its row tuples are gone once it returns (only the Arrow table is kept)."""
    rows: list[tuple[Any, ...]] = []
    errors: list[LineError] = []
    warnings: list[LineError] = []
    found: list[list[Any]] = []
    attributed: list[dict[str, Any]] = []  # the statement of a line naming experiment attributions, one at a time
    line_warnings: list[str] = []  # of the line being mapped; a new list only after a line that had some
    append = rows.append
    count = 0
    for number, line in lines:
        count += 1
        if type(line) is OversizeLine:
            errors.append(
                LineError(source_file, number, line.reason, line[:MAX_RAW_LINE_CHARS].decode("utf-8", "replace"))
            )
            continue
        try:
            row = build_row(
                line,
                source_file=source_file,
                source_etag=source_etag,
                source_line=number,
                warnings=line_warnings,
                attributed=attributed,
            )
        except Rejected as exc:
            errors.append(
                LineError(source_file, number, str(exc), line[:MAX_RAW_LINE_CHARS].decode("utf-8", "replace"))
            )
            if line_warnings:  # warnings of fields before the one that rejected the line: not kept
                line_warnings = []
            continue
        append(row)
        if attributed:  # most lines: no row dict to build
            found.extend(
                experiment_attributions.attribution_rows(
                    attributed.pop(), dict(zip(MAPPED_COLUMN_NAMES, row, strict=False)), line_warnings
                )
            )
        if line_warnings:
            raw = line[:MAX_RAW_LINE_CHARS].decode("utf-8", "replace")
            warnings.extend(LineError(source_file, number, w, raw, "warning") for w in line_warnings)
            line_warnings = []
    return MappedBatch(rows_to_table(rows), errors, count, warnings, found)


# --- writing -----------------------------------------------------------------------------------------------------


def batch_token(table: pa.Table) -> str:
    """A deterministic insert_deduplication_token for a batch: the same lines of the same file give the same token
    on retry (where the table deduplicates inserts, a retried batch is dropped, not doubled)."""
    digest = hashlib.sha256()
    files = table.column("source_file").unique().to_pylist() if table.num_rows else []
    digest.update(repr(sorted(f or "" for f in files)).encode())
    for value in table.column("event_hash").to_pylist():
        digest.update((value or "").encode())
    return digest.hexdigest()[:32]


def insert_settings(piece: pa.Table, token: str | None = None) -> dict[str, Any]:
    """Settings of one raw_events insert: its deduplication token and, when no two of its rows share an event_hash
    (so no two share the sorting key, which ends with it: migration 0001), optimize_on_insert = 0. ClickHouse's
    insert-time ReplacingMergeTree pass copies the block row by row to collapse equal keys (~60 % of the insert's
    CPU, measured: 350-446 vs 121-148 ms for 50,000 rows) and has nothing to collapse then, so the part is the same.
    A batch with a repeated line keeps the pass (one row stored per key, the last line, as before). The setting
    reaches the materialized views' inserts too: content_titles keeps a batch's repeated titles until its merges,
    as after the SQL path's moves (readers take argMax or FINAL)."""
    settings: dict[str, Any] = {"insert_deduplication_token": token or batch_token(piece)}
    if piece.num_rows and pc.count_distinct(piece.column("event_hash")).as_py() == piece.num_rows:
        settings["optimize_on_insert"] = 0
    return settings


class EventWriter:
    """Inserts mapped rows into `<database>.raw_events` and rejected lines into `<database>.ingest_errors`."""

    def __init__(
        self, client: ClickHouseClient, settings: Settings, ingest_path: str, *, batch_rows: int = DEFAULT_BATCH_ROWS
    ):
        self.client = client
        self.database = settings.clickhouse_database
        self.ingest_path = ingest_path
        self.batch_rows = batch_rows

    def write(self, table: pa.Table, *, deduplication_token: str | None = None) -> int:
        """Insert the table in batches of at most batch_rows; returns rows inserted. A batch whose rows all have
        different sorting keys skips ClickHouse's insert-time ReplacingMergeTree pass (insert_settings)."""
        written = 0
        try:
            for offset in range(0, table.num_rows, self.batch_rows):
                piece = table.slice(offset, self.batch_rows)
                token = deduplication_token if deduplication_token and table.num_rows <= self.batch_rows else None
                self.client.insert_arrow(
                    "raw_events", piece, database=self.database, settings=insert_settings(piece, token)
                )
                written += piece.num_rows
        finally:  # also after a partial write: its scopes' cached dashboards are stale either way
            data_version.rows_written(self.database, table)
        return written

    def write_attributions(self, rows: list[list[Any]]) -> int:
        """Insert experiment_attributions rows (of rows already written); returns rows inserted."""
        for offset in range(0, len(rows), self.batch_rows):
            piece = attributions_table(rows[offset : offset + self.batch_rows])
            hashes = piece.column("attribution_hash").to_pylist()
            token = hashlib.sha256("".join(h or "" for h in hashes).encode()).hexdigest()[:32]
            self.client.insert_arrow(
                "experiment_attributions", piece, database=self.database, settings={"insert_deduplication_token": token}
            )
        return len(rows)

    def record_errors(self, errors: Iterable[LineError], deduplication_token: str | None = None) -> int:
        """Insert the lines' ingest_errors rows. ingest_errors keeps a window of recent blocks (migration 0018): with
        a token (the same lines of the same object version delivered again give the same one) a repeated insert is
        dropped, and without one a block equal to a recent one (same file, lines, reasons) is, as ClickHouse
        dedups by content."""
        rows = [[self.ingest_path, e.severity, e.source_file, e.source_line, e.reason, e.raw_line] for e in errors]
        for offset in range(0, len(rows), self.batch_rows):
            dedup = {"insert_deduplication_token": f"{deduplication_token}-{offset}"} if deduplication_token else {}
            self.client.insert(
                "ingest_errors",
                rows[offset : offset + self.batch_rows],
                column_names=["ingest_path", "severity", "source_file", "source_line", "reason", "raw_line"],
                database=self.database,
                settings=dedup,
            )
        return len(rows)


def write_batch(writer: EventWriter, batch: MappedBatch) -> IngestReport:
    """Write one mapped batch: its rows, then their experiment attributions, then its rejected and warned lines."""
    rows = writer.write(batch.table) if batch.table.num_rows else 0
    if batch.attributions:
        writer.write_attributions(batch.attributions)
    if batch.errors or batch.warnings:
        writer.record_errors(batch.errors + batch.warnings)
    return IngestReport(rows, len(batch.errors), batch.errors, len(batch.warnings))


def ingest_lines(
    writer: EventWriter,
    lines: Iterable[tuple[int, bytes]],
    *,
    source_file: str,
    source_etag: str | None = None,
    on_progress: Any = None,
    overlap: bool = True,
) -> IngestReport:
    """Map and write lines in bounded batches; on_progress(rows, rejected) after each batch, in the caller's thread.

    With `overlap`, a full batch is written on a helper thread while the next one is read and mapped (ClickHouse
    releases the GIL while it inserts): at most one batch is being written and one mapped, batches are written in
    order, and every outcome is the serial one: a failed write stops the run with its error (it came first), a
    failure reading or mapping the next batch is raised after the batch before it was written and reported."""
    report = IngestReport()
    iterator = iter(lines)
    pool: ThreadPoolExecutor | None = None
    writing: Future[IngestReport] | None = None

    def written(step: IngestReport) -> None:
        report.add(step)
        if on_progress is not None:
            on_progress(step.rows, step.rejected)

    try:
        while True:
            # lines read as they are mapped (no list of a batch's lines; the reading is inside map_lines' GC pause)
            batch = map_lines(islice(iterator, writer.batch_rows), source_file=source_file, source_etag=source_etag)
            if not batch.lines:
                break
            if writing is not None:
                done, writing = writing, None
                written(done.result())
            if not overlap or batch.lines < writer.batch_rows:  # the last batch (or no helper): written here
                written(write_batch(writer, batch))
                continue
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xolap-ingest-write")
            writing = pool.submit(write_batch, writer, batch)
        if writing is not None:
            done, writing = writing, None
            written(done.result())
    except BaseException:
        if writing is not None:  # reading or mapping failed while the batch before was being written
            done, writing = writing, None
            written(done.result())  # a failed write raises here: it happened first
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return report


def ingest_bytes(
    client: ClickHouseClient,
    settings: Settings,
    data: bytes | BinaryIO,
    *,
    source_file: str,
    source_etag: str | None = None,
    ingest_path: str,
    on_progress: Any = None,
) -> IngestReport:
    """Ingest one JSONL(.gz) file's content: every good line into raw_events, every bad one into ingest_errors."""
    writer = EventWriter(client, settings, ingest_path)
    lines = read_lines(data, source_file, IngestLimits.from_settings(settings))
    return ingest_lines(writer, lines, source_file=source_file, source_etag=source_etag, on_progress=on_progress)


__all__ = [
    "ARROW_SCHEMA",
    "DecompressionLimitError",
    "EventWriter",
    "IngestReport",
    "LineError",
    "MappedBatch",
    "NotJsonlError",
    "ingest_bytes",
    "ingest_lines",
    "map_lines",
    "write_batch",
    "read_lines",
]
