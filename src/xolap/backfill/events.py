"""Live backfill events: journaled in backfill_events and announced with Postgres NOTIFY on `xolap_backfill`.

publish(session, …) writes the event row and calls pg_notify in the caller's transaction, so listeners hear of
a status change only once it is committed. The NOTIFY payload is JSON {id, run_kind, run_id, batch_id, kind, data}
kept under 8000 bytes (data is dropped, `truncated: true`, when it would not fit); the journal row always has it.
listen() is a psycopg LISTEN generator; events_after() replays the journal (SSE Last-Event-ID resumption).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from xolap.backfill.models import BackfillEvent
from xolap.config import Settings

CHANNEL = "xolap_backfill"
MAX_PAYLOAD = 7900


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def publish(
    session: Session, run_kind: str, run_id: int, kind: str, data: dict[str, Any], *, batch_id: int | None = None
) -> int:
    """Journal one event and NOTIFY it on commit; returns the event id."""
    data = _jsonable(data)
    event = BackfillEvent(run_kind=run_kind, run_id=run_id, batch_id=batch_id, kind=kind, payload=data)
    session.add(event)
    session.flush()
    message = {"id": event.id, "run_kind": run_kind, "run_id": run_id, "batch_id": batch_id, "kind": kind, "data": data}
    body = json.dumps(message, separators=(",", ":"))
    if len(body.encode()) > MAX_PAYLOAD:
        message.pop("data")
        message["truncated"] = True
        body = json.dumps(message, separators=(",", ":"))
    session.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": CHANNEL, "body": body})
    return event.id


def event_dict(event: BackfillEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "run_kind": event.run_kind,
        "run_id": event.run_id,
        "batch_id": event.batch_id,
        "kind": event.kind,
        "data": event.payload,
        "at": event.created_at.isoformat() if event.created_at else None,
    }


def events_after(
    session: Session, run_kind: str, run_id: int, after_id: int = 0, limit: int = 500
) -> list[dict[str, Any]]:
    """Journaled events of one run with id > after_id, oldest first."""
    rows = session.scalars(
        select(BackfillEvent)
        .where(BackfillEvent.run_kind == run_kind, BackfillEvent.run_id == run_id, BackfillEvent.id > after_id)
        .order_by(BackfillEvent.id)
        .limit(limit)
    ).all()
    return [event_dict(e) for e in rows]


def listen(settings: Settings, *, tick: float = 1.0, timeout: float | None = None) -> Iterator[dict[str, Any] | None]:
    """Yield each NOTIFY payload on CHANNEL as a dict, and None after every `tick` seconds without one (so the
    caller can check its own conditions); stops after `timeout` seconds in total when given."""
    import psycopg

    from xolap.store.postgres import libpq_url

    deadline = None if timeout is None else time.monotonic() + timeout
    with psycopg.connect(libpq_url(settings), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        while deadline is None or time.monotonic() < deadline:
            wait = tick if deadline is None else max(0.01, min(tick, deadline - time.monotonic()))
            got = False
            for notify in conn.notifies(timeout=wait):
                got = True
                try:
                    payload = json.loads(notify.payload)
                except ValueError:
                    continue
                yield payload
            if not got:
                yield None
