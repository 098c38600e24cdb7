"""map_lines pauses the cyclic garbage collector for one batch (xolap.ingest.gc_pause): no collection walks the
batch's rows, the collector's state is restored afterwards (also after a failure, and when it was off before), and
overlapping pauses resume it once, when the last ends. The pause is safe because mapping makes no reference cycles:
everything a batch discards is freed by reference counting, proven here on lines of every kind."""

from __future__ import annotations

import gc
import gzip
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from xolap.ingest.gc_pause import collection_paused
from xolap.ingest.limits import IngestLimits, OversizeLine
from xolap.ingest.pipeline import EventWriter, NotJsonlError, ingest_lines, map_lines, read_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPORA = [
    FIXTURES / "xapi" / "torus_statements.jsonl",
    FIXTURES / "xapi" / "mixed_bad_lines.jsonl",
    FIXTURES / "xapi" / "generic_statements.jsonl",
    FIXTURES / "parity" / "corpus.jsonl",  # warnings of every kind, attributions, rejections
]
HEAD = b'{"actor":{"account":{"name":"1"}},"verb":{"id":"http://x/v"},"object":{"id":"o"},'
ODD_LINES = [
    HEAD + b'"result":{"response":' + b"[" * 3000 + b"]" * 3000 + b"}}",  # deeper than orjson reads
    HEAD + b'"result":{"response":' + b"[" * 900 + b"123456789012345678901234" + b"]" * 900 + b"}}",
    HEAD + b'"timestamp":"2024-05-01T12:00:00.000Z","n":-92233720368547758090}',  # beyond 64 bits
    HEAD + b'"timestamp":"2024-05-01T12:00:00.000Z","result":{"score":{"raw":"x"}}}',  # a warning
    HEAD + b'"timestamp":"not a time"}',  # rejected
    b"not json",
    b'{"a":"\\ud800"}',
]


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def _all_lines() -> list[tuple[int, bytes]]:
    lines = [line for path in CORPORA for _, line in read_lines(path.read_bytes(), str(path))]
    lines += ODD_LINES + [OversizeLine(b'{"x": "' + b"y" * 100, 5_000_000, 1_000_000)]
    return list(enumerate(lines, 1))


def test_no_collection_runs_while_a_batch_is_mapped(collector_on):
    one = next(iter(read_lines((FIXTURES / "xapi" / "torus_statements.jsonl").read_bytes(), "t")))[1]
    lines = [(n, one) for n in range(1, 3001)]  # 3,000 kept rows: past the young generation's 700 several times
    seen: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    map_lines(lines[:2], source_file="t", source_etag=None)  # the process's first batch imports (pyarrow: pandas)
    gc.collect()  # no collection due on the way in
    gc.callbacks.append(record)
    try:
        batch = map_lines(lines, source_file="t", source_etag=None)
    finally:
        gc.callbacks.remove(record)
    assert batch.table.num_rows == 3000
    assert seen == []
    assert gc.isenabled()


def _cycles_left_by_mapping() -> int:
    """Objects the cyclic collector finds after a batch is mapped and dropped (0: reference counting freed it all)."""
    lines = _all_lines()
    map_lines(lines, source_file="warm", source_etag=None)  # caches filled outside the measured call
    gc.collect()
    gc.disable()
    try:
        batch = map_lines(lines, source_file="f", source_etag="e")
        assert batch.errors and batch.warnings and batch.attributions and batch.table.num_rows
        del batch
        return gc.collect()
    finally:
        gc.enable()


def test_mapping_makes_no_reference_cycles():
    """Measured in a fresh interpreter: gc.collect() also collects what other threads of the test process (servers,
    renderer and worker threads started by other tests) discard meanwhile, which made this fail in the full suite."""
    assert _cycles_in_fresh_interpreter("cycles-left-by-mapping") == 0  # nothing discarded needed the collector


