"""JSONEachRow and Parquet backfills carry already-mapped raw_events rows: columns are matched by name, missing
ones (inserted_at, event_version) take their defaults."""

from __future__ import annotations

import pytest
from bf_support import upload_bundles

from xolap.backfill import runner, service
from xolap.backfill.s3paths import object_url, s3_function
from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES


@pytest.mark.parametrize("fmt", ["Parquet", "JSONEachRow"])
def test_mapped_rows_round_trip(bf_runtime, s3, bucket, fmt):
    upload_bundles(s3, bucket, "xapi/", files=2, lines=7)
    first = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**")
    assert runner.execute_manual_run(bf_runtime, first["id"]) == "completed"
    client, db = bf_runtime.clickhouse(), bf_runtime.settings.clickhouse_database
    export = s3_function(
        bf_runtime.settings, object_url(bf_runtime.settings, bucket, f"export/rows.{fmt.lower()}"), fmt
    )
    client.command(
        f"INSERT INTO FUNCTION {export} SELECT {', '.join(MAPPED_COLUMN_NAMES)} FROM `{db}`.raw_events FINAL"
    )
    client.command(f"CREATE TABLE `{db}`.copy AS `{db}`.raw_events")
    run = service.create_manual_run(
        bf_runtime, s3_pattern=f"s3://{bucket}/export/rows.{fmt.lower()}", format=fmt.lower(), target_table="copy"
    )
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed", service.get_run(
        bf_runtime, "manual", run["id"]
    )["error"]
    assert service.get_run(bf_runtime, "manual", run["id"])["rows_written"] == 14
    cols = ", ".join(MAPPED_COLUMN_NAMES)
    original = client.query(f"SELECT {cols} FROM `{db}`.raw_events FINAL ORDER BY event_hash").result_rows
    copied = client.query(f"SELECT {cols} FROM `{db}`.copy FINAL ORDER BY event_hash").result_rows
    assert copied == original
