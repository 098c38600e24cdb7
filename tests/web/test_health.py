"""GET /healthz reports both stores with versions, and 503 when one is down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from xolap.web.app import create_app


def test_healthz_ok(runtime):
    body = TestClient(create_app(runtime)).get("/healthz").json()
    assert body["ok"] is True
    assert body["clickhouse"]["ok"] and body["clickhouse"]["version"].count(".") >= 2
    assert body["postgres"]["ok"] and body["postgres"]["version"].startswith("16")


def test_healthz_503_when_postgres_is_unreachable(runtime):
    runtime.settings = runtime.settings.model_copy(update={"database_url": "postgresql://nobody:x@127.0.0.1:1/none"})
    response = TestClient(create_app(runtime)).get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["postgres"]["ok"] is False and body["clickhouse"]["ok"] is True


def test_migrations_api_requires_admin_token(runtime):
    client = TestClient(create_app(runtime))
    assert client.post("/api/v1/admin/clickhouse/migrations", json={"action": "status"}).status_code == 401
    bad = client.post("/api/v1/admin/clickhouse/migrations", json={"action": "status"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 403
    ok = client.post(
        "/api/v1/admin/clickhouse/migrations",
        json={"action": "status"},
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert ok.status_code == 200 and all(row["applied"] for row in ok.json()["status"])
