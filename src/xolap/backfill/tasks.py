"""procrastinate tasks of the backfill queue: thin wrappers around xolap.backfill.runner, stalled jobs are recovered by xolap.backfill.recovery.

Each task is locked on its run or batch (procrastinate `lock=` given at defer time), so one run or batch is never
worked by two workers at once; retries use MAX_ATTEMPTS with exponential backoff, and the runner marks the record
failed only on the last attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import procrastinate
from procrastinate import JobContext

from xolap.backfill import runner
from xolap.backfill.service import QUEUE, TASK_BATCH, TASK_INVENTORY, TASK_MANUAL
from xolap.jobs import jobs

if TYPE_CHECKING:
    from xolap.runtime import Runtime

MAX_ATTEMPTS = 3
RETRY = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=2, exponential_wait=2)


def _runtime(context: JobContext | None = None) -> Runtime:
    """The worker's runtime: `additional_context={"runtime": …}` when the worker was given one (tests, bench),
    else one built from the process settings (`xolap serve`)."""
    given = (context.additional_context or {}).get("runtime") if context is not None else None
    if given is not None:
        return given
    from xolap.config import get_settings
    from xolap.runtime import Runtime

    return Runtime(get_settings())


def _final(context: JobContext) -> bool:
    return context.job.attempts + 1 >= MAX_ATTEMPTS


@jobs.task(name=TASK_MANUAL, queue=QUEUE, retry=RETRY, pass_context=True)
def manual_run(context: JobContext, run_id: int) -> None:
    runner.execute_manual_run(_runtime(context), run_id, final_attempt=_final(context))


@jobs.task(name=TASK_INVENTORY, queue=QUEUE, retry=RETRY, pass_context=True)
def inventory_run(context: JobContext, run_id: int) -> None:
    runner.prepare_inventory_run(_runtime(context), run_id, final_attempt=_final(context))


@jobs.task(name=TASK_BATCH, queue=QUEUE, retry=RETRY, pass_context=True)
def inventory_batch(context: JobContext, batch_id: int) -> None:
    runner.execute_batch(_runtime(context), batch_id, final_attempt=_final(context))
