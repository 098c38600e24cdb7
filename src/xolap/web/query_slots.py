"""Custom SQL takes a slot before it takes a thread: at most XOLAP_QUERY_CONCURRENCY user queries run at once, the
others wait for a slot on the event loop (holding no thread) up to the query time limit, then answer 503 busy.

Requests of every kind share one pool of worker threads (40). Without slots, 45 custom queries sent at once took every
thread for as long as they ran (up to the 30 s limit): /healthz, dashboard pages and the queries' own progress and
Cancel waited behind them. With slots, the other threads stay free however many queries are sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from xolap.web.analytics_scope import DashboardError

RETRY_AFTER_SECONDS = 5
_slots: dict[int, anyio.CapacityLimiter] = {}  # by XOLAP_QUERY_CONCURRENCY (one per configured value)


def slots(count: int) -> anyio.CapacityLimiter:
    """The process's query slots for this configured count (created on first use, inside the event loop)."""
    limiter = _slots.get(count)
    if limiter is None:
        limiter = _slots[count] = anyio.CapacityLimiter(count)
    return limiter


async def run_user_sql(request: Request, function: Callable[..., Any], *args: Any) -> Any:
    """function(*args) in the threadpool once a query slot is free; a JSON 503 (kind busy) if none frees up within
    the query time limit."""
    settings = request.app.state.runtime.settings
    limiter = slots(settings.query_concurrency)
    holder, acquired = object(), False
    with anyio.move_on_after(settings.query_max_execution_time):
        await limiter.acquire_on_behalf_of(holder)
        acquired = True
    if not acquired:
        busy = DashboardError(
            503,
            "busy",
            f"the server is running as many custom queries as it may at once ({settings.query_concurrency}) and none "
            "finished in time: try again shortly",
        )
        return JSONResponse(busy.body(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    try:
        return await run_in_threadpool(function, *args)
    finally:
        limiter.release_on_behalf_of(holder)
