"""Bounds on hostile input files: the longest line accepted and how far a gzip stream may expand.

A line over `max_line_bytes` is not kept in memory: the splitter keeps its head, counts the rest and hands on an
OversizeLine, which the mapping rejects with "line is N bytes, over the limit of M" (the rest of the file goes in).
A gzip stream that expands past `max_decompressed_bytes`, or past `max_compression_ratio` times the compressed
bytes read so far (once it is past ratio_floor_bytes), is refused as a possible decompression bomb: the file gets
one DecompressionLimitError (xolap.ingest.pipeline) naming it, and the other files of the same command still go in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 16 * 1024**3
DEFAULT_MAX_COMPRESSION_RATIO = 100  # xAPI JSONL compresses 9-20x with gzip
RATIO_FLOOR_BYTES = 64 * 1024 * 1024  # below this much output, any ratio is fine (small, very regular files)
OVERSIZE_HEAD_BYTES = 65_536  # of an oversize line, kept for ingest_errors


@dataclass(frozen=True)
class IngestLimits:
    """How big one line and one decompressed file may get (XOLAP_INGEST_MAX_* settings)."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    max_compression_ratio: int = DEFAULT_MAX_COMPRESSION_RATIO
    ratio_floor_bytes: int = RATIO_FLOOR_BYTES

    @classmethod
    def from_settings(cls, settings: Any) -> IngestLimits:
        return cls(
            max_line_bytes=settings.ingest_max_line_bytes,
            max_decompressed_bytes=settings.ingest_max_decompressed_bytes,
            max_compression_ratio=settings.ingest_max_compression_ratio,
        )


class OversizeLine(bytes):
    """The head of a line that was over the limit (its bytes are the head; `size` is the whole line's length)."""

    size: int
    limit: int

    def __new__(cls, head: bytes, size: int, limit: int) -> OversizeLine:
        line = super().__new__(cls, head)
        line.size = size
        line.limit = limit
        return line

    @property
    def reason(self) -> str:
        return f"line is {self.size:,} bytes, over the limit of {self.limit:,}"


def split_lines(chunks: Iterator[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(1-based index among non-empty lines, line without '\\n' / '\\r\\n') from a stream of chunks, in time linear
    in the input: a partial line is kept as a list of pieces and joined once, at its end. A line longer than
    max_line_bytes is not kept: its head and length come out as an OversizeLine."""
    number = 0
    pieces: list[bytes] = []  # the pending partial line
    pending = 0  # its length in bytes
    oversize: OversizeLine | None = None  # set while skipping the rest of a line over the limit
    for chunk in chunks:
        start = 0
        end = len(chunk)
        while start < end:
            newline = chunk.find(b"\n", start)
            stop = end if newline < 0 else newline
            piece_length = stop - start
            if oversize is None and pending + piece_length > max_line_bytes:
                head = b"".join(pieces) + chunk[start : min(stop, start + max(0, OVERSIZE_HEAD_BYTES - pending))]
                oversize = OversizeLine(head[:OVERSIZE_HEAD_BYTES], 0, max_line_bytes)
                pieces = []
            if oversize is None:
                if newline < 0:
                    pieces.append(chunk[start:] if start else chunk)
                else:
                    pieces.append(chunk[start:newline])
            pending += piece_length
            if newline < 0:
                break
            start = newline + 1
            if oversize is not None:
                number += 1
                oversize.size = pending
                yield number, oversize
                oversize = None
            else:
                line = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line and not line.isspace():  # line.strip() without copying the line
                    number += 1
                    yield number, line
            pieces = []
            pending = 0
    if oversize is not None:
        oversize.size = pending
        yield number + 1, oversize
        return
    line = b"".join(pieces)
    if line.endswith(b"\r"):
        line = line[:-1]
    if line and not line.isspace():
        yield number + 1, line


__all__ = [
    "IngestLimits",
    "OversizeLine",
    "split_lines",
]
