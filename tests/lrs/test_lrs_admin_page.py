"""/admin/lrs: an admin creates a credential (secret shown once, works at /xAPI at once) and revokes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lrs_support import V103, basic
from xolap.web.app import create_app


def test_admin_creates_and_revokes_a_credential(runtime):
    client = TestClient(create_app(runtime))
    admin = {"Authorization": f"Bearer {runtime.admin_token}", "Accept": "application/json"}
    created = client.post("/admin/lrs/credentials", headers=admin, data={"name": "moodle", "scopes": ["write"]})
    assert created.status_code == 201
    key, secret = created.json()["created"]["key"], created.json()["created"]["secret"]
    lrs = basic(key, secret) | V103
    assert client.get("/xAPI/statements", headers=lrs).status_code == 200
    listed = client.get("/admin/lrs", headers=admin).json()["credentials"]
    assert [c["key"] for c in listed] == [key] and "secret" not in listed[0]
    assert (
        client.post("/admin/lrs/credentials", headers=admin, data={"name": "x", "scopes": ["all"]}).status_code == 400
    )
    assert (
        client.post("/admin/lrs/credentials", headers=admin, data={"name": "x", "section": "nope"}).status_code == 400
    )
    assert client.post(f"/admin/lrs/credentials/{key}/revoke", headers=admin).status_code == 200
    assert client.get("/xAPI/statements", headers=lrs).status_code == 401
    assert client.post("/admin/lrs/credentials/lrs_unknown/revoke", headers=admin).status_code == 404
    page = client.get("/admin/lrs", headers={"Authorization": f"Bearer {runtime.admin_token}"})
    assert page.status_code == 200 and key in page.text
