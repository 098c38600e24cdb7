"""Backfill admin pages: forms with field-level errors, run lists, actions, run page, chunk-log paging (infinite
scroll) and the live SSE stream resuming after Last-Event-ID, through the real service and Postgres."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from xolap.backfill.models import ChunkLog, InventoryBatch
from xolap.store import accounts, flags
from xolap.web.app import create_app

JSON = {"Accept": "application/json"}


@pytest.fixture()
def admin(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.BULK_INGEST, True)
        session.commit()
    client = TestClient(create_app(runtime))
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"email": "root@example.org", "password": "admin password", "csrf_token": csrf})
    client.headers["X-CSRF-Token"] = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/account").text
    ).group(1)
    return client


def test_backfill_needs_the_bulk_flag(runtime, admin):
    with runtime.sessions() as session:
        flags.set_flag(session, flags.BULK_INGEST, False)
        session.commit()
    response = admin.get("/admin/clickhouse/backfill", headers=JSON)
    assert response.status_code == 403 and "clickhouse-olap-bulk-ingest" in response.json()["detail"]


def test_manual_form_shows_field_errors_and_keeps_input(admin):
    empty = admin.post("/admin/clickhouse/backfill/manual", data={"s3_pattern": ""})
    assert empty.status_code == 422 and 'id="s3_pattern-error"' in empty.text and "required" in empty.text
    bad = admin.post(
        "/admin/clickhouse/backfill/manual",
        data={"s3_pattern": "s3://bucket/x/*.jsonl", "target_table": "no such;table", "clickhouse_settings": "x"},
    )
    assert bad.status_code == 422
    assert "line 1: expected name = value" in bad.text
    assert 'value="s3://bucket/x/*.jsonl"' in bad.text  # the good input is kept
    settings_error = admin.post(
        "/admin/clickhouse/backfill/manual",
        data={"s3_pattern": "s3://bucket/x/*.jsonl", "clickhouse_settings": "readonly = 1"},
        headers=JSON,
    )
    assert settings_error.status_code == 422
    assert "managed by the backfill worker" in settings_error.json()["errors"]["clickhouse_settings"]
    table_error = admin.post(
        "/admin/clickhouse/backfill/manual",
        data={"s3_pattern": "s3://bucket/x/*.jsonl", "target_table": "no such;table"},
        headers=JSON,
    )
    assert "is not a table name" in table_error.json()["errors"]["target_table"]


def test_inventory_form_validates_numbers_and_dates(admin):
    response = admin.post(
        "/admin/clickhouse/backfill/inventory",
        data={"manifest_url": "", "chunk_size": "many", "max_simultaneous_batches": "2"},
        headers=JSON,
    )
    errors = response.json()["errors"]
    assert response.status_code == 422 and set(errors) == {"manifest_url", "chunk_size"}
    dates = admin.post(
        "/admin/clickhouse/backfill/inventory",
        headers=JSON,
        data={
            "manifest_url": "s3://inv/src/cfg/2026-01-01T00-00Z/manifest.json",
            "date_from": "2026-02-01",
            "date_to": "2026-01-01",
        },
    )
    assert dates.status_code == 422 and "date_from must be before date_to" in str(dates.json()["errors"])


def test_manual_run_lifecycle_and_live_stream_resume(admin):
    created = admin.post(
        "/admin/clickhouse/backfill/manual",
        data={"s3_pattern": "s3://bucket/events/*.jsonl", "clickhouse_settings": "max_insert_threads = 2"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    run_url = created.headers["location"]
    run_id = int(run_url.rsplit("/", 1)[1])
    listed = admin.get("/admin/clickhouse/backfill?tab=manual", headers=JSON).json()["runs"]
    assert [r["id"] for r in listed] == [run_id] and listed[0]["clickhouse_settings"] == {"max_insert_threads": 2}
    page = admin.get(run_url)
    assert page.status_code == 200 and f'data-events="/api/v1/backfill/runs/manual/{run_id}/events"' in page.text
    assert "/static/js/backfill.js" in page.text and 'data-action="cancel"' in page.text
    assert admin.post(f"/admin/clickhouse/backfill/runs/manual/{run_id}/pause", headers=JSON).status_code == 400
    assert (
        admin.post(f"/admin/clickhouse/backfill/runs/manual/{run_id}/cancel", headers=JSON).json()["status"]
        == "cancelled"
    )
    # The stream (cookie-authenticated, as the browser's EventSource) replays the journal, then ends.
    stream = admin.get(f"/api/v1/backfill/runs/manual/{run_id}/events").text
    ids = [int(i) for i in re.findall(r"^id: (\d+)$", stream, re.M)]
    assert "event: status" in stream and "event: end" in stream and len(ids) >= 2
    resumed = admin.get(f"/api/v1/backfill/runs/manual/{run_id}/events", headers={"Last-Event-ID": str(ids[-1])}).text
    assert re.findall(r"^id: ", resumed, re.M) == [] and "event: end" in resumed
    assert admin.get(run_url, headers=JSON).json()["last_event_id"] == ids[-1]
    deleted = admin.post(f"/admin/clickhouse/backfill/runs/manual/{run_id}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"].endswith("tab=manual")
    assert admin.get(run_url, headers=JSON).status_code == 404


def test_chunk_log_pages_back_for_infinite_scroll(runtime, admin):
    created = admin.post(
        "/admin/clickhouse/backfill/inventory",
        headers=JSON,
        data={"manifest_url": "s3://inv/src/cfg/2026-01-01T00-00Z/manifest.json", "chunk_size": "10"},
    )
    assert created.status_code == 200, created.text
    run_id = created.json()["id"]
    with runtime.sessions() as session:
        batch = InventoryBatch(
            run_id=run_id, sequence=1, inventory_key="inv/data/a.csv.gz", status="running", metadata_={}
        )
        session.add(batch)
        session.flush()
        session.add_all(
            [
                ChunkLog(batch_id=batch.id, chunk_index=i, status="completed", keys=[f"k{i}"], rows_written=i)
                for i in range(7)
            ]
        )
        session.commit()
        batch_id = batch.id
    url = f"/admin/clickhouse/backfill/batches/{batch_id}/chunks"
    latest = admin.get(url, params={"limit": 3}, headers=JSON).json()
    assert [c["chunk_index"] for c in latest["chunks"]] == [4, 5, 6] and latest["has_older"]
    older = admin.get(url, params={"limit": 3, "before": 4}, headers=JSON).json()
    assert [c["chunk_index"] for c in older["chunks"]] == [1, 2, 3]
    oldest = admin.get(url, params={"limit": 3, "before": 1}, headers=JSON).json()
    assert [c["chunk_index"] for c in oldest["chunks"]] == [0] and not oldest["has_older"]
    html = admin.get(url, params={"limit": 2}).text
    assert html.index('data-chunk="6"') < html.index('data-chunk="5"')  # newest first
    page = admin.get(f"/admin/clickhouse/backfill/runs/inventory/{run_id}")
    assert f'data-batch="{batch_id}"' in page.text and 'id="chunk-log"' in page.text
    assert admin.get("/admin/clickhouse/backfill/batches/999999/chunks", headers=JSON).status_code == 404
