"""Rollup builds that failed and have not been built since, per database: what health shows of them.

A failed build records nothing (xolap.analytics.rollups writes a slice's rollup_slices row after all its rows), so no
reader uses its rows and the next read of the scope builds it again; this is what tells the operator it happened.
Errors are kept as the exception's type and ClickHouse error code, never its text, which may quote row values (a
learner's id). Per process and bounded (the most recent MAX_KEPT scopes of a database)."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from xolap.counted import counted

MAX_KEPT = 50
_NOTED = "_xolap_rollup_failure_noted"

_lock = threading.Lock()
_failed: dict[str, OrderedDict[tuple[str, int], Failure]] = {}


@dataclass(frozen=True)
class Failure:
    scope: str
    scope_id: int
    error: str
    at: float


def error_text(exc: BaseException) -> str:
    """The exception's type and ClickHouse error code: never its text."""
    code = re.search(r"Code:\s*(\d+)", str(exc))
    return f"{type(exc).__name__} (ClickHouse code {code.group(1)})" if code else type(exc).__name__


def failed(database: str, scope: str, scope_id: int, exc: BaseException) -> Failure:
    """Note that the build of this scope's stale slices failed; `exc` is marked noted (a caller it reaches logs it no
    second time: one fault, one line)."""
    failure = Failure(scope, int(scope_id), error_text(exc), time.time())
    setattr(exc, _NOTED, True)
    with _lock:
        kept = _failed.setdefault(database, OrderedDict())
        kept.pop((scope, int(scope_id)), None)
        kept[(scope, int(scope_id))] = failure
        while len(kept) > MAX_KEPT:
            kept.popitem(last=False)
    return failure


def noted(exc: BaseException) -> bool:
    """Whether this exception is a build failure already noted (and logged where it happened)."""
    return bool(getattr(exc, _NOTED, False))


def built(database: str, scope: str, scope_id: int) -> None:
    """The scope's slices are built: a failure noted before is over."""
    with _lock:
        kept = _failed.get(database)
        if kept:
            kept.pop((scope, int(scope_id)), None)


def pending(database: str) -> list[Failure]:
    """The failures of the database's scopes not built since, oldest first."""
    with _lock:
        return list(_failed.get(database, {}).values())


def message(failures: list[Failure]) -> str:
    """What health says of them: how many scopes, the latest one and its error."""
    latest = failures[-1]
    more = f" (and {counted(len(failures) - 1, 'other scope')})" if len(failures) > 1 else ""
    return (
        f"the rollup build of {latest.scope} {latest.scope_id} failed{more}: {latest.error}; nothing of it is read, "
        "the next read of the scope builds it again"
    )
