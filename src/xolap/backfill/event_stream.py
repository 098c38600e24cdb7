"""One run's live events as a server-sent event stream (replay after Last-Event-ID, then follow NOTIFYs), and the
same events read back as dicts: the API streams the frames, `xolap backfill watch` reads them here or from the API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xolap.backfill import service
from xolap.backfill.events import events_after, listen
from xolap.backfill.models import TERMINAL
from xolap.store.db import session_scope

if TYPE_CHECKING:
    from xolap.config import Settings


def sse_frame(event: dict[str, Any]) -> str:
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


def event_stream(
    settings: Settings,
    kind: str,
    run_id: int,
    last_id: int,
    *,
    max_seconds: float = 3600,
    keepalive: float = 15.0,
    refused: Callable[[], str | None] | None = None,
) -> Iterator[str]:
    """Replay journaled events after last_id, then follow NOTIFYs; ends once the run is finished and drained, or
    with an `event: refused` frame once `refused` (asked at every NOTIFY and every second) gives a reason."""
    deadline = time.monotonic() + max_seconds
    last_sent = time.monotonic()

    def drain() -> tuple[list[dict[str, Any]], str]:
        with session_scope(settings) as session:
            pending = events_after(session, kind, run_id, last_id)
            status = service.load_run(session, kind, run_id).status
        return pending, status

    yield "retry: 2000\n\n"
    for notice in listen(settings, tick=1.0, timeout=max_seconds):
        reason = refused() if refused is not None else None
        if reason is not None:
            yield f"event: refused\ndata: {json.dumps({'reason': reason})}\n\n"
            return
        if notice is not None and (notice.get("run_kind") != kind or notice.get("run_id") != run_id):
            continue
        pending, status = drain()
        for event in pending:
            last_id = event["id"]
            last_sent = time.monotonic()
            yield sse_frame(event)
        if status in TERMINAL and not pending:
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if time.monotonic() - last_sent > keepalive:
            last_sent = time.monotonic()
            yield ": keepalive\n\n"
        if time.monotonic() > deadline:
            return


def run_events(settings: Settings, kind: str, run_id: int) -> Iterator[dict[str, Any]]:
    """The run's events from the start, live, until it finishes (the stream's data objects, without the end)."""
    for frame in event_stream(settings, kind, run_id, 0):
        if frame.startswith("event: end"):
            return
        for line in frame.splitlines():
            if line.startswith("data: "):
                yield json.loads(line[6:])
