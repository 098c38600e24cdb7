"""Live events: NOTIFY payloads reach a listener in another connection; the SSE endpoint streams a run's events
with ids and resumes after Last-Event-ID without losing any."""

from __future__ import annotations

import json
import threading

from bf_support import upload_bundles, write_csv_manifest

from xolap.backfill import service
from xolap.backfill.events import MAX_PAYLOAD, listen


def test_listener_receives_status_and_chunk_events(bf_runtime, s3, bucket, drain):
    manifest = write_csv_manifest(
        s3, bucket, [[(bucket, k) for k in upload_bundles(s3, bucket, "xapi/", files=3, lines=5)]]
    )
    received: list[dict] = []
    listening = threading.Event()

    def collect() -> None:
        for payload in listen(bf_runtime.settings, tick=0.2, timeout=60):
            listening.set()  # its first item (a quiet tick's None) comes after LISTEN: no later NOTIFY is missed
            if payload is not None:
                received.append(payload)
                if payload["kind"] == "status" and payload.get("data", {}).get("status") == "completed":
                    return

    thread = threading.Thread(target=collect)
    thread.start()
    assert listening.wait(30), "the listener never listened"
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    drain()
    thread.join(60)
    mine = [p for p in received if p["run_kind"] == "inventory" and p["run_id"] == run["id"]]
    statuses = [p["data"]["status"] for p in mine if p["kind"] == "status"]
    assert statuses == ["pending", "preparing", "running", "completed"]
    chunks = [p["data"] for p in mine if p["kind"] == "chunk"]
    assert [(c["chunk_index"], c["status"]) for c in chunks] == [
        (0, "running"),
        (0, "completed"),
        (1, "running"),
        (1, "completed"),
    ]
    assert all(p["batch_id"] for p in mine if p["kind"] in ("chunk", "batch"))
    assert all(len(json.dumps(p)) < MAX_PAYLOAD for p in mine)
    assert [p["id"] for p in mine] == sorted(p["id"] for p in mine)


def _frames(text: str) -> list[dict]:
    frames = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if fields:
            frames.append(fields)
    return frames


def test_sse_streams_a_run_and_resumes_after_last_event_id(bf_runtime, s3, bucket, drain):
    from fastapi.testclient import TestClient

    from xolap.web.app import create_app

    upload_bundles(s3, bucket, "xapi/", files=2, lines=5)
    token = bf_runtime.admin_token
    client = TestClient(create_app(bf_runtime))
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/backfill/runs/manual", json={"s3_pattern": f"s3://{bucket}/xapi/**"}, headers=headers
    )
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert client.get(f"/api/v1/backfill/runs/manual/{run_id}/events").status_code == 401

    worker = threading.Timer(1.0, drain)
    worker.start()
    with client.stream("GET", f"/api/v1/backfill/runs/manual/{run_id}/events", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    worker.join()
    frames = _frames(body)
    events = [f for f in frames if "id" in f]
    statuses = [json.loads(f["data"])["data"]["status"] for f in events if f["event"] == "status"]
    assert statuses == ["pending", "running", "completed"]
    assert frames[-1]["event"] == "end" and json.loads(frames[-1]["data"]) == {"status": "completed"}
    ids = [int(f["id"]) for f in events]
    assert ids == sorted(ids)

    # A reconnect with Last-Event-ID gets exactly the events after it.
    with client.stream(
        "GET", f"/api/v1/backfill/runs/manual/{run_id}/events", headers={**headers, "Last-Event-ID": str(ids[0])}
    ) as response:
        again = [f for f in _frames("".join(response.iter_text())) if "id" in f]
    assert [int(f["id"]) for f in again] == ids[1:]

    listing = client.get("/api/v1/backfill/runs", headers=headers).json()
    assert [(r["kind"], r["id"], r["status"]) for r in listing] == [("manual", run_id, "completed")]
    assert client.post(f"/api/v1/backfill/runs/manual/{run_id}/pause", headers=headers).status_code == 409
    assert client.get("/api/v1/backfill/runs/inventory/999", headers=headers).status_code == 404
    bad = client.post(
        "/api/v1/backfill/runs/manual", json={"s3_pattern": "s3://bkt/x", "target_table": "a b"}, headers=headers
    )
    assert bad.status_code == 422 and "target_table" in bad.text
