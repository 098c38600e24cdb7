"""`xolap serve` freezes its start-up objects: later full collections do not walk them, start-up garbage is freed."""

from __future__ import annotations

import gc
import weakref

from xolap.serve import freeze_startup_objects


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_startup_objects_are_frozen_and_startup_garbage_is_collected_first():
    import xolap.web.app  # noqa: F401  (what serve has imported when it freezes)

    kept = [_Node() for _ in range(50_000)]
    cycle = _Node()
    garbage = weakref.ref(cycle)
    del cycle
    try:
        assert freeze_startup_objects() >= len(kept)
        assert garbage() is None  # collected before the freeze, not kept forever
        assert not any(o is kept[0] for o in gc.get_objects())  # no longer in a generation the collector walks
    finally:
        gc.unfreeze()
