"""At most PASSWORD_WORK_SLOTS argon2 hashes run at once (each holds its memory cost and a core): a burst of logins no
longer multiplies the server's memory, and every answer is still right, for known and unknown users alike."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from xolap.store import accounts


class ConcurrencyWitness:
    """argon2's PasswordHasher, counting how many of its calls run at the same time."""

    def __init__(self, hasher):
        self.hasher = hasher
        self.lock = threading.Lock()
        self.running = self.peak = 0

    def _counted(self, action, *args):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return action(*args)
        finally:
            with self.lock:
                self.running -= 1

    def verify(self, *args):
        return self._counted(self.hasher.verify, *args)

    def hash(self, *args):
        return self._counted(self.hasher.hash, *args)

    def check_needs_rehash(self, *args):
        return self.hasher.check_needs_rehash(*args)


CORES = max(2, os.cpu_count() or 2)


def test_a_burst_of_password_checks_runs_a_few_at_a_time(monkeypatch):
    stored = accounts.hash_password("correct horse")
    witness = ConcurrencyWitness(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", witness)
    attempts = [(stored, "correct horse"), (stored, "wrong horse"), (None, "correct horse")] * 8
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        results = list(pool.map(lambda attempt: accounts.verify_password(*attempt), attempts))
    assert results == [True, False, False] * 8
    assert 1 < witness.peak <= CORES, f"{witness.peak} argon2 hashes at once on {CORES} cores"
    with ThreadPoolExecutor(max_workers=8) as pool:
        hashes = list(pool.map(accounts.hash_password, [f"password-{n}" for n in range(8)]))
    assert all(accounts.verify_password(h, f"password-{n}") for n, h in enumerate(hashes))
    assert witness.peak <= CORES
    memory = accounts.PASSWORD_PARAMETERS.memory_cost * accounts.PASSWORD_WORK_SLOTS
    assert memory <= max(accounts.PASSWORD_MEMORY_BUDGET_KIB, 2 * accounts.PASSWORD_PARAMETERS.memory_cost)
