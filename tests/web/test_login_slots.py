"""A burst of sign-ins waits for a login slot holding no Postgres connection: while the password slots are busy, at
most LOGIN_SLOTS logins hold a connection, the others wait on the event loop, and every login of the burst signs in
once the password work frees. Through a real server, one user per login (one attempt at a time per email)."""

from __future__ import annotations

import re
import threading
import time
from contextlib import ExitStack

import httpx
import pytest

from web.test_authz import LiveServer
from xolap.store import accounts
from xolap.web import login_slots
from xolap.web.app import create_app

BURST = login_slots.LOGIN_SLOTS + 4
PASSWORD = "burst pass 1"
PATIENCE_S = 30.0


@pytest.fixture()
def burst(runtime):
    with runtime.sessions() as session:
        for n in range(BURST):
            accounts.create_user(session, f"learner{n}@example.org", password=PASSWORD)
        session.commit()
    with LiveServer(create_app(runtime)) as live:
        yield runtime, f"http://127.0.0.1:{live.port}"


def sign_in(base: str, email: str, answers: dict[str, int], together: threading.Barrier) -> None:
    with httpx.Client(base_url=base, timeout=PATIENCE_S * 2, follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        together.wait(PATIENCE_S)  # every login page served (none holds a connection) before the burst is sent
        response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        answers[email] = response.status_code
        if response.status_code == 303:
            answers[email] = client.get("/account", headers={"Accept": "application/json"}).status_code


def test_a_burst_of_logins_waits_for_password_work_without_holding_connections(burst):
    runtime, base = burst
    pool = runtime.sessions.kw["bind"].pool
    answers: dict[str, int] = {}
    together = threading.Barrier(BURST)
    with ExitStack() as held:
        for _ in range(accounts.PASSWORD_WORK_SLOTS):  # every password slot busy, as while other logins hash
            accounts._password_work.acquire()
            held.callback(accounts._password_work.release)
        threads = [
            threading.Thread(target=sign_in, args=(base, f"learner{n}@example.org", answers, together), daemon=True)
            for n in range(BURST)
        ]
        for thread in threads:
            thread.start()
        deadline, most_held = time.monotonic() + PATIENCE_S, 0
        # until the whole burst has arrived (admitted or waiting for a slot), or a login beyond the slots holds a
        # connection (without slots, each login takes one and waits for a password slot while holding it)
        while time.monotonic() < deadline:
            most_held = max(most_held, pool.checkedout())
            if most_held > login_slots.LOGIN_SLOTS or login_slots.occupancy() == (
                login_slots.LOGIN_SLOTS,
                BURST - login_slots.LOGIN_SLOTS,
            ):
                break
            time.sleep(0.01)
        most_held = max(most_held, pool.checkedout())
        assert most_held <= login_slots.LOGIN_SLOTS, f"{most_held} connections held by a burst of {BURST} logins"
        assert login_slots.occupancy() == (login_slots.LOGIN_SLOTS, BURST - login_slots.LOGIN_SLOTS)
    for thread in threads:
        thread.join(PATIENCE_S)
    assert answers == {f"learner{n}@example.org": 200 for n in range(BURST)}
