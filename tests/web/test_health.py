"""GET /healthz: anonymous callers get only up/down; admins get both stores with versions; 503 when one is down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from xolap.store import accounts
from xolap.web.app import create_app


def test_healthz_anonymous_says_only_up(runtime):
    response = TestClient(create_app(runtime)).get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_non_admin_token_says_only_up(runtime):
    with runtime.sessions() as session:
        user = accounts.create_user(session, "ada@example.org", password="correct horse")
        token = accounts.create_token(session, user)[1]
        session.commit()
    response = TestClient(create_app(runtime)).get("/healthz", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"status": "ok"}


def test_healthz_admin_gets_details(runtime):
    headers = {"Authorization": f"Bearer {runtime.admin_token}"}
    body = TestClient(create_app(runtime)).get("/healthz", headers=headers).json()
    assert body["status"] == "ok" and body["ok"] is True
    assert body["clickhouse"]["ok"] and body["clickhouse"]["version"].count(".") >= 2
    assert body["postgres"]["ok"] and body["postgres"]["version"].startswith("16")


def test_healthz_503_when_postgres_is_unreachable(runtime):
    runtime.settings = runtime.settings.model_copy(update={"database_url": "postgresql://nobody:x@127.0.0.1:1/none"})
    client = TestClient(create_app(runtime))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "down"}
    # a (stale) session cookie must not turn a down database into a 500
    client.cookies.set("xolap_session", "not-a-valid-cookie")
    assert client.get("/healthz").status_code == 503
    body = client.get("/healthz", headers={"Authorization": f"Bearer {runtime.admin_token}"}).json()
    assert body["status"] == "down" and body["postgres"]["ok"] is False and body["clickhouse"]["ok"] is True


def test_migrations_api_requires_admin_token(runtime):
    client = TestClient(create_app(runtime))
    assert client.post("/api/v1/admin/clickhouse/migrations", json={"action": "status"}).status_code == 401
    bad = client.post(
        "/api/v1/admin/clickhouse/migrations", json={"action": "status"}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 403
    ok = client.post(
        "/api/v1/admin/clickhouse/migrations",
        json={"action": "status"},
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert ok.status_code == 200 and all(row["applied"] for row in ok.json()["status"])


def test_anonymous_callers_learn_no_software_version(runtime):
    import xolap

    client = TestClient(create_app(runtime))
    openapi = client.get("/openapi.json")
    assert openapi.status_code == 200 and xolap.__version__ not in openapi.text
    assert openapi.json()["info"]["version"] == "v1"
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404  # CDN pages: off
