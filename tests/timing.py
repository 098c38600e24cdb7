"""Timing helpers for tests that bound how long a call takes: what they measure is the call, not the process's past."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_on_new_objects_only() -> Iterator[None]:
    """Run the block with every object made before it out of the garbage collector's reach (gc.freeze).

    A full collection walks every tracked object of the process: after a worker has run ~1,000 tests that is
    100-300 ms of CPU, charged to whichever call happens to allocate past the threshold. Inside this block the
    collector still runs and still walks what the block itself allocates, so a call's own garbage stays in its cost.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class ManualClock:
    """A monotonic clock that moves only when the test moves it, put in place of a module's `time`
    (monkeypatch.setattr(module, "time", clock)): the ages and deadlines that module computes then follow the test's
    steps, not how long a loaded machine takes between them. It has only monotonic(): any other use fails loudly.

    It starts at the real clock's reading, so what the module stored before the test keeps its true age (a clock
    starting elsewhere made entries of earlier tests look fresh forever), and catch_up() at the test's end waits
    until the real clock has passed every reading it gave, so nothing stored during the test lies in the future of
    the tests after it.
    """

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def catch_up(self) -> None:
        time.sleep(max(0.0, self.now - time.monotonic()))


@contextmanager
def manual_clock(monkeypatch, module) -> Iterator[ManualClock]:
    """A ManualClock as `module.time` for the block, caught up with by the real clock when the block ends."""
    clock = ManualClock()
    monkeypatch.setattr(module, "time", clock)
    try:
        yield clock
    finally:
        clock.catch_up()
