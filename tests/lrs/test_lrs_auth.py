"""The /xAPI front door: HTTP Basic LRS credentials, the version header, scopes, revocation; /xAPI/about."""

from __future__ import annotations

from lrs_support import V103, basic, lrs_client, new_credential
from xolap.lrs import credentials


def test_about_needs_no_credentials_and_lists_versions(runtime):
    client, _, _ = lrs_client(runtime)
    response = client.get("/xAPI/about")
    assert response.status_code == 200
    assert "1.0.3" in response.json()["version"] and "2.0.0" in response.json()["version"]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_basic_auth_is_required_and_checked(runtime):
    client, auth, cred = lrs_client(runtime)
    missing = client.get("/xAPI/statements", headers=V103)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = client.get("/xAPI/statements", headers=basic(cred.key, "not-the-secret") | V103)
    assert wrong.status_code == 401
    garbage = client.get("/xAPI/statements", headers={"Authorization": "Basic %%%"} | V103)
    assert garbage.status_code == 401
    assert client.get("/xAPI/statements", headers=auth).status_code == 200
    browser = client.get("/xAPI/statements", headers=V103 | {"Accept": "text/html"})
    assert browser.status_code == 401 and "LRS credentials" in browser.json()["message"]


def test_version_header_required_supported_and_echoed(runtime):
    client, auth, _ = lrs_client(runtime)
    without = {k: v for k, v in auth.items() if k != "X-Experience-API-Version"}
    missing = client.get("/xAPI/statements", headers=without)
    assert missing.status_code == 400 and "X-Experience-API-Version" in missing.json()["detail"]
    assert client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "0.95"}).status_code == 400
    assert client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "3.0.0"}).status_code == 400
    ok = client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "1.0.1"})
    assert ok.status_code == 200 and ok.headers["X-Experience-API-Version"] == "1.0.3"
    two = client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "2.0.0"})
    assert two.headers["X-Experience-API-Version"] == "2.0.0"
    assert missing.headers["X-Experience-API-Version"] == "1.0.3"


def test_revoked_credential_stops_at_once_and_secret_is_stored_hashed(runtime):
    client, auth, cred = lrs_client(runtime)
    assert client.get("/xAPI/statements", headers=auth).status_code == 200
    with runtime.sessions() as session:
        stored = session.get(credentials.LrsCredentialRecord, cred.id)
        assert auth["Authorization"] not in stored.secret_hash and len(stored.secret_hash) == 64
        assert credentials.revoke(session, cred.key)
        session.commit()
    assert client.get("/xAPI/statements", headers=auth).status_code == 401


def test_read_only_credential_may_not_write(runtime):
    client, auth, _ = lrs_client(runtime, scopes=["read-all"])
    response = client.post(
        "/xAPI/statements",
        headers=auth,
        json={
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.com/a"},
        },
    )
    assert response.status_code == 403


def test_unknown_scope_is_refused(runtime):
    import pytest

    with pytest.raises(credentials.CredentialError, match="scope"):
        new_credential(runtime, scopes=["everything"])


def test_a_refused_version_is_answered_in_the_version_the_credential_last_spoke(runtime):
    """A request without (or with an unsupported) X-Experience-API-Version is refused (400) in the version its
    credential last spoke with a supported header: the 1.0.3 and the 2.0.0 conformance suites send that same request
    and each wants its own version back. A new credential, and a request without credentials, get 1.0.3."""
    client, auth, cred = lrs_client(runtime)
    without = {k: v for k, v in auth.items() if k != "X-Experience-API-Version"}
    other, other_secret = new_credential(runtime, name="other")
    assert client.get("/xAPI/statements", headers=without).headers["X-Experience-API-Version"] == "1.0.3"
    assert client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "2.0"}).status_code == 200
    for headers in (without, without | {"X-Experience-API-Version": "3.0.0"}):
        for method in ("GET", "POST", "PUT"):
            refused = client.request(method, "/xAPI/statements", headers=headers, json={})
            assert refused.status_code == 400 and refused.headers["X-Experience-API-Version"] == "2.0.0", method
    fresh = client.get("/xAPI/statements", headers=basic(other.key, other_secret))
    assert fresh.status_code == 400 and fresh.headers["X-Experience-API-Version"] == "1.0.3"
    wrong_secret = client.get("/xAPI/statements", headers=basic(cred.key, "not-the-secret"))
    assert wrong_secret.status_code == 401 and wrong_secret.headers["X-Experience-API-Version"] == "1.0.3"
    assert client.get("/xAPI/about").headers["X-Experience-API-Version"] == "1.0.3"
    assert client.get("/xAPI/statements", headers=without | {"X-Experience-API-Version": "1.0.3"}).status_code == 200
    assert client.get("/xAPI/statements", headers=without).headers["X-Experience-API-Version"] == "1.0.3"


def test_web_sessions_and_api_tokens_do_not_open_the_lrs(runtime):
    """docs/lrs.md: a signed-in browser, a user's API token and the admin token are all refused (401) by /xAPI; only
    LRS credentials open it."""
    import re

    from xolap.store import accounts

    client, auth, _cred = lrs_client(runtime)
    with runtime.sessions() as session:
        user = accounts.create_user(session, "admin@example.org", password="correct horse", is_admin=True)
        _token, api_token = accounts.create_token(session, user)
        session.commit()
    page = client.get("/login")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    signed_in = client.post(
        "/login",
        data={"email": "admin@example.org", "password": "correct horse", "csrf_token": csrf, "next": "/"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and client.get("/account").status_code == 200  # the session works
    assert client.get("/xAPI/statements", headers=V103).status_code == 401
    for bearer in (api_token, runtime.admin_token):
        works = client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {bearer}"})
        assert works.status_code == 200  # the token opens the JSON API
        refused = client.get("/xAPI/statements", headers=V103 | {"Authorization": f"Bearer {bearer}"})
        assert refused.status_code == 401
    client.cookies.clear()
    assert client.get("/xAPI/statements", headers=auth).status_code == 200
