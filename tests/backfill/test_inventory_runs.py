"""Inventory backfills: CSV/Parquet/ORC manifests, chunking and filters, batch limits, pause/resume/cancel, retry of
one batch, resume after an interrupted chunk, and the failure modes."""

from __future__ import annotations

import pytest
from bf_support import count_events, upload_bundles, write_csv_manifest, write_parquet_manifest
from sqlalchemy import select

from xolap.backfill import runner, service
from xolap.backfill.models import ChunkLog, InventoryBatch
from xolap.store.db import session_scope


def _two_files(s3, bucket, lines=10):
    a = upload_bundles(s3, bucket, "xapi/", files=5, lines=lines, start=0, day=1)
    b = upload_bundles(s3, bucket, "xapi/", files=3, lines=lines, start=10_000, day=2)
    return [[(bucket, k) for k in a], [(bucket, k) for k in b]]


def test_csv_inventory_loads_every_object_once_in_chunks(bf_runtime, s3, bucket, drain):
    manifest = write_csv_manifest(s3, bucket, _two_files(s3, bucket))
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed", done
    assert (done["batches_total"], done["batches_completed"], done["rows_ingested"]) == (2, 2, 80)
    assert (
        done["inventory_format"] == "CSV" and done["source_bucket"] == bucket and done["destination_bucket"] == bucket
    )
    first, second = done["batches"]
    assert (first["object_count"], first["chunk_count"], first["processed_objects"]) == (5, 3, 5)
    assert (second["chunk_count"], second["rows_written"]) == (2, 30)
    logs = service.chunk_logs(bf_runtime, first["id"])
    assert [log["chunk_index"] for log in logs] == [0, 1, 2] and [len(log["keys"]) for log in logs] == [2, 2, 1]
    assert all(log["status"] == "completed" and log["rows_written"] == 10 * len(log["keys"]) for log in logs)
    assert "{" in logs[0]["source_url"] and len(logs[0]["dedup_token"]) == 64
    assert service.chunk_logs(bf_runtime, first["id"], after=0, limit=1)[0]["chunk_index"] == 1
    assert [log["chunk_index"] for log in service.chunk_logs(bf_runtime, first["id"], before=2)] == [0, 1]
    assert count_events(bf_runtime) == 80


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_parquet_and_orc_inventories(bf_runtime, s3, bucket, drain, file_format):
    manifest = write_parquet_manifest(s3, bucket, _two_files(s3, bucket, lines=4), file_format=file_format)
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=25, max_simultaneous_batches=2)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert (done["status"], done["inventory_format"], done["rows_ingested"]) == ("completed", file_format, 32)
    assert count_events(bf_runtime) == 32


def test_date_range_and_prefix_filters_skip_keys(bf_runtime, s3, bucket, drain):
    files = _two_files(s3, bucket)
    files[0].append((bucket, "elsewhere/2026-01-01T09-00-00.000000Z_x.jsonl"))
    manifest = write_csv_manifest(s3, bucket, files)
    run = service.create_inventory_run(
        bf_runtime,
        manifest_url=manifest,
        key_prefix="xapi/",
        date_from="2026-01-01T09:01:00Z",
        date_to="2026-01-02T00:00:00Z",
    )
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed"
    first, second = done["batches"]
    assert (first["object_count"], first["skipped_objects"], first["processed_objects"]) == (6, 2, 6)
    assert second["skipped_objects"] == 3 and second["chunk_count"] == 0
    assert count_events(bf_runtime) == 40


def test_dry_run_counts_chunks_without_writing(bf_runtime, s3, bucket, drain):
    manifest = write_csv_manifest(s3, bucket, _two_files(s3, bucket))
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=3, dry_run=True)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed" and sum(b["rows_read"] for b in done["batches"]) == 80
    assert count_events(bf_runtime) == 0


def test_missing_manifest_fails_the_run_descriptively(bf_runtime, bucket, drain):
    run = service.create_inventory_run(bf_runtime, manifest_url=f"s3://{bucket}/nope/manifest.json")
    assert runner.prepare_inventory_run(bf_runtime, run["id"]) == "failed"
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert "does not exist" in done["error"] and "nope/manifest.json" in done["error"]


def test_missing_object_fails_the_batch_and_retry_batch_resumes(bf_runtime, s3, bucket, drain):
    files = _two_files(s3, bucket)
    missing = files[0][3][1]
    s3.delete_object(Bucket=bucket, Key=missing)
    manifest = write_csv_manifest(s3, bucket, files)
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    runner.prepare_inventory_run(bf_runtime, run["id"])
    batches = service.get_run(bf_runtime, "inventory", run["id"])["batches"]
    assert runner.execute_batch(bf_runtime, batches[0]["id"], final_attempt=True) == "failed"
    state = service.get_run(bf_runtime, "inventory", run["id"])
    failed = state["batches"][0]
    assert failed["status"] == "failed" and "chunk 1" in failed["error"] and "404" in failed["error"]
    assert failed["chunks_completed"] == 1 and state["status"] == "running"  # the other batch still goes on
    assert runner.execute_batch(bf_runtime, batches[1]["id"]) == "completed"
    assert service.get_run(bf_runtime, "inventory", run["id"])["status"] == "failed"

    upload_bundles(s3, bucket, "xapi/", files=5, lines=10, start=0, day=1)  # the object is back
    service.retry_batch(bf_runtime, failed["id"])
    assert service.get_run(bf_runtime, "inventory", run["id"])["status"] == "running"
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed" and done["batches"][0]["attempts"] == 2
    logs = service.chunk_logs(bf_runtime, failed["id"])
    assert [log["attempts"] for log in logs] == [1, 2, 1]  # chunk 0 was not redone
    assert count_events(bf_runtime) == 80


