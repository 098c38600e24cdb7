"""No cyclic garbage collection while a batch of lines is mapped; the collector's state is restored afterwards.

Mapping a line makes no reference cycles (its statement is a tree, its row a tuple of plain values; tested in
tests/ingest/test_gc_pause.py), so everything it discards is freed by reference counting. The cyclic collector only
walks the rows a batch keeps until its Arrow table is built: ~70 young collections and one full one per 50,000 lines,
~1.5 us a line. Paused for one map_lines call, the rows are freed before it resumes and are never walked;
ingest_lines hands map_lines a batch's lines as they are read, so reading (no list of 50,000 line tuples to walk
either) is inside the pause too: ~1 us a line less again.

The pause is process-wide (the collector has no per-thread switch) and bounded by one batch: other threads' cyclic
garbage waits at most one batch's mapping (a second or so at 50,000 lines). Pauses may overlap (threads mapping at
the same time): the collector resumes when the last one ends, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # pauses under way
_resume = False  # the collector was enabled when the first of them began


@contextmanager
def collection_paused() -> Iterator[None]:
    """Within the block the cyclic collector does not run (reference counting still frees everything it can)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
