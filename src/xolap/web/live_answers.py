"""Long-lived answers (server-sent event streams) keep asking whether their caller may still have them: a stream
re-resolves who is asking at most every RECHECK_SECONDS from the process's access facts (a sign-out, a removed right,
a disabled user or a deleted token in this process at once; in another process within access_cache's 3 s) and ends
with a refusal when the route's rule no longer holds. Their headers keep every cache out (`no-store`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request

from xolap.web.auth import Principal, resolve_principal

RECHECK_SECONDS = 1.0
LIVE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

# What the route's rule says of a principal: None when it may have the answer, else the reason it may not.
Rule = Callable[[Principal], str | None]


def caller_check(request: Request, rule: Rule) -> Callable[[], str | None]:
    """A check for the stream to call as often as it likes: the refusal's reason once the caller who opened the
    stream no longer passes `rule` (looked up afresh at most every RECHECK_SECONDS), else None."""
    checked_at = time.monotonic()
    refusal: str | None = None

    def refused() -> str | None:
        nonlocal checked_at, refusal
        if refusal is None and time.monotonic() - checked_at >= RECHECK_SECONDS:
            checked_at = time.monotonic()
            request.state.principal = None  # resolve afresh, not the principal the request started with
            refusal = rule(resolve_principal(request))
        return refusal

    return refused
