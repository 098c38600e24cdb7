"""ingest_lines writes a full batch on a helper thread while it reads and maps the next one, with the serial outcome:
the same rows, errors, warnings, attributions and progress calls (in the caller's thread), batches in order, a failed
write raised before anything after it, a failure reading the next batch raised after the batch before was written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from xolap.ingest.pipeline import EventWriter, NotJsonlError, ingest_lines, read_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
TORUS = (FIXTURES / "torus_statements.jsonl").read_bytes()
MIXED = (FIXTURES / "mixed_bad_lines.jsonl").read_bytes()
BATCH = 4
HELPER = "xolap-ingest-write"


def _contents(client, db: str) -> list[tuple]:
    tables = {
        "raw_events": "source_file, source_line, event_hash",
        "ingest_errors": "source_file, source_line, severity, reason",
        "experiment_attributions": "attribution_hash",
    }
    out = []
    for table, order in tables.items():
        columns = [
            name
            for (name,) in client.query(
                f"SELECT name FROM system.columns WHERE database = '{db}' AND table = '{table}' "
                "AND name NOT IN ('inserted_at', 'event_version', 'recorded_at')"
            ).result_rows
        ]
        out.append(client.query(f"SELECT {', '.join(columns)} FROM `{db}`.{table} ORDER BY {order}").result_rows)
    return out


def _helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(HELPER)]


def test_overlapped_and_serial_runs_store_and_report_the_same(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    results = []
    for overlap in (False, True):
        for table in ("raw_events", "ingest_errors", "experiment_attributions"):
            client.command(f"TRUNCATE TABLE `{db}`.{table}")
        progress: list[tuple[int, int, str]] = []
        writer = EventWriter(client, settings, "test", batch_rows=16)  # 2 full batches and a short one
        report = ingest_lines(
            writer,
            list(read_lines(TORUS + MIXED, "f.jsonl")),
            source_file="f.jsonl",
            source_etag="e",
            on_progress=lambda rows, rejected, seen=progress: seen.append(
                (rows, rejected, threading.current_thread().name)
            ),
            overlap=overlap,
        )
        results.append((report, progress, _contents(client, db)))
    (serial, serial_progress, serial_rows), (overlapped, overlapped_progress, overlapped_rows) = results
    assert (overlapped.rows, overlapped.rejected, overlapped.warnings) == (
        serial.rows,
        serial.rejected,
        serial.warnings,
    )
    assert overlapped.errors == serial.errors and serial.rejected > 0 and serial.warnings > 0
    assert overlapped_progress == serial_progress and len(serial_progress) == 3
    assert {name for _, _, name in overlapped_progress} == {threading.current_thread().name}
    assert overlapped_rows == serial_rows and serial_rows[0] and serial_rows[1] and serial_rows[2]
    assert not _helpers()


def _counted(data: bytes, pulled: threading.Event, after: int) -> Iterator[tuple[int, bytes]]:
    for number, line in read_lines(data, "f.jsonl"):
        if number > after:
            pulled.set()
        yield number, line


def test_a_full_batch_is_written_while_the_next_one_is_read(ch_db):
    client, settings = ch_db
    next_read = threading.Event()
    seen: list[tuple[str, bool]] = []
    original = client.insert_arrow

    def recording(name, piece, **kwargs):  # the real insert, after noting its thread and whether reading went on
        if name == "raw_events":
            seen.append((threading.current_thread().name, next_read.wait(timeout=2.0)))
        return original(name, piece, **kwargs)

    client.insert_arrow = recording
    try:
        writer = EventWriter(client, settings, "test", batch_rows=BATCH)
        report = ingest_lines(writer, _counted(TORUS, next_read, BATCH), source_file="f.jsonl")
    finally:
        del client.insert_arrow
    assert report.rows == 11
    assert seen[0][0].startswith(HELPER) and seen[0][1]  # batch 1 was inserted while batch 2 was read
    assert not seen[-1][0].startswith(HELPER)  # the last, short batch: in the caller's thread
    assert not _helpers()


def test_a_failed_write_stops_the_run_with_its_error(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    original = client.insert_arrow
    calls = []

    def failing_first(name, piece, **kwargs):
        calls.append(piece.num_rows)
        if len(calls) == 1:
            raise ConnectionError("insert refused")
        return original(name, piece, **kwargs)

    client.insert_arrow = failing_first
    progress: list[tuple[int, int]] = []
    try:
        with pytest.raises(ConnectionError, match="insert refused"):
            ingest_lines(
                EventWriter(client, settings, "test", batch_rows=BATCH),
                read_lines(TORUS, "f.jsonl"),
                source_file="f.jsonl",
                on_progress=lambda rows, rejected: progress.append((rows, rejected)),
            )
    finally:
        del client.insert_arrow
    assert calls == [BATCH] and progress == []  # nothing after the failed batch was written or reported
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == 0
    assert not _helpers()


def test_a_failure_reading_the_next_batch_comes_after_the_batch_before_is_written(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database

    def broken() -> Iterator[tuple[int, bytes]]:
        for number, line in read_lines(TORUS, "f.jsonl"):
            if number > BATCH + 1:
                raise NotJsonlError("f.jsonl: not a JSONL file: broken gzip stream")
            yield number, line

    progress: list[tuple[int, int]] = []
    with pytest.raises(NotJsonlError, match="broken gzip"):
        ingest_lines(
            EventWriter(client, settings, "test", batch_rows=BATCH),
            broken(),
            source_file="f.jsonl",
            on_progress=lambda rows, rejected: progress.append((rows, rejected)),
        )
    assert progress == [(BATCH, 0)]
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == BATCH
    assert not _helpers()


def test_a_progress_callback_that_raises_stops_before_the_next_write(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database

    def cancel(rows: int, rejected: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_lines(
            EventWriter(client, settings, "test", batch_rows=BATCH),
            read_lines(TORUS, "f.jsonl"),
            source_file="f.jsonl",
            on_progress=cancel,
        )
    assert client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == BATCH
    assert not _helpers()
