"""The last known state of each component the product depends on (ClickHouse, Postgres, S3, job worker, ETL worker):
ok or not, since when, the last error, with exactly one log line per change of state (never one per probe).

Probes (xolap.analytics.health.component_health) and workers (xolap.supervisor) report here; /healthz and the
admin console read `snapshot()`. Errors are kept as one short line; callers pass text without learner data.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("xolap.health")
MAX_ERROR = 300

COMPONENTS = ("clickhouse", "postgres", "s3", "job_worker", "etl_worker")
LABELS = {
    "clickhouse": "ClickHouse",
    "postgres": "Postgres",
    "s3": "S3",
    "job_worker": "job worker",
    "etl_worker": "ETL worker",
    "rollups": "rollup builds",  # reported by health from xolap.analytics.rollup_failures
    "disk": "disk space",  # reported by health from ClickHouse's system.disks
}


def one_line(error: BaseException | str | None) -> str | None:
    """`Type: first line` for an exception (never empty), the first line of a string, None for None."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        cause = error.__cause__ or error.__context__
        if not text and cause is not None:  # e.g. procrastinate's ConnectorException wraps the psycopg error
            return one_line(cause)
        error = f"{type(error).__name__}: {text}" if text else type(error).__name__
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else "unknown error")[:MAX_ERROR]


@dataclass
class ComponentState:
    name: str
    ok: bool | None = None  # None: not checked yet
    since: float = field(default_factory=time.time)
    checked_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        body = asdict(self)
        body["label"] = LABELS.get(self.name, self.name)
        body["since_iso"] = _iso(self.since)
        body["last_error_at_iso"] = _iso(self.last_error_at)
        return body


class ComponentBoard:
    """Thread-safe states by component name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ComponentState] = {}

    def report(self, name: str, ok: bool, error: BaseException | str | None = None, **detail: Any) -> ComponentState:
        """Record a probe or worker outcome. Logs one line per ok/not-ok change; a new error while the component is
        already down only updates last_error."""
        now = time.time()
        message = one_line(error) if not ok else None
        with self._lock:
            state = self._states.get(name)
            if state is None:
                state = self._states[name] = ComponentState(name)
            changed = state.ok is not ok
            if changed:
                state.since = now
            state.ok, state.checked_at = ok, now
            if message:
                state.last_error, state.last_error_at = message, now
            state.detail = {k: v for k, v in detail.items() if v is not None}
        label = LABELS.get(name, name)
        if changed and not ok:
            log.error("%s is down: %s", label, message or "no reason given")
        elif changed and ok and message is None and _was_reported(state):
            log.warning("%s is back up", label)
        return state

    def get(self, name: str) -> ComponentState | None:
        with self._lock:
            return self._states.get(name)

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {name: state.as_dict() for name, state in self._states.items()}

    def forget(self, name: str) -> None:
        with self._lock:
            self._states.pop(name, None)


def _iso(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if at else None


def _was_reported(state: ComponentState) -> bool:
    """Coming up for the first time is not news; coming back after an error is."""
    return state.last_error is not None


# The process-wide board (one `xolap serve` per process).
board = ComponentBoard()
