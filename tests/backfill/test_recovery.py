"""Stalled-job recovery: jobs of a worker without a recent heartbeat go back to 'todo'; live workers keep theirs."""

from __future__ import annotations

from sqlalchemy import text

from xolap.backfill import service
from xolap.backfill.recovery import recover_stalled_jobs
from xolap.store.db import session_scope


def test_only_jobs_of_dead_workers_are_requeued(bf_runtime):
    dead = service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/a/*.jsonl")
    alive = service.create_manual_run(bf_runtime, s3_pattern="s3://bkt/b/*.jsonl")
    with session_scope(bf_runtime.settings) as session:
        old = session.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 minutes') RETURNING id"
            )
        ).scalar()
        new = session.execute(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id")
        ).scalar()
        for run, worker in ((dead, old), (alive, new)):
            session.execute(
                text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :j"),
                {"w": worker, "j": run["job_id"]},
            )
    assert recover_stalled_jobs(bf_runtime.settings) == [dead["job_id"]]
    with session_scope(bf_runtime.settings) as session:
        statuses = dict(session.execute(text("SELECT id, status::text FROM procrastinate_jobs")).all())
    assert statuses == {dead["job_id"]: "todo", alive["job_id"]: "doing"}
    # At `xolap serve` start with embedded Postgres, nobody else can be working: everything 'doing' is requeued.
    assert recover_stalled_jobs(bf_runtime.settings, all_doing=True) == [alive["job_id"]]
