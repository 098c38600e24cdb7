"""Throttling without lockout: backoff per email + client address, a cap per address, failed logins recorded in
Postgres (never the password) and shown to admins; through the real app with clients at different addresses."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from xolap.store import accounts, login_attempts
from xolap.store.models import FailedLogin, WebSession
from xolap.web import login_throttle
from xolap.web.app import create_app

JSON = {"Accept": "application/json"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def at(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def attempt(client: TestClient, email: str, password: str):
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )


@pytest.fixture()
def app(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "ada@example.org", password="correct horse")
        accounts.create_user(session, "root@example.org", password="correct horse", is_admin=True)
        session.commit()
    return create_app(runtime)


def test_an_attacker_elsewhere_cannot_lock_the_real_user_out(runtime, app):
    attacker, user = at(app, "203.0.113.66"), at(app, "10.2.0.1")
    statuses = [attempt(attacker, "ada@example.org", f"guess {i}").status_code for i in range(25)]
    assert statuses.count(429) >= 15  # the attacker's own address is slowed down
    assert attempt(user, "ada@example.org", "correct horse").status_code == 303
    assert user.get("/account", headers=JSON).status_code == 200
    # and the attacker keeps being refused while the real user is in
    assert attempt(attacker, "Ada@Example.org", "correct horse").status_code == 429


def test_backoff_grows_for_one_email_and_address_and_says_when(runtime, app):
    client = at(app, "10.2.0.9")
    free = login_throttle.FREE_ATTEMPTS
    for i in range(free):
        assert attempt(client, "ada@example.org", f"wrong {i}").status_code == 400
    blocked = attempt(client, "ada@example.org", "correct horse")
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    assert int(blocked.headers["Retry-After"]) >= 1
    assert attempt(client, "other@example.org", "some guess").status_code == 400  # other emails: own counter
    # once the wait has passed (failures moved back in time), one more try is allowed
    with runtime.sessions() as session:
        session.execute(text("UPDATE failed_logins SET attempted_at = attempted_at - interval '10 minutes'"))
        session.commit()
    assert attempt(client, "ada@example.org", "correct horse").status_code == 303


def test_wait_doubles_and_is_capped():
    waits = [login_throttle.backoff_seconds(login_throttle.FREE_ATTEMPTS + n) for n in range(40)]
    assert waits[0] > 0 and waits[1] == 2 * waits[0] and waits == sorted(waits)
    assert max(waits) == login_throttle.MAX_BACKOFF_SECONDS
    assert login_throttle.backoff_seconds(login_throttle.FREE_ATTEMPTS - 1) == 0


def test_one_address_trying_many_emails_hits_the_address_cap(runtime, app):
    client, elsewhere = at(app, "198.51.100.5"), at(app, "10.2.0.3")
    cap = login_throttle.MAX_FAILURES_PER_ADDRESS
    with runtime.sessions() as session:  # the cap's worth of failures, each for a different email
        session.add_all(
            [
                FailedLogin(
                    email=f"u{i}@example.org",
                    client_address="198.51.100.5",
                    address_group="198.51.100.5",
                    reason="unknown email",
                )
                for i in range(cap)
            ]
        )
        session.commit()
    refused = attempt(client, "ada@example.org", "correct horse")
    assert refused.status_code == 429 and "this address" in refused.text
    assert attempt(elsewhere, "ada@example.org", "correct horse").status_code == 303


def test_failed_logins_are_recorded_without_the_password(runtime, app):
    client = at(app, "10.2.0.4")
    attempt(client, "ada@example.org", "hunter2-secret")
    attempt(client, "nobody@example.org", "other-secret")
    assert attempt(client, "ada@example.org", "correct horse").status_code == 303
    with runtime.sessions() as session:
        rows = list(session.execute(select(FailedLogin).order_by(FailedLogin.id)).scalars())
        dump = " ".join(str(v) for r in rows for v in vars(r).values())
        success = session.execute(select(WebSession)).scalar_one()
    assert [(r.email, r.client_address, r.reason) for r in rows] == [
        ("ada@example.org", "10.2.0.4", "wrong password"),
        ("nobody@example.org", "10.2.0.4", "unknown email"),
    ]
    assert all(r.attempted_at is not None for r in rows)
    assert "secret" not in dump
    assert success.client_address == "10.2.0.4"  # the successful login is on the session record


def test_admins_see_failed_logins_page_and_json_others_do_not(runtime, app):
    attempt(at(app, "10.2.0.5"), "ada@example.org", "wrong pw 1")
    admin = at(app, "10.2.0.6")
    assert attempt(admin, "root@example.org", "correct horse").status_code == 303
    body = admin.get("/admin/logins", headers=JSON).json()
    assert [(r["email"], r["client_address"], r["reason"]) for r in body["failed_logins"]] == [
        ("ada@example.org", "10.2.0.5", "wrong password")
    ]
    page = admin.get("/admin/logins")
    assert page.status_code == 200 and "10.2.0.5" in page.text and "wrong password" in page.text
    attempt(at(app, "10.2.0.55"), "nobody@example.org", "wrong pw 2")
    assert len(admin.get("/admin/logins", headers=JSON).json()["failed_logins"]) == 2
    by_email = admin.get("/admin/logins", params={"email": " ADA@example.org"}, headers=JSON).json()["failed_logins"]
    by_address = admin.get("/admin/logins", params={"address": "10.2.0.55"}, headers=JSON).json()["failed_logins"]
    assert [r["client_address"] for r in by_email] == ["10.2.0.5"] and [r["email"] for r in by_address] == [
        "nobody@example.org"
    ]
    user = at(app, "10.2.0.7")
    assert attempt(user, "ada@example.org", "correct horse").status_code == 303
    assert user.get("/admin/logins", headers=JSON).status_code == 403
    assert TestClient(app).get("/admin/logins", headers=JSON).status_code == 401


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.org\x00",
        "\x00",
        "a" * 10_000 + "@example.org",
        "ad\u202ea@example.org",
        "' OR 1=1 --",
        "\ud800@x.org".encode("utf-8", "surrogatepass").decode("latin-1"),
    ],
)
def test_hostile_emails_are_refused_cleanly_and_recorded_cleaned(runtime, app, email):
    response = attempt(at(app, "10.2.0.8"), email, "whatever pw")
    assert response.status_code == 400
    with runtime.sessions() as session:
        stored = session.execute(select(FailedLogin.email)).scalar_one()
    assert "\x00" not in stored and len(stored) <= 320


def test_parallel_guesses_cannot_outrun_the_backoff(runtime, app):
    """Many simultaneous attempts for one email from one address: only the free attempts are ever checked."""
    from concurrent.futures import ThreadPoolExecutor

    free = login_throttle.FREE_ATTEMPTS
    clients = [at(app, "203.0.113.77") for _ in range(12)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]

    def guess(i: int) -> int:
        return (
            clients[i]
            .post(
                "/login",
                data={"email": "ada@example.org", "password": f"guess {i}", "csrf_token": tokens[i]},
                follow_redirects=False,
            )
            .status_code
        )

    for _ in range(2):  # two rounds of 12 at once, against a budget of FREE_ATTEMPTS checked guesses
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(guess, range(12)))
        assert set(statuses) <= {400, 429}
    with runtime.sessions() as session:
        checked = session.execute(
            text("SELECT count(*) FROM failed_logins WHERE reason = 'wrong password'")
        ).scalar_one()
    assert checked <= free, f"{checked} passwords were checked, more than the {free} free attempts"


def test_rotating_ipv6_addresses_within_one_network_does_not_reset_the_backoff(runtime, app):
    free = login_throttle.FREE_ATTEMPTS
    for i in range(free):
        assert attempt(at(app, f"2001:db8:1:2::{i + 1:x}"), "ada@example.org", f"guess {i}").status_code == 400
    assert attempt(at(app, "2001:db8:1:2:ffff::99"), "ada@example.org", "correct horse").status_code == 429
    assert attempt(at(app, "2001:db8:1:3::1"), "ada@example.org", "correct horse").status_code == 303  # another /64
    with runtime.sessions() as session:
        addresses = {row.client_address for row in session.execute(select(FailedLogin)).scalars()}
    assert "2001:db8:1:2::1" in addresses  # the admin view keeps the exact address
    group = login_attempts.address_group
    assert group("2001:db8:1:2:aaaa::1") == group("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    assert group("10.0.0.1") == "10.0.0.1" and group("::ffff:10.0.0.1") == "10.0.0.1"
    assert group("testclient") == "testclient" and group("x" * 500) == "x" * 64
