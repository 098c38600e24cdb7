"""Through the real app: a user whose hash predates the current argon2 parameters signs in, the hash is replaced with
one at the current parameters, and the browser they were already signed in with stays signed in."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher, extract_parameters, profiles
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from web.test_auth import login
from xolap.store import accounts
from xolap.store.models import User, WebSession
from xolap.web.app import create_app

PASSWORD = "correct horse"
OLDER = profiles.CHEAPEST  # any parameters other than the current ones (a real former hash costs ~200 ms of CPU)


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def test_signing_in_replaces_an_older_hash_and_keeps_the_other_browser_signed_in(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "ada@example.org", password=PASSWORD)
        session.commit()
    app = create_app(runtime)
    laptop, phone = TestClient(app, base_url="http://testserver"), TestClient(app, base_url="http://testserver")
    assert login(laptop, "ada@example.org", PASSWORD).status_code == 303
    older = PasswordHasher.from_parameters(OLDER).hash(PASSWORD)
    with runtime.sessions() as session:  # as if the laptop had signed in before the parameters changed
        session.execute(update(User).values(password_hash=older))
        session.execute(update(WebSession).values(password_fingerprint=fingerprint(older)))
        session.commit()
    assert laptop.get("/account", headers={"Accept": "application/json"}).status_code == 200
    assert login(phone, "ada@example.org", PASSWORD).status_code == 303
    with runtime.sessions() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    assert extract_parameters(stored) == accounts.PASSWORD_PARAMETERS
    for browser in (laptop, phone):
        assert browser.get("/account", headers={"Accept": "application/json"}).status_code == 200
    assert login(TestClient(app, base_url="http://testserver"), "ada@example.org", "wrong horse").status_code == 400
