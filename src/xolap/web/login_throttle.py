"""Slows password guessing: after too many failed logins for one email (or from one address) in a window, further
attempts are refused with 429 until the window passes. In memory, per process (xolap serves from one process)."""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50


class LoginThrottle:
    def __init__(self, window: float = WINDOW_SECONDS, per_account: int = MAX_FAILURES_PER_ACCOUNT,
                 per_address: int = MAX_FAILURES_PER_ADDRESS):
        self.window, self.per_account, self.per_address = window, per_account, per_address
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in ((f"account:{email.strip().lower()}", self.per_account), (f"address:{address}", self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(int(times[len(times) - limit] + self.window - now) + 1)
            return max(waits, default=0)

    def failed(self, email: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"account:{email.strip().lower()}", f"address:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(f"account:{email.strip().lower()}", None)
