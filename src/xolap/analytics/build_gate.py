"""Rollup builds at once, at most one per core, the smallest waiting build first (xolap.analytics.rollups).

A build is CPU work of 0.2-3 s (docs/rollups.md). When many first visits arrive together (a cold server, a deploy that
changed the rollup definitions) every one of their builds running at once shares the cores, so each finishes only
when nearly all of them have: every first dashboard waits for the whole batch. Here at most `slots` builds run and a
slot that frees goes to the smallest waiting build (its events counted beforehand by the builder), so a small
section's first visit waits for little more than its own build, not for the largest sections' builds. A build that
has waited max_wait_s, or that max_passes builds which arrived after it were given a slot before, goes next (arrival
order among those), so a large scope waits behind a bounded number of smaller builds however many keep arriving; one
that waited overflow_s runs beside the holders (builds have no time limit: a stuck one must not stop every other
build). A reader asks with wait=False: it gets a slot only when one is free now and no build waits, else none (it
answers from the raw events meanwhile: xolap.analytics.categories.registry), so no page waits behind other scopes'
builds.
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
MAX_PASSES = 6


@dataclass
class _Waiter:
    size: int
    arrived: float
    order: int
    passed: int = 0  # builds that arrived after this one and were given a slot before it
    turn: threading.Event = field(default_factory=threading.Event)


class BuildGate:
    """At most `slots` holders at once; a freed slot is handed to the smallest waiter (the earliest-arrived one once it
    has waited max_wait_s or been passed max_passes times; arrival order among equals)."""

    def __init__(
        self, slots: int, max_wait_s: float = MAX_WAIT_S, overflow_s: float = OVERFLOW_S, max_passes: int = MAX_PASSES
    ) -> None:
        if slots < 1:
            raise ValueError("a build gate needs at least one slot")
        self.slots = slots
        self.max_wait_s = max_wait_s
        self.overflow_s = overflow_s
        self.max_passes = max_passes
        self._busy = 0
        self._waiting: list[_Waiter] = []
        self._lock = threading.Lock()
        self._order = itertools.count()

    @contextmanager
    def slot(self, size: int, *, wait: bool = True) -> Iterator[bool]:
        """Hold a slot for a build of about `size` events, waiting for one while all are taken; yields True. With
        wait=False a slot is taken only when one is free now and no build waits, else none is: yields False."""
        if wait:
            self._acquire(size)
        elif not self._take_free():
            yield False
            return
        try:
            yield True
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

    def _take_free(self) -> bool:
        with self._lock:
            if self._busy < self.slots and not self._waiting:
                self._busy += 1
                return True
            return False

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
            due = [w for w in self._waiting if w.arrived <= aged or w.passed >= self.max_passes]
            chosen = min(due, key=lambda w: w.order) if due else min(self._waiting, key=lambda w: (w.size, w.order))
            self._waiting.remove(chosen)
            for waiter in self._waiting:
                if waiter.order < chosen.order:
                    waiter.passed += 1
        chosen.turn.set()


def default_slots() -> int:
    """One build per core (each build's statements use the query's threads; more at once only share the cores)."""
    return max(1, os.cpu_count() or 1)


builds = BuildGate(default_slots())  # the process's gate, taken by rollups._checked_builds around each build
