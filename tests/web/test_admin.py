"""Admin pages through the real app: users and roles, tokens, flags, scopes (sync, import, rename), the ClickHouse
console with migrations (down needs confirmation), each as HTML and JSON."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from xolap.store import accounts, flags
from xolap.store.models import Membership, Project, Section
from xolap.web.app import create_app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture()
def admin(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        session.add_all([Project(id=7, slug="physics", title="Physics"), Section(id=11, slug="phys-a", title="A", project_id=7)])
        session.commit()
    client = TestClient(create_app(runtime))
    page = client.get("/login")
    client.post("/login", data={"email": "root@example.org", "password": "admin password", "csrf_token": csrf_of(page.text)})
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/account").text)
    return client


JSON = {"Accept": "application/json"}


def test_add_user_with_field_errors_then_grant_and_token(runtime, admin):
    bad = admin.post("/admin/users", data={"email": "nope", "password": "short"})
    assert bad.status_code == 400 and "invalid email address" in bad.text and "at least 8 characters" in bad.text
    created = admin.post("/admin/users", data={"email": "Ines@example.org", "password": "instructor pw"}, follow_redirects=False)
    assert created.status_code == 303
    user_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert admin.post("/admin/users", data={"email": "ines@example.org"}).status_code == 400
    wrong = admin.post(f"/admin/users/{user_id}/grant", data={"kind": "section", "ref": "nope"})
    assert wrong.status_code == 400 and "no section with id or slug" in wrong.text
    assert admin.post(f"/admin/users/{user_id}/grant", data={"kind": "section", "ref": "phys-a"}).status_code == 200
    assert admin.post(f"/admin/users/{user_id}/grant", data={"kind": "project", "ref": "7"}).status_code == 200
    token = admin.post(f"/admin/users/{user_id}/tokens", data={"name": "nb"}, headers=JSON)
    assert token.status_code == 201 and token.json()["token"].startswith("xolap_")
    detail = admin.get(f"/admin/users/{user_id}", headers=JSON).json()
    assert {(m["role"], m["slug"]) for m in detail["memberships"]} == {("instructor", "phys-a"), ("author", "physics")}
    assert "token" not in detail and detail["tokens"][0]["name"] == "nb"
    users = admin.get("/admin/users", headers=JSON).json()["users"]
    assert [u["email"] for u in users] == ["ines@example.org", "root@example.org"]
    membership = detail["memberships"][0]["id"]
    assert admin.post(f"/admin/users/{user_id}/memberships/{membership}/delete", headers=JSON).status_code == 200
    with runtime.sessions() as session:
        assert session.execute(select(Membership).where(Membership.id == membership)).first() is None
    # the admin cannot lock themselves out
    me = next(u for u in users if u["email"] == "root@example.org")
    assert admin.post(f"/admin/users/{me['id']}/admin", data={"is_admin": "false"}).status_code == 400


def test_flags_page_toggles_global_and_scoped(runtime, admin):
    assert admin.post("/admin/flags", data={"name": flags.ANALYTICS, "enabled": "true"}, follow_redirects=False).status_code == 303
    assert admin.post("/admin/flags", data={"name": flags.SECTION_DASHBOARD, "enabled": "true", "scope_type": "section",
                                            "scope": "phys-a"}).status_code == 200
    bad = admin.post("/admin/flags", data={"name": flags.ANALYTICS, "enabled": "true", "scope_type": "section", "scope": "11"})
    assert bad.status_code == 400 and "cannot be set per section" in bad.text
    listed = admin.get("/admin/flags", headers=JSON).json()["flags"]
    assert {"name": flags.SECTION_DASHBOARD, "scope_type": "section", "scope_id": 11, "enabled": True} in [
        {k: f[k] for k in ("name", "scope_type", "scope_id", "enabled")} for f in listed]
    with runtime.sessions() as session:
        assert flags.is_enabled(session, flags.ANALYTICS)
        assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)


def test_scopes_rename_import_and_sync(runtime, admin):
    taken = admin.post("/admin/scopes/section/11", data={"slug": "Bad Slug", "title": "x"})
    assert taken.status_code == 400 and "must be lowercase" in taken.text
    assert admin.post("/admin/scopes/section/11", data={"slug": "physics-a", "title": "Physics A"}, headers=JSON).json()["ok"]
    upload = admin.post("/admin/scopes/import", files={"file": ("names.csv", b"kind,id,slug,title,project_id\n"
                                                                            b"section,12,phys-b,Physics B,7\nsection,oops,,,\n")})
    assert upload.status_code == 200 and "names.csv:3: id: not an integer" in upload.text
    db = runtime.settings.clickhouse_database
    runtime.clickhouse().command(f"INSERT INTO `{db}`.raw_events (section_id, project_id, timestamp, event_type, verb_id, "
                                 f"event_hash) VALUES (11, 7, now64(3), 'x', 'v', 'a'), (13, 7, now64(3), 'x', 'v', 'b')")
    counts = admin.post("/admin/scopes/sync", headers=JSON).json()
    assert counts["sections_created"] == 1
    sections = {s["id"]: s["slug"] for s in admin.get("/admin/scopes", headers=JSON).json()["sections"]}
    assert sections == {11: "physics-a", 12: "phys-b", 13: "section-13"}


def test_clickhouse_console_needs_flag_and_down_needs_confirmation(runtime, admin):
    assert admin.get("/admin/clickhouse", headers=JSON).status_code == 403
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, True)
        session.commit()
    page = admin.get("/admin/clickhouse")
    assert page.status_code == 200 and "Migrations" in page.text and "Sample queries" in page.text
    data = admin.get("/admin/clickhouse", headers=JSON).json()
    assert data["ok"] and data["postgres"]["ok"] and data["pending_migrations"] == 0 and data["sample_queries"]
    applied = [m for m in data["migrations"] if m["applied"]]
    confirm = admin.post("/admin/clickhouse/migrations", data={"action": "down"})
    assert confirm.status_code == 409 and "Yes, migrate down" in confirm.text
    assert all(m["applied"] for m in admin.get("/admin/clickhouse", headers=JSON).json()["migrations"])
    down = admin.post("/admin/clickhouse/migrations", data={"action": "down", "confirm": "yes"}, headers=JSON).json()
    assert down["changed"] == [f"{applied[-1]['version']:04d}_{applied[-1]['name']}"]
    up = admin.post("/admin/clickhouse/migrations", data={"action": "up"}, headers=JSON).json()
    assert up["changed"] == down["changed"]


def test_multipart_upload_takes_the_csrf_token_from_the_form(runtime, admin):
    token = admin.headers.pop("X-CSRF-Token")
    files = {"file": ("names.json", b'[{"kind": "project", "id": 7, "title": "Physics 2"}]', "application/json")}
    assert admin.post("/admin/scopes/import", files=files).status_code == 403
    response = admin.post("/admin/scopes/import", files=files, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    with runtime.sessions() as session:
        assert session.get(Project, 7).title == "Physics 2"
