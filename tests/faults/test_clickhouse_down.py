"""ClickHouse unreachable (a server-mode DSN pointing at a closed port): health says down naming ClickHouse with
the error, API routes answer 503 with a JSON message (never a 500 trace), a backfill attempt fails visibly, and
the next attempt against a working ClickHouse loads every event exactly once."""

from __future__ import annotations

import time

import pytest
from bf_support import count_events, raw_rows, upload_bundles
from fastapi.testclient import TestClient
from faults_support import report, within
from pydantic import SecretStr

from xolap.analytics.health import component_health
from xolap.backfill import runner, service
from xolap.runtime import Runtime
from xolap.web.app import create_app

pytestmark = pytest.mark.faults
TOKEN = "faults-admin-token"


def test_clickhouse_unreachable_is_visible_and_loses_nothing(bf_runtime, s3, bucket, closed_port):
    settings = bf_runtime.settings.model_copy(update={"admin_token": SecretStr(TOKEN)})
    up = Runtime(settings)
    down = Runtime(settings.model_copy(update={"clickhouse_url": f"http://default:@127.0.0.1:{closed_port}"}))
    upload_bundles(s3, bucket, "xapi/", files=2, lines=30)
    run = service.create_manual_run(up, s3_pattern=f"s3://{bucket}/xapi/**")

    started = time.monotonic()
    health = component_health(down)
    visible_after = time.monotonic() - started
    assert (health["ok"], health["status"]) == (False, "down") and "clickhouse" in health["down"]
    assert str(closed_port) in health["components"]["clickhouse"]["last_error"]

    api = TestClient(create_app(down), raise_server_exceptions=False)
    assert api.get("/healthz").status_code == 503
    answer = api.post(
        "/api/v1/admin/clickhouse/migrations", json={"action": "status"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["component"] == "clickhouse" and "Traceback" not in answer.text

    kind, _value, elapsed = within(60, lambda: runner.execute_manual_run(down, run["id"], final_attempt=False))
    assert kind == "raised" and elapsed < 60
    record = service.get_run(up, "manual", run["id"])
    assert record["status"] == "pending" and "ClickHouse" in record["error"] and str(closed_port) in record["error"]

    assert runner.execute_manual_run(up, run["id"]) == "completed"
    assert component_health(up)["components"]["clickhouse"]["ok"] is True
    assert (count_events(up), raw_rows(up)) == (60, 60)
    report(
        "ClickHouse unreachable (health; backfill attempt)",
        max(visible_after, elapsed),
        60 - count_events(up),
        raw_rows(up) - 60,
    )
