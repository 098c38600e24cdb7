"""Rollup builds at once, at most one per core, the smallest waiting build first (xolap.analytics.rollups).

A build is CPU work of 0.2-3 s (docs/rollups.md). When many first visits arrive together (a cold server, a deploy that
changed the rollup definitions) every one of their builds running at once shares the cores, so each finishes only
when nearly all of them have: every first dashboard waits for the whole batch. Here at most `slots` builds run and a
slot that frees goes to the smallest waiting build (its events counted beforehand by the builder), so a small
section's first visit waits for little more than its own build, not for the largest sections' builds. A build that
has waited max_wait_s goes before any smaller one, so a large scope is never passed over for good; one that waited
overflow_s runs beside the holders (builds have no time limit: a stuck one must not stop every other build).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MAX_WAIT_S = 20.0
OVERFLOW_S = 120.0


@dataclass
class _Waiter:
    size: int
    arrived: float
    order: int
    turn: threading.Event = field(default_factory=threading.Event)


class BuildGate:
    """At most `slots` holders at once; a freed slot is handed to the smallest waiter (the longest-waiting one once it
    has waited max_wait_s; arrival order among equals)."""

    def __init__(self, slots: int, max_wait_s: float = MAX_WAIT_S, overflow_s: float = OVERFLOW_S) -> None:
        if slots < 1:
            raise ValueError("a build gate needs at least one slot")
        self.slots = slots
        self.max_wait_s = max_wait_s
        self.overflow_s = overflow_s
        self._busy = 0
        self._waiting: list[_Waiter] = []
        self._lock = threading.Lock()
        self._order = itertools.count()

    @contextmanager
    def slot(self, size: int) -> Iterator[None]:
        """Hold a slot for a build of about `size` events (waiting for one while all are taken)."""
        self._acquire(size)
        try:
            yield
        finally:
            self._release()

    def busy(self) -> bool:
        """Whether a build asking now would wait (every slot taken, or builds already waiting)."""
        with self._lock:
            return bool(self._waiting) or self._busy >= self.slots

    def waiting(self) -> int:
        """How many builds wait for a slot now."""
        with self._lock:
            return len(self._waiting)

    def _acquire(self, size: int) -> None:
        with self._lock:
            if self._busy < self.slots and not self._waiting:
                self._busy += 1
                return
            waiter = _Waiter(size, time.monotonic(), next(self._order))
            self._waiting.append(waiter)
        if waiter.turn.wait(self.overflow_s):  # the releasing holder hands its slot over (the busy count stays)
            return
        with self._lock:
            if waiter in self._waiting:  # no slot came in time: run beside the holders
                self._waiting.remove(waiter)
                self._busy += 1
            # else a slot was handed over just now

    def _release(self) -> None:
        with self._lock:
            if not self._waiting:
                self._busy -= 1
                return
            aged = time.monotonic() - self.max_wait_s
            chosen = min(self._waiting, key=lambda w: (w.arrived > aged, w.size if w.arrived > aged else 0, w.order))
            self._waiting.remove(chosen)
        chosen.turn.set()


def default_slots() -> int:
    """One build per core (each build's statements use the query's threads; more at once only share the cores)."""
    return max(1, os.cpu_count() or 1)


builds = BuildGate(default_slots())  # the process's gate, taken by rollups._checked_builds around each build
