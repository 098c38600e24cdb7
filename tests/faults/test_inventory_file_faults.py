"""An S3 Inventory whose data file is damaged (its bytes differ from the manifest's MD5checksum: cut short, or
rewritten) or gone (listed by the manifest, deleted since): that file's batch fails naming the file and the reason,
reads none of its keys (no partial list is trusted), the other batches load every event once, and once the file is
whole again a retry of the batch loads its events once (holds as is; fault injection)."""

from __future__ import annotations

import pytest
from bf_support import count_events, upload_bundles, write_csv_manifest

from xolap.backfill import runner, service


@pytest.mark.parametrize("fault", ["cut short", "rewritten", "deleted"])
def test_a_damaged_inventory_file_fails_its_batch_only_and_a_retry_loads_it_once(bf_runtime, s3, bucket, fault):
    first = upload_bundles(s3, bucket, "xapi/", files=3, lines=10, start=0, day=1)
    second = upload_bundles(s3, bucket, "xapi/", files=2, lines=10, start=10_000, day=2)
    manifest = write_csv_manifest(s3, bucket, [[(bucket, k) for k in first], [(bucket, k) for k in second]])
    damaged = "inventory/data/part-0.csv.gz"
    whole = s3.get_object(Bucket=bucket, Key=damaged)["Body"].read()
    if fault == "cut short":
        s3.put_object(Bucket=bucket, Key=damaged, Body=whole[: len(whole) // 2])
    elif fault == "rewritten":  # a valid inventory listing one object only: its MD5 is not the manifest's
        import gzip

        s3.put_object(Bucket=bucket, Key=damaged, Body=gzip.compress(gzip.decompress(whole).splitlines(True)[0]))
    else:
        s3.delete_object(Bucket=bucket, Key=damaged)

    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    assert runner.prepare_inventory_run(bf_runtime, run["id"]) in ("running", "queued", "prepared", "completed")
    batches = {b["inventory_key"]: b for b in service.get_run(bf_runtime, "inventory", run["id"])["batches"]}
    assert runner.execute_batch(bf_runtime, batches[damaged]["id"]) == "failed"
    others = [b for key, b in batches.items() if key != damaged]
    assert [runner.execute_batch(bf_runtime, b["id"]) for b in others] == ["completed"]

    state = service.get_run(bf_runtime, "inventory", run["id"])
    failed = next(b for b in state["batches"] if b["inventory_key"] == damaged)
    reason = "does not exist" if fault == "deleted" else "MD5 differs"
    assert failed["status"] == "failed" and damaged in failed["error"] and reason in failed["error"], failed
    assert failed["chunks_completed"] == 0 and failed["rows_written"] == 0
    assert state["status"] == "failed" and count_events(bf_runtime) == 20  # the other file's events, once

    s3.put_object(Bucket=bucket, Key=damaged, Body=whole)
    service.retry_batch(bf_runtime, failed["id"])
    assert runner.execute_batch(bf_runtime, failed["id"]) == "completed"
    state = service.get_run(bf_runtime, "inventory", run["id"])
    assert state["status"] == "completed" and count_events(bf_runtime) == 50
