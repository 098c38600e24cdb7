"""A backfill run whose target is experiment_attributions writes the statements' attributions (Torus's backfill
switches to ARRAY JOIN for that target): the same rows the Python ingest path writes for the same lines."""

from __future__ import annotations

from pathlib import Path

from xolap.backfill import runner, service
from xolap.ingest.pipeline import ingest_bytes
from xolap.xapi import attributions

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "corpus.jsonl"
# provenance differs by path (a backfill's source_file is ClickHouse's _path); everything else must match
COMPARED = [c for c in attributions.COLUMN_NAMES if c not in ("source_file", "source_etag")]


def _rows(client, db: str) -> list[tuple]:
    return client.query(
        f"SELECT {', '.join(COMPARED)} FROM `{db}`.experiment_attributions FINAL ORDER BY source_line, attribution_hash"
    ).result_rows


def test_backfill_into_experiment_attributions_matches_the_ingest_path(bf_runtime, s3, bucket):
    s3.put_object(Bucket=bucket, Key="xapi/corpus.jsonl", Body=CORPUS.read_bytes())
    client, db = bf_runtime.clickhouse(), bf_runtime.settings.clickhouse_database
    run = service.create_manual_run(
        bf_runtime, s3_pattern=f"s3://{bucket}/xapi/*.jsonl", target_table="experiment_attributions"
    )
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed", service.get_run(
        bf_runtime, "manual", run["id"]
    )["error"]
    backfilled = _rows(client, db)
    assert len(backfilled) == 7
    assert (
        client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0] == 0
    )  # only attributions were written
    client.command(f"TRUNCATE TABLE `{db}`.experiment_attributions")
    ingest_bytes(client, bf_runtime.settings, CORPUS.read_bytes(), source_file="f", source_etag=None, ingest_path="t")
    assert _rows(client, db) == backfilled
