"""The procrastinate job app: tasks register on `jobs`; a runtime opens it on the configured Postgres.

Tasks are defined at import time on `jobs` (no connection yet); `connected(url)` returns an app sharing the same
task registry but bound to a real Postgres. `defer_in_transaction` enqueues a job inside the caller's own
transaction (procrastinate's defer API takes no connection; its SQL function does: stack-findings C3b), so a
record and its job commit or roll back together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import procrastinate
from sqlalchemy import text
from sqlalchemy.orm import Session

from xolap.component_status import board, one_line
from xolap.supervisor import Backoff, Supervised

if TYPE_CHECKING:
    from procrastinate.app import WorkerOptions

log = logging.getLogger(__name__)

# Modules whose tasks the worker must know; each registers on `jobs` when imported.
TASK_MODULES: list[str] = ["xolap.backfill.tasks"]

jobs = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)


def connected(libpq_url: str) -> procrastinate.App:
    """An app bound to Postgres at `libpq_url`, sharing `jobs`' tasks."""
    return jobs.with_connector(procrastinate.PsycopgConnector(conninfo=libpq_url, min_size=1, max_size=4))


def defer_in_transaction(
    session: Session,
    task_name: str,
    *,
    queue: str,
    args: dict[str, Any],
    lock: str | None = None,
    queueing_lock: str | None = None,
    priority: int = 0,
) -> int:
    """Enqueue a job in the session's transaction; returns the job id. Rolls back with the session."""
    row = session.execute(
        text(
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, :lock, :qlock, "
            "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
        ),
        {
            "queue": queue,
            "task": task_name,
            "priority": priority,
            "lock": lock,
            "qlock": queueing_lock,
            "args": json.dumps(args),
        },
    ).scalar_one()
    return int(row[0]) if isinstance(row, list) else int(row)


def job_counts(session: Session) -> dict[str, int]:
    """Jobs by status (todo, doing, failed, ...), for health pages."""
    rows = session.execute(text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")).all()
    return {status: int(count) for status, count in rows}


# The worker checks its Postgres every PROBE_INTERVAL_S; PROBE_FAILURES misses in a row restart it (visible on
# health within about PROBE_INTERVAL_S x PROBE_FAILURES + PROBE_TIMEOUT_S).
PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 5.0
PROBE_FAILURES = 2


class WorkerStopped(Exception):
    """The procrastinate worker stopped on its own (a side task such as the heartbeat failed); says why."""


class _ErrorCapture(logging.Handler):
    """Keeps the last error procrastinate's worker logged in one thread (it logs the reason, then just returns)."""

    def __init__(self, thread_id: int):
        super().__init__(level=logging.ERROR)
        self.thread_id = thread_id
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            lines = record.getMessage().splitlines()
            self.last = (lines[0] if lines else record.levelname)[:300]


class WorkerThread:
    """Runs a procrastinate worker in a background thread with its own event loop, supervised: when Postgres goes
    away and the worker fails, the real reason is logged and reported (component "job_worker") and the worker is
    started again with backoff (xolap.supervisor), so jobs deferred meanwhile run once Postgres is back.
    stop() waits for it."""

    def __init__(
        self,
        app: procrastinate.App,
        *,
        queues: list[str] | None = None,
        concurrency: int = 2,
        backoff: Backoff | None = None,
        additional_context: dict | None = None,
        name: str = "job_worker",
    ):
        self.app = app
        self.queues = queues
        self.concurrency = concurrency
        self.additional_context = additional_context
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future | None = None
        self._started = threading.Event()
        self._stop = threading.Event()
        self._supervised = Supervised(name, self._serve, self._stop, backoff=backoff)

    @property
    def error(self) -> str | None:
        return self._supervised.last_error

    @property
    def restarts(self) -> int:
        return self._supervised.restarts

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    def start(self) -> None:
        self._supervised.start()
        self._started.wait(timeout=30)

    def _serve(self, stop: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._run(stop))
        finally:
            self._started.set()
            self._task = None
            loop.close()

    def _worker_options(self) -> WorkerOptions:
        """procrastinate's worker options; queues and context only when given (its defaults: all queues, none)."""
        options: WorkerOptions = {
            "concurrency": self.concurrency,
            "install_signal_handlers": False,
            "shutdown_graceful_timeout": 10,
            "wait": True,
        }
        if self.queues is not None:
            options["queues"] = self.queues
        if self.additional_context is not None:
            options["additional_context"] = self.additional_context
        return options

    async def _run(self, stop: threading.Event) -> None:
        reasons = _ErrorCapture(threading.get_ident())
        logging.getLogger("procrastinate.worker").addHandler(reasons)
        try:
            async with self.app.open_async():
                worker = self._task = asyncio.ensure_future(self.app.run_worker_async(**self._worker_options()))
                board.report(self.name, True)
                self._started.set()
                loop = asyncio.get_running_loop()
                next_probe, failures = loop.time() + PROBE_INTERVAL_S, 0
                while not worker.done():
                    if stop.is_set():
                        worker.cancel()
                    await asyncio.wait({worker}, timeout=0.5)
                    if worker.done() or stop.is_set() or loop.time() < next_probe:
                        continue
                    next_probe = loop.time() + PROBE_INTERVAL_S
                    problem = await self._probe()
                    failures = failures + 1 if problem else 0
                    if failures >= PROBE_FAILURES:  # procrastinate would wait for Postgres silently: restart instead
                        board.report(self.name, False, f"Postgres unreachable: {problem}")
                        worker.cancel()
                        await asyncio.wait({worker}, timeout=15)
                        raise WorkerStopped(f"Postgres unreachable: {problem}")
                if not worker.cancelled():
                    worker.result()  # the worker's own failure, raised for the supervisor
                if not stop.is_set():  # procrastinate stops itself (returns) when a side task fails
                    raise WorkerStopped(reasons.last or "the procrastinate worker stopped without giving a reason")
        except asyncio.CancelledError:
            if not stop.is_set():
                raise RuntimeError("the job worker was cancelled") from None
        finally:
            logging.getLogger("procrastinate.worker").removeHandler(reasons)

    async def _probe(self) -> str | None:
        """None when the worker's Postgres answers SELECT 1 within PROBE_TIMEOUT_S, else why not."""
        try:
            await asyncio.wait_for(self.app.connector.execute_query_one_async("SELECT 1 AS one"), PROBE_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {PROBE_TIMEOUT_S:.0f} s"
        except Exception as exc:  # noqa: BLE001 - the reason is reported
            return one_line(exc)
        return None

    def stop(self, timeout: float = 20) -> None:
        self._stop.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass
        self._supervised.join(timeout=timeout)
