"""Login, sessions, CSRF, API tokens and the admin bearer token, through the real app and a real Postgres."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from xolap.store import accounts
from xolap.web.app import create_app
from xolap.web.sessions import SESSION_COOKIE


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client: TestClient, email: str, password: str, next_url: str = "/"):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text), "next": next_url},
        follow_redirects=False,
    )


@pytest.fixture()
def app_client(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "ada@example.org", password="correct horse")
        session.commit()
    return TestClient(create_app(runtime), base_url="http://testserver")


def test_login_sets_secure_session_and_logout_ends_it(app_client):
    response = login(app_client, "Ada@Example.org", "correct horse", "/account")
    assert response.status_code == 303 and response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    me = app_client.get("/account", headers={"Accept": "application/json"}).json()
    assert me["me"]["email"] == "ada@example.org" and me["me"]["via"] == "session"
    token = csrf_of(app_client.get("/account").text)
    assert app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert app_client.get("/account", headers={"Accept": "application/json"}).status_code == 401


def test_wrong_password_and_unknown_user_are_refused_alike(app_client):
    for email, password in (("ada@example.org", "wrong password"), ("nobody@example.org", "correct horse")):
        response = login(app_client, email, password)
        assert response.status_code == 400 and "Wrong email or password" in response.text
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"


def test_login_without_csrf_token_is_refused(app_client):
    app_client.get("/login")
    response = app_client.post(
        "/login", data={"email": "ada@example.org", "password": "correct horse"}, follow_redirects=False
    )
    assert response.status_code == 403 and "CSRF token missing or invalid" in response.text


def test_form_post_needs_the_sessions_csrf_token(app_client):
    login(app_client, "ada@example.org", "correct horse")
    assert app_client.post("/account/tokens", data={"name": "x"}).status_code == 403
    assert app_client.post("/account/tokens", data={"name": "x", "csrf_token": "forged"}).status_code == 403
    token = csrf_of(app_client.get("/account").text)
    assert app_client.post("/account/tokens", data={"name": "x"}, headers={"X-CSRF-Token": token}).status_code == 201


def test_open_redirect_after_login_is_blocked(app_client):
    response = login(app_client, "ada@example.org", "correct horse", "//evil.example.org/x")
    assert response.headers["location"] == "/"


def test_tampered_session_cookie_is_anonymous(app_client):
    login(app_client, "ada@example.org", "correct horse")
    value = app_client.cookies.get(SESSION_COOKIE)
    app_client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert app_client.get("/account", headers={"Accept": "application/json"}).status_code == 401


def test_password_change_ends_other_sessions(runtime, app_client):
    login(app_client, "ada@example.org", "correct horse")
    other = TestClient(app_client.app)
    login(other, "ada@example.org", "correct horse")
    token = csrf_of(app_client.get("/account").text)
    changed = app_client.post(
        "/account/password",
        data={"current": "correct horse", "new": "battery staple", "csrf_token": token},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert app_client.get("/account", headers={"Accept": "application/json"}).status_code == 200
    assert other.get("/account", headers={"Accept": "application/json"}).status_code == 401


def test_api_token_is_hashed_works_once_created_and_dies_when_deleted(runtime, app_client):
    with runtime.sessions() as session:
        user = accounts.get_user(session, "ada@example.org")
        row, plaintext = accounts.create_token(session, user, "nb")
        session.commit()
        assert row.token_hash == accounts.hash_token(plaintext) and plaintext not in row.token_hash
    bearer = {"Authorization": f"Bearer {plaintext}", "Accept": "application/json"}
    body = app_client.get("/account", headers=bearer).json()
    assert body["me"]["via"] == "api_token" and body["tokens"][0]["last_used_at"] is not None
    # bearer requests need no CSRF token
    assert app_client.post("/account/tokens", data={"name": "y"}, headers=bearer).status_code == 201
    assert app_client.post(f"/account/tokens/{row.id}/delete", headers=bearer).status_code == 200
    assert app_client.get("/account", headers=bearer).status_code == 403


def test_admin_bearer_token_is_an_admin_without_account(runtime, app_client):
    body = app_client.get(
        "/", headers={"Authorization": f"Bearer {runtime.admin_token}", "Accept": "application/json"}
    ).json()
    assert body["me"]["is_admin"] is True and body["me"]["via"] == "admin_token"


def test_json_api_for_accounts_with_an_admin_api_token(runtime, app_client):
    with runtime.sessions() as session:
        from xolap.store.models import Project, Section

        session.add_all(
            [
                Project(id=7, slug="physics"),
                Section(id=11, slug="phys-a", project_id=7),
                Section(id=12, slug="phys-b", project_id=7),
            ]
        )
        root = accounts.create_user(session, "root@example.org", is_admin=True)
        admin_token = accounts.create_token(session, root)[1]
        session.commit()
    admin = {"Authorization": f"Bearer {admin_token}"}
    created = app_client.post(
        "/api/v1/admin/users", json={"email": "ines@example.org", "password": "short"}, headers=admin
    )
    assert created.status_code == 422 and "at least 8" in created.json()["detail"]
    user_id = app_client.post("/api/v1/admin/users", json={"email": "ines@example.org"}, headers=admin).json()["id"]
    grant = app_client.post(f"/api/v1/admin/users/{user_id}/grants", json={"section": "phys-a"}, headers=admin)
    assert grant.status_code == 201 and grant.json()["section_id"] == 11
    token = app_client.post(f"/api/v1/admin/users/{user_id}/tokens", json={"name": "nb"}, headers=admin).json()["token"]
    assert (
        app_client.put("/api/v1/admin/flags", json={"name": "nope", "enabled": True}, headers=admin).status_code == 422
    )
    assert (
        app_client.put(
            "/api/v1/admin/flags",
            json={"name": "instructor_dashboard_analytics", "enabled": True, "section": "phys-a"},
            headers=admin,
        ).json()["scope_id"]
        == 11
    )
    imported = app_client.post(
        "/api/v1/admin/scopes/import",
        json=[{"kind": "section", "id": 12, "title": "B"}, {"kind": "section", "id": "x"}],
        headers=admin,
    ).json()
    assert imported["updated"] == 1 and imported["errors"] == ["request.json: item 2: id: not an integer ('x')"]
    mine = app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert mine["email"] == "ines@example.org" and [s["slug"] for s in mine["sections"]] == ["phys-a"]
    assert mine["sections"][0]["enabled"] is False  # clickhouse-olap is still off
    assert app_client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert app_client.get("/api/v1/sections").status_code == 401


def test_browsers_get_an_html_403_page_and_json_clients_json(runtime, app_client):
    login(app_client, "ada@example.org", "correct horse")
    page = app_client.get("/admin/users")
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "administrators only" in page.text and "Not allowed" in page.text
    body = app_client.get("/admin/users", headers={"Accept": "application/json"})
    assert body.status_code == 403 and body.json() == {"detail": "administrators only"}


def test_session_cookie_is_secure_over_https(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "sec@example.org", password="correct horse")
        session.commit()
    client = TestClient(create_app(runtime), base_url="https://testserver")
    response = login(client, "sec@example.org", "correct horse")
    cookie = response.headers["set-cookie"]
    assert response.status_code == 303 and "Secure" in cookie and "HttpOnly" in cookie


def test_repeated_failed_logins_are_throttled(app_client):
    """The same browser guessing one account is slowed down (backoff per email + address: tests/web/test_login_throttle.py)."""
    from xolap.web.login_throttle import FREE_ATTEMPTS

    for _ in range(FREE_ATTEMPTS):
        assert login(app_client, "ada@example.org", "wrong password").status_code == 400
    blocked = login(app_client, "ada@example.org", "correct horse")
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    assert login(app_client, "other@example.org", "whatever pw").status_code == 400  # other accounts unaffected


@pytest.mark.parametrize(
    "path", ["/sections/physics-fall/analytics/summary", "/projects/intro-physics/analytics/summary"]
)
def test_a_part_of_a_page_asked_for_without_a_session_says_signed_out_instead_of_the_login_page(app_client, path):
    """htmx follows a redirect and swapped the whole login page into the dashboard's summary; a page itself is still
    sent to the login page."""
    answer = app_client.get(path, headers={"HX-Request": "true", "Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 401 and "signed out" in answer.json()["detail"]
    page = app_client.get(path.removesuffix("/summary"), follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
