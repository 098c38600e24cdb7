"""Backfill fixtures: a runtime wired to the moto S3 server, a fresh bucket, and a queue drainer."""

from __future__ import annotations

import itertools
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # bf_support
_buckets = itertools.count(1)


@pytest.fixture()
def bf_runtime(runtime, moto_server):
    from xolap.runtime import Runtime

    settings = runtime.settings.model_copy(
        update={
            "s3_endpoint_url": moto_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    )
    return Runtime(settings)


@pytest.fixture()
def s3(bf_runtime):
    from xolap.ingest.aws_clients import aws_client

    return aws_client(bf_runtime.settings, "s3")


@pytest.fixture()
def bucket(s3) -> str:
    name = f"bf-{next(_buckets)}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture()
def drain(bf_runtime):
    """Run the backfill queue in this thread (procrastinate worker, wait=False) until no job is due."""
    from sqlalchemy import text

    from xolap.store.db import session_scope

    def due() -> int:
        with session_scope(bf_runtime.settings) as session:
            return session.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'backfill' "
                    "AND status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())"
                )
            ).scalar()

    def run(max_rounds: int = 10) -> None:
        for _ in range(max_rounds):
            bf_runtime.jobs.run_worker(
                queues=["backfill"],
                wait=False,
                install_signal_handlers=False,
                concurrency=1,
                additional_context={"runtime": bf_runtime},
                listen_notify=False,
            )
            if not due():
                return

    return run