def _cycles_left_by_reading() -> int:
    """Objects the cyclic collector finds after ingest_lines' reading (gzip, chunk boundaries, oversize and broken
    streams) fed batches that were mapped and dropped (0: reference counting freed it all)."""
    body = b"\n".join(line for path in CORPORA for line in path.read_bytes().splitlines())
    body += b"\n" + b'{"pad": "' + b"x" * 5000 + b'"}\r\n\n  \n' + ODD_LINES[0]
    limits = IngestLimits(max_line_bytes=4000)
    sources = [body, gzip.compress(body), gzip.compress(body)[:-30]]
    for source in sources:  # caches and imports filled first
        try:
            map_lines(read_lines(source, "warm", limits), source_file="warm", source_etag=None)
        except NotJsonlError:
            pass
    gc.collect()
    gc.disable()
    try:
        for source in sources:
            try:
                batch = map_lines(read_lines(source, "f", limits), source_file="f", source_etag=None)
                assert batch.table.num_rows and batch.errors
                del batch
            except NotJsonlError:
                assert source is sources[-1]
        return gc.collect()
    finally:
        gc.enable()


def _cycles_in_fresh_interpreter(check: str) -> int:
    """Runs one of this module's counts in a fresh interpreter: gc.collect() in the test process also collects what
    other threads of it (servers, renderer and worker threads started by other tests) discard meanwhile."""
    done = subprocess.run([sys.executable, __file__, check], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def test_reading_makes_no_reference_cycles_either():
    """ingest_lines reads a batch's lines inside its pause: gzip, chunk boundaries, oversize and broken streams."""
    assert _cycles_in_fresh_interpreter("cycles-left-by-reading") == 0


def test_ingest_lines_reads_each_batch_inside_its_pause(collector_on, ch_db):
    client, settings = ch_db
    enabled_while_read: list[bool] = []

    def lines() -> Iterator[tuple[int, bytes]]:
        for number, line in _all_lines():
            enabled_while_read.append(gc.isenabled())
            yield number, line

    writer = EventWriter(client, settings, "test", batch_rows=10)
    report = ingest_lines(writer, lines(), source_file="f")
    assert report.rows and len(enabled_while_read) == len(_all_lines())
    assert not any(enabled_while_read)
    assert gc.isenabled()


def _failing_lines() -> Iterator[tuple[int, bytes]]:
    yield from _all_lines()[:5]
    raise NotJsonlError("f: not a JSONL file: broken gzip stream")


def test_collector_state_is_restored_after_a_batch_even_after_a_failure(collector_on):
    map_lines(_all_lines(), source_file="f", source_etag=None)
    assert gc.isenabled()
    with pytest.raises(NotJsonlError):
        map_lines(_failing_lines(), source_file="f", source_etag=None)
    assert gc.isenabled()
    gc.disable()  # a caller that turned the collector off keeps it off
    map_lines(_all_lines(), source_file="f", source_etag=None)
    with pytest.raises(NotJsonlError):
        map_lines(_failing_lines(), source_file="f", source_etag=None)
    assert not gc.isenabled()


def test_overlapping_pauses_resume_the_collector_once_when_the_last_ends(collector_on):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states: list[bool] = []

    def second() -> None:
        first_in.wait(5)
        with collection_paused():
            second_in.set()
            first_out.wait(5)
            states.append(gc.isenabled())  # the first pause ended: still paused for this one

    thread = threading.Thread(target=second)
    thread.start()
    with collection_paused():
        first_in.set()
        second_in.wait(5)
    first_out.set()
    thread.join(5)
    assert states == [False]
    assert gc.isenabled()
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


if __name__ == "__main__" and sys.argv[1:] == ["cycles-left-by-mapping"]:
    print(_cycles_left_by_mapping())
if __name__ == "__main__" and sys.argv[1:] == ["cycles-left-by-reading"]:
    print(_cycles_left_by_reading())
