"""Sign-ins take a slot before they take a worker thread, a Postgres connection and a transaction: at most LOGIN_SLOTS
logins work at once, the others wait on the event loop holding none of these.

A login's argon2 check runs in one of store.accounts.PASSWORD_WORK_SLOTS (one a core, ~22 ms each). Without login
slots, every login of a burst (a class arriving; all 50 users of bench/http_load signing in again within half a
second) took a thread, one of the pool's 20 connections and an open transaction, then queued for a password slot
while holding them. Measured at 5M events beside 49 users loading pages (loaded machine): the burst's logins waited
up to 3.1 s for a connection before their first statement, and the pages that read Postgres after a sign-in waited
behind them (dashboard page p95 2.5 s). The order of a login's work and what it checks are unchanged: a refused
login still costs the same argon2 work (store.accounts.authenticate), every login waits here alike.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from xolap.store import accounts

# per password slot, one login hashing while another makes its Postgres round trips
LOGIN_SLOTS = 2 * accounts.PASSWORD_WORK_SLOTS
# one set of slots per event loop (a server runs one; a test client may run one per request, and a waiter of one loop
# cannot be woken from another)
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def slots() -> anyio.CapacityLimiter:
    """The running event loop's login slots (created on its first login)."""
    loop = asyncio.get_running_loop()
    limiter = _slots.get(loop)
    if limiter is None:
        limiter = _slots[loop] = anyio.CapacityLimiter(LOGIN_SLOTS)
    return limiter


def occupancy() -> tuple[int, int]:
    """(logins working, logins waiting for a slot), over every event loop's slots."""
    stats = [limiter.statistics() for limiter in list(_slots.values())]
    return sum(s.borrowed_tokens for s in stats), sum(s.tasks_waiting for s in stats)


async def run_login(function: Callable[..., Any], *args: Any) -> Any:
    """function(*args) in the threadpool once a login slot is free."""
    async with slots():
        return await run_in_threadpool(function, *args)