def test_interrupted_chunk_is_redone_without_doubling(bf_runtime, s3, bucket):
    manifest = write_csv_manifest(s3, bucket, _two_files(s3, bucket)[:1])
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    runner.prepare_inventory_run(bf_runtime, run["id"])
    batch_id = service.get_run(bf_runtime, "inventory", run["id"])["batches"][0]["id"]
    real = runner.run_chunk
    calls = []

    def crash_on_second(settings, **kw):
        result = real(settings, **kw)  # the rows are written…
        calls.append(kw["chunk"].index)
        if kw["chunk"].index == 1 and calls.count(1) == 1:
            raise KeyboardInterrupt("worker died before recording the chunk")  # …but the log never says so
        return result

    runner.run_chunk = crash_on_second
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.execute_batch(bf_runtime, batch_id)
        with session_scope(bf_runtime.settings) as session:
            states = dict(
                session.execute(
                    select(ChunkLog.chunk_index, ChunkLog.status).where(ChunkLog.batch_id == batch_id)
                ).all()
            )
            assert states == {0: "completed", 1: "running"}
            assert session.get(InventoryBatch, batch_id).status == "running"
        assert runner.execute_batch(bf_runtime, batch_id) == "completed"  # the restarted job
    finally:
        runner.run_chunk = real
    assert calls == [0, 1, 1, 2]
    assert count_events(bf_runtime) == 50


def test_pause_resume_and_cancel(bf_runtime, s3, bucket, drain):
    files = _two_files(s3, bucket)
    manifest = write_csv_manifest(s3, bucket, files + [files[0][:1]])
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    runner.prepare_inventory_run(bf_runtime, run["id"])
    state = service.get_run(bf_runtime, "inventory", run["id"])
    assert [b["status"] for b in state["batches"]] == ["queued", "pending", "pending"]  # one batch at a time

    paused = service.pause(bf_runtime, "inventory", run["id"])
    assert paused["status"] == "paused"
    assert [b["status"] for b in service.get_run(bf_runtime, "inventory", run["id"])["batches"]] == ["paused"] * 3
    drain()  # the queued job was cancelled: nothing runs
    assert count_events(bf_runtime) == 0
    with pytest.raises(service.Conflict):
        service.pause(bf_runtime, "inventory", run["id"])

    service.resume(bf_runtime, "inventory", run["id"])
    batch0 = service.get_run(bf_runtime, "inventory", run["id"])["batches"][0]["id"]
    assert runner.execute_batch(bf_runtime, batch0) == "completed"
    cancelled = service.cancel(bf_runtime, "inventory", run["id"])
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    drain()
    final = service.get_run(bf_runtime, "inventory", run["id"])
    assert [b["status"] for b in final["batches"]] == ["completed", "cancelled", "cancelled"]
    assert final["status"] == "cancelled" and count_events(bf_runtime) == 50
    with pytest.raises(service.Conflict):
        service.cancel(bf_runtime, "inventory", run["id"])
    service.delete_run(bf_runtime, "inventory", run["id"])
    with pytest.raises(service.NotFound):
        service.get_run(bf_runtime, "inventory", run["id"])


def test_pause_lets_the_running_chunk_finish_then_stops(bf_runtime, s3, bucket):
    manifest = write_csv_manifest(s3, bucket, _two_files(s3, bucket)[:1])
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    runner.prepare_inventory_run(bf_runtime, run["id"])
    batch_id = service.get_run(bf_runtime, "inventory", run["id"])["batches"][0]["id"]
    real = runner.run_chunk

    def pause_during_first(settings, **kw):
        result = real(settings, **kw)
        if kw["chunk"].index == 0:
            service.pause(bf_runtime, "inventory", run["id"])
        return result

    runner.run_chunk = pause_during_first
    try:
        assert runner.execute_batch(bf_runtime, batch_id) == "paused"
    finally:
        runner.run_chunk = real
    batch = service.get_run(bf_runtime, "inventory", run["id"])["batches"][0]
    assert (batch["status"], batch["chunks_completed"]) == ("paused", 1)
    service.resume(bf_runtime, "inventory", run["id"])
    assert runner.execute_batch(bf_runtime, batch_id) == "completed"
    assert service.get_run(bf_runtime, "inventory", run["id"])["status"] == "completed"
    assert count_events(bf_runtime) == 50


def test_status_precedence():
    derive = service.derive_status
    assert derive("running", ["completed", "failed", "running"]) == "running"
    assert derive("running", ["completed", "failed"]) == "failed"
    assert derive("running", ["completed", "completed"]) == "completed"
    assert derive("paused", ["running"]) == "paused" and derive("cancelled", ["completed"]) == "cancelled"
    assert derive("running", ["pending", "failed"]) == "running"
