"""S3 refused or silent during a backfill: the attempt fails within a minute with a readable cause (not retried
for ever inside the ClickHouse query), health names S3 with the error, and once S3 is back the run completes with
every event exactly once."""

from __future__ import annotations

import logging

import pytest
from bf_support import count_events, raw_rows, upload_bundles
from faults_support import report, within

from xolap.analytics.health import component_health
from xolap.backfill import runner, service
from xolap.backfill.chunk_sql import S3_BOUNDS
from xolap.backfill.chunking import plan_chunks
from xolap.runtime import Runtime

pytestmark = pytest.mark.faults
FILES, LINES = 3, 50
VISIBLE_WITHIN_S = 60
# A silent S3 costs a multiple of s3_request_timeout_ms (chunk_sql.S3_BOUNDS). The silent case sets a quarter of the
# production timeout through the run's own clickhouse_settings (the same statements, which put the run's settings
# over the bounds) and must then be visible within the same quarter of VISIBLE_WITHIN_S; the refused case runs with
# the production bounds as they are.
SILENT_TIMEOUT_MS = S3_BOUNDS["s3_request_timeout_ms"] // 4


def _at(runtime: Runtime, endpoint: str) -> Runtime:
    return Runtime(runtime.settings.model_copy(update={"s3_endpoint_url": endpoint}))


@pytest.mark.parametrize("fault", ["refused", "silent"])
def test_s3_down_fails_the_attempt_visibly_then_the_retry_loads_exactly(fault, request, bf_runtime, s3, bucket, caplog):
    port = request.getfixturevalue("closed_port" if fault == "refused" else "silent_port")
    upload_bundles(s3, bucket, "xapi/", files=FILES, lines=LINES)
    silent_bounds = {"s3_request_timeout_ms": SILENT_TIMEOUT_MS} if fault == "silent" else {}
    visible_within = (
        VISIBLE_WITHIN_S * SILENT_TIMEOUT_MS / S3_BOUNDS["s3_request_timeout_ms"] if silent_bounds else VISIBLE_WITHIN_S
    )
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**", clickhouse_settings=silent_bounds)
    down = _at(bf_runtime, f"http://127.0.0.1:{port}")

    caplog.set_level(logging.WARNING, logger="xolap")
    kind, value, elapsed = within(
        VISIBLE_WITHIN_S + 5, lambda: runner.execute_manual_run(down, run["id"], final_attempt=False)
    )
    assert kind == "raised", f"S3 {fault}: attempt {kind} after {elapsed:.0f} s"  # a retried attempt re-raises
    assert elapsed < visible_within
    record = service.get_run(bf_runtime, "manual", run["id"])
    cause = "Connection refused" if fault == "refused" else "Timeout"
    assert record["status"] == "pending" and "will retry" in record["error"] and cause in record["error"], record[
        "error"
    ]
    assert "S3_ERROR" in record["error"] and "testing" not in record["error"]
    lines = [r.getMessage() for r in caplog.records if f"manual run {run['id']}" in r.getMessage()]
    assert len(lines) == 1 and cause in lines[0]  # one log line for the failed attempt

    health = component_health(down)
    assert health["components"]["s3"]["ok"] is False and health["components"]["s3"]["last_error"]
    assert (health["ok"], health["status"], health["down"]) == (True, "degraded", ["s3"])  # S3 degrades, not down

    if fault == "refused":  # (the silent case would take another half minute)
        # Final attempt while still down: the run shows failed with the cause; the operator retries it later.
        kind, value, _ = within(
            VISIBLE_WITHIN_S + 5, lambda: runner.execute_manual_run(down, run["id"], final_attempt=True)
        )
        assert (kind, value) == ("returned", "failed")
        assert cause in service.get_run(bf_runtime, "manual", run["id"])["error"]
        service.retry_run(bf_runtime, "manual", run["id"])

    # S3 back: the next attempt loads every event once.
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    assert component_health(bf_runtime)["components"]["s3"]["ok"] is True
    expected = FILES * LINES
    assert (count_events(bf_runtime), raw_rows(bf_runtime)) == (expected, expected)
    report(
        f"S3 {fault} (manual run attempt)",
        elapsed,
        expected - count_events(bf_runtime),
        raw_rows(bf_runtime) - expected,
    )


def test_s3_refused_inside_an_inventory_chunk_is_bounded(bf_runtime, s3, bucket, closed_port):
    keys = upload_bundles(s3, bucket, "xapi/", files=2, lines=5)
    chunk = plan_chunks([(bucket, k) for k in keys], 2)[0]
    down = _at(bf_runtime, f"http://127.0.0.1:{closed_port}")
    kind, value, elapsed = within(
        VISIBLE_WITHIN_S + 5,
        lambda: runner.run_chunk(
            down.settings,
            run_id=1,
            batch_id=1,
            chunk=chunk,
            target_table=f"{bf_runtime.settings.clickhouse_database}.raw_events",
            fmt="JSONAsString",
            ch_settings={},
        ),
    )
    assert kind == "raised" and elapsed < VISIBLE_WITHIN_S and "Connection refused" in str(value)
    assert raw_rows(bf_runtime) == 0
    report("S3 refused (inventory chunk)", elapsed, 0, 0)
