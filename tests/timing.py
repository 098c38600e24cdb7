"""Timing helpers for tests that bound how long a call takes: what they measure is the call, not the process's past."""

from __future__ import annotations

import gc
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
    steps, not how long a loaded machine takes between them. It has only monotonic(): any other use fails loudly."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
