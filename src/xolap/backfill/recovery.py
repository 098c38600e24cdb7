"""Requeue backfill jobs left 'doing' by a dead worker (kill -9, power loss), so their run resumes.

At `xolap serve` start (before its worker runs) in embedded-Postgres mode the data-dir lock guarantees no other
worker is alive, so every 'doing' backfill job is orphaned. Otherwise (shared Postgres), only jobs of workers whose
heartbeat is older than STALE_SECONDS count (procrastinate's worker heartbeats; a periodic task checks each minute).
Requeued jobs keep their lock, and the runner resumes from the records (completed chunks are skipped).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import text

from xolap.config import Settings
from xolap.store.db import session_scope

if TYPE_CHECKING:
    from xolap.runtime import Runtime

log = logging.getLogger(__name__)
STALE_SECONDS = 30
QUEUE = "backfill"


def recover_stalled_jobs(settings: Settings, *, all_doing: bool = False) -> list[int]:
    """Move stalled 'doing' jobs of the backfill queue back to 'todo'; returns their ids."""
    condition = (
        "TRUE"
        if all_doing
        else (
            "(j.worker_id IS NULL OR j.worker_id IN (SELECT id FROM procrastinate_workers "
            "WHERE last_heartbeat < now() - make_interval(secs => :stale)))"
        )
    )
    with session_scope(settings) as session:
        ids = (
            session.execute(
                text(
                    f"SELECT j.id FROM procrastinate_jobs j WHERE j.status = 'doing' AND j.queue_name = :queue AND {condition}"
                ),
                {"queue": QUEUE, "stale": STALE_SECONDS},
            )
            .scalars()
            .all()
        )
        for job_id in ids:  # procrastinate's own retry: doing -> todo, attempts + 1, lock kept
            session.execute(text("SELECT procrastinate_retry_job_v1(:id, now(), NULL, NULL, NULL)"), {"id": job_id})
        if all_doing:
            session.execute(text("DELETE FROM procrastinate_workers"))
    if ids:
        log.warning("requeued %d stalled backfill job(s): %s", len(ids), ", ".join(map(str, ids)))
    return list(ids)


def serve_startup_hook(runtime: Runtime) -> None:
    """For xolap.serve.STARTUP_HOOKS: runs after migrations, before the job worker starts."""
    recover_stalled_jobs(runtime.settings, all_doing=runtime.settings.database_url is None)
