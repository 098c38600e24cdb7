"""Slows password guessing without locking anyone out: a backoff per (email, client address), so an attacker at one
address slows only themselves, and a cap on failures per address across all emails. An "address" is an IPv4
address or an IPv6 /64 (xolap.store.login_attempts.address_group), so rotating through one's /64 gains nothing. Counts come from the failed
logins recorded in Postgres (xolap.store.login_attempts), so they hold across restarts and processes.

Per (email, address): the first FREE_ATTEMPTS failures in WINDOW cost nothing; then each further attempt must wait
BASE_BACKOFF_SECONDS × 2^(failures − FREE_ATTEMPTS) after the newest failure, at most MAX_BACKOFF_SECONDS. A
successful login from that address starts the count again. Per address: MAX_FAILURES_PER_ADDRESS failures in WINDOW
(any emails) refuse further attempts from it until the oldest of them leaves the window. Attempts for one (email,
address) run one at a time (xolap.store.login_attempts.claim_attempt), so parallel guesses cannot outrun the count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from xolap.store import login_attempts

WINDOW = timedelta(minutes=15)
FREE_ATTEMPTS = 5
BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 15 * 60
MAX_FAILURES_PER_ADDRESS = 100


def backoff_seconds(failures: int) -> int:
    """The wait after the newest of `failures` failures for one email from one address."""
    if failures < FREE_ATTEMPTS:
        return 0
    return min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** min(failures - FREE_ATTEMPTS, 32))


@dataclass(frozen=True)
class Verdict:
    """Whether a login attempt may go ahead now; when not, how long to wait and a message for the person."""

    retry_after: int = 0
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def check(session: Session, email: str, client_address: str) -> Verdict:
    """May this email be tried from this address now? (One query: login_attempts.recent_failures.)"""
    counts = login_attempts.recent_failures(session, email, client_address, WINDOW, MAX_FAILURES_PER_ADDRESS)
    address_wait = math.ceil(counts.address_wait_s)
    if address_wait > 0:
        return Verdict(
            address_wait, f"Too many failed logins from this address: try again in {_minutes(address_wait)}."
        )
    pair_wait = math.ceil(backoff_seconds(counts.pair_failures) - counts.since_newest_s)
    if pair_wait > 0:
        return Verdict(pair_wait, f"Too many failed logins for this account: try again in {_minutes(pair_wait)}.")
    return Verdict()
