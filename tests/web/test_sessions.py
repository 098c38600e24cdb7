"""Server-side sessions: the cookie carries a random id stored only hashed; logout, password changes, idle and
absolute expiry and "sign out" on the account page end a session at once, through the real app and Postgres."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, text

from xolap.store import accounts
from xolap.store.models import WebSession
from xolap.web.app import create_app
from xolap.web.sessions import SESSION_COOKIE

JSON = {"Accept": "application/json"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client: TestClient, email: str = "ada@example.org", password: str = "correct horse"):
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response


def browser(app, agent: str = "Firefox/1", address: str = "10.1.0.1") -> TestClient:
    return TestClient(app, headers={"User-Agent": agent}, client=(address, 40000))


@pytest.fixture()
def app(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "ada@example.org", password="correct horse")
        accounts.create_user(session, "root@example.org", password="correct horse", is_admin=True)
        session.commit()
    return create_app(runtime)


def _rows(runtime) -> list[WebSession]:
    with runtime.sessions() as session:
        return list(session.execute(select(WebSession).order_by(WebSession.id)).scalars())


def test_logout_revokes_the_session_so_a_copied_cookie_stops_working(app):
    client = browser(app)
    login(client)
    stolen = client.cookies.get(SESSION_COOKIE)
    assert client.get("/account", headers=JSON).status_code == 200
    token = csrf_of(client.get("/account").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/account", headers=JSON).status_code == 401


def test_cookie_carries_only_a_random_id_stored_hashed_with_login_details(runtime, app):
    client = browser(app, agent="Mozilla/5.0 Test", address="10.1.0.7")
    login(client)
    raw = client.cookies.get(SESSION_COOKIE)
    payload = URLSafeTimedSerializer("unused").loads_unsafe(raw)[1]
    assert set(payload) == {"sid"} and len(payload["sid"]) >= 32
    [row] = _rows(runtime)
    assert row.id_hash == hashlib.sha256(payload["sid"].encode()).hexdigest()
    assert payload["sid"] not in (row.id_hash, row.user_agent, row.client_address)
    assert row.user_agent == "Mozilla/5.0 Test" and row.client_address == "10.1.0.7"
    assert row.revoked_at is None and row.expires_at > row.created_at and row.last_seen_at is not None


def test_login_rotates_the_session_id(runtime, app):
    client = browser(app)
    client.get("/login")
    before = client.cookies.get(SESSION_COOKIE)
    login(client)
    assert client.cookies.get(SESSION_COOKIE) != before


@pytest.mark.parametrize("column, age", [("last_seen_at", "13 hours"), ("expires_at", "1 second")])
def test_idle_and_absolute_expiry(runtime, app, column, age):
    client = browser(app)
    login(client)
    assert client.get("/account", headers=JSON).status_code == 200
    with runtime.sessions() as session:
        session.execute(text(f"UPDATE web_sessions SET {column} = now() - interval '{age}'"))
        session.commit()
    assert client.get("/account", headers=JSON).status_code == 401


def test_recent_activity_keeps_the_session_alive(runtime, app):
    client = browser(app)
    login(client)
    with runtime.sessions() as session:
        session.execute(text("UPDATE web_sessions SET last_seen_at = now() - interval '11 hours'"))
        session.commit()
    assert client.get("/account", headers=JSON).status_code == 200
    [row] = _rows(runtime)
    with runtime.sessions() as session:
        age = session.execute(text("SELECT now() - last_seen_at < interval '1 minute' FROM web_sessions")).scalar_one()
    assert age is True and row.revoked_at is None


def test_account_lists_sessions_and_signs_out_one_of_them(runtime, app):
    laptop, phone = browser(app, "Laptop/1", "10.1.0.1"), browser(app, "Phone/2", "10.1.0.2")
    login(laptop)
    login(phone)
    listed = laptop.get("/account", headers=JSON).json()["sessions"]
    assert [(s["user_agent"], s["client_address"], s["current"]) for s in listed] == [
        ("Laptop/1", "10.1.0.1", True),
        ("Phone/2", "10.1.0.2", False),
    ]
    assert all(s["created_at"] and s["last_seen_at"] for s in listed)
    page = laptop.get("/account").text
    assert "Phone/2" in page and "this session" in page and "Sign out everywhere" in page
    phone_id = listed[1]["id"]
    token = csrf_of(page)
    assert laptop.post(f"/account/sessions/{phone_id}/revoke", headers=JSON).status_code == 403  # CSRF still guards
    done = laptop.post(f"/account/sessions/{phone_id}/revoke", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert phone.get("/account", headers=JSON).status_code == 401
    assert laptop.get("/account", headers=JSON).status_code == 200
    assert laptop.post("/account/sessions/999999/revoke", data={"csrf_token": token}, headers=JSON).status_code == 404


def test_a_user_cannot_sign_out_someone_elses_session(runtime, app):
    ada, root = browser(app), browser(app)
    login(ada)
    login(root, "root@example.org")
    root_id = root.get("/account", headers=JSON).json()["sessions"][0]["id"]
    token = csrf_of(ada.get("/account").text)
    assert ada.post(f"/account/sessions/{root_id}/revoke", data={"csrf_token": token}, headers=JSON).status_code == 404
    assert root.get("/account", headers=JSON).status_code == 200


def test_sign_out_everywhere_ends_every_session_but_not_api_tokens(runtime, app):
    with runtime.sessions() as session:
        _row, api_token = accounts.create_token(session, accounts.get_user(session, "ada@example.org"), "nb")
        session.commit()
    first, second = browser(app), browser(app)
    login(first)
    login(second)
    token = csrf_of(first.get("/account").text)
    assert (
        first.post("/account/sessions/revoke-all", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert first.get("/account", headers=JSON).status_code == 401
    assert second.get("/account", headers=JSON).status_code == 401
    assert all(row.revoked_at is not None for row in _rows(runtime))
    bearer = {"Authorization": f"Bearer {api_token}", **JSON}
    assert TestClient(app).get("/account", headers=bearer).json()["sessions"] == []


def test_an_admin_password_reset_ends_the_users_sessions(runtime, app):
    client = browser(app)
    login(client)
    with runtime.sessions() as session:
        accounts.set_password(session, accounts.get_user(session, "ada@example.org"), "a new password")
        session.commit()
    assert client.get("/account", headers=JSON).status_code == 401
    assert login(client, password="a new password").status_code == 303
    assert client.get("/account", headers=JSON).status_code == 200


def test_deleted_user_sessions_go_with_the_user(runtime, app):
    client = browser(app)
    login(client)
    with runtime.sessions() as session:
        session.delete(accounts.get_user(session, "ada@example.org"))
        session.commit()
    assert client.get("/account", headers=JSON).status_code == 401
    assert _rows(runtime) == []


def test_disabling_a_user_ends_sessions_and_tokens_at_once_and_refuses_login(runtime, app):
    with runtime.sessions() as session:
        ada = accounts.get_user(session, "ada@example.org")
        api_token = accounts.create_token(session, ada, "nb")[1]
        ada_id = ada.id
        session.commit()
    user, admin = browser(app), browser(app, address="10.1.0.9")
    login(user)
    login(admin, "root@example.org")
    bearer = {"Authorization": f"Bearer {api_token}", **JSON}
    assert TestClient(app).get("/api/v1/me", headers=bearer).status_code == 200
    token = csrf_of(admin.get(f"/admin/users/{ada_id}").text)
    done = admin.post(
        f"/admin/users/{ada_id}/disabled", data={"disabled": "true", "csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert user.get("/account", headers=JSON).status_code == 401
    assert TestClient(app).get("/api/v1/me", headers=bearer).status_code == 403
    assert admin.get(f"/admin/users/{ada_id}", headers=JSON).json()["disabled"] is True
    refused = browser(app, address="10.1.0.3")
    page = refused.get("/login")
    response = refused.post(
        "/login",
        data={"email": "ada@example.org", "password": "correct horse", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert {r.revoked_reason for r in _rows(runtime) if r.user_id == ada_id} == {"user disabled"}
    admin.post(f"/admin/users/{ada_id}/disabled", data={"disabled": "false", "csrf_token": token})
    assert login(refused).status_code == 303
    assert TestClient(app).get("/api/v1/me", headers=bearer).status_code == 200


def test_an_admin_can_sign_a_user_out_of_every_browser(runtime, app):
    laptop, phone, admin = browser(app), browser(app), browser(app, address="10.1.0.9")
    login(laptop)
    login(phone)
    login(admin, "root@example.org")
    with runtime.sessions() as session:
        ada_id = accounts.get_user(session, "ada@example.org").id
    assert admin.get(f"/admin/users/{ada_id}", headers=JSON).json()["sessions"] == 2
    token = csrf_of(admin.get(f"/admin/users/{ada_id}").text)
    ended = admin.post(f"/admin/users/{ada_id}/sessions/revoke", data={"csrf_token": token}, headers=JSON).json()
    assert ended == {"ok": True, "ended": 2}
    assert laptop.get("/account", headers=JSON).status_code == 401 and phone.get("/", headers=JSON).status_code == 401
    assert admin.get("/account", headers=JSON).status_code == 200


def test_a_password_set_elsewhere_drops_old_sessions_from_the_list(runtime, app):
    old, current = browser(app), browser(app)
    login(old)
    with runtime.sessions() as session:
        accounts.set_password(session, accounts.get_user(session, "ada@example.org"), "a new password")
        session.commit()
    login(current, password="a new password")
    assert len(current.get("/account", headers=JSON).json()["sessions"]) == 1
