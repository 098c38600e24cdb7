"""Ranked charts of scopes with few rows: read unranked under a row cap, ranked in Python, else the ranked SQL.

A chart that ranks its rows in SQL (learners at risk: flags over a median window, an order and a limit) spends most
of a small scope's answer planning that ranking (~3.5 ms of ~10 ms on the median 5M section, docs/rollups.md), while
the rows themselves are a few dozen. Such a chart (Category.unranked_sql and Category.rank) is read unranked with the
result row cap lowered to SMALL_SCOPE_ROWS and ranked in Python to the same rows. A scope with more rows than that
(its read comes back truncated) is answered by the chart's ranked SQL instead, and remembered as large, so later
answers go straight to the ranked SQL. The cap only ever lowers the configured result row limit.
"""

from __future__ import annotations

import threading

from xolap.analytics.executor import Limits

# Rows (learners) up to which a scope is ranked in Python: sorting and flagging 1,000 rows in Python is ~2 ms, about
# what the ranked SQL's planning costs; above that the ranked SQL is cheaper.
SMALL_SCOPE_ROWS = 1_000
# Scopes remembered as large (per database, scope and id); when full the memo starts again (a scope found large again
# costs one unranked read more).
LARGE_SCOPE_ENTRIES = 4_096

_large: set[tuple[str, str, int, str]] = set()
_lock = threading.Lock()


def capped(limits: Limits) -> Limits:
    """The limits of an unranked read: the result row cap lowered to SMALL_SCOPE_ROWS (never raised)."""
    return limits.replace(max_result_rows=min(limits.max_result_rows, SMALL_SCOPE_ROWS))


def known_large(database: str, scope: str, scope_id: int, key: str) -> bool:
    """Whether this chart's unranked read of the scope was over the cap before (answer it with the ranked SQL)."""
    return (database, scope, scope_id, key) in _large


def remember_large(database: str, scope: str, scope_id: int, key: str) -> None:
    with _lock:
        if len(_large) >= LARGE_SCOPE_ENTRIES:
            _large.clear()
        _large.add((database, scope, scope_id, key))
