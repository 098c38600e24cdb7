"""A background worker that is restarted with backoff when it fails, and reports its state on the component board.

`Supervised(name, target, stop_event)` runs `target(stop_event)` in a daemon thread. When the target raises (a
dependency failed: Postgres, ClickHouse, SQS) or returns while no stop was asked, the failure is logged with its
real reason, reported on xolap.component_status.board, and the target is started again after a backoff that
doubles from `min_backoff` to `max_backoff` seconds (back to `min_backoff` after a run that lasted `healthy_after`).
After a restart the component stays reported down until the target reports itself ok (board.report(name, True)).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from xolap.component_status import LABELS, ComponentBoard, one_line
from xolap.component_status import board as default_board

log = logging.getLogger("xolap.supervisor")


class Backoff:
    """Doubling delays between restarts, reset after a healthy run."""

    def __init__(self, minimum: float = 1.0, maximum: float = 30.0, healthy_after: float = 60.0):
        self.minimum, self.maximum, self.healthy_after = minimum, maximum, healthy_after
        self.current = minimum

    def next(self, ran_for: float) -> float:
        if ran_for >= self.healthy_after:
            self.current = self.minimum
        delay = self.current
        self.current = min(self.current * 2, self.maximum)
        return delay


class Supervised:
    """Runs target(stop_event) until stop_event is set, restarting it after failures."""

    def __init__(
        self,
        name: str,
        target: Callable[[threading.Event], None],
        stop_event: threading.Event,
        *,
        backoff: Backoff | None = None,
        board: ComponentBoard = default_board,
    ):
        self.name, self.target, self.stop_event = name, target, stop_event
        self.backoff = backoff or Backoff()
        self.board = board
        self.restarts = 0
        self.last_error: str | None = None
        self.thread = threading.Thread(target=self._main, name=f"xolap-{name}", daemon=True)

    def start(self) -> Supervised:
        self.thread.start()
        return self

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _main(self) -> None:
        label = LABELS.get(self.name, self.name)
        while not self.stop_event.is_set():
            started = time.monotonic()
            if self.restarts == 0:  # after a failure, the target itself reports when it works again
                self.board.report(self.name, True, restarts=0)
            try:
                self.target(self.stop_event)
                if self.stop_event.is_set():
                    break
                error: BaseException | str = "returned without being asked to stop"
            except Exception as exc:  # noqa: BLE001 - any failure is reported and the target restarted
                if self.stop_event.is_set():
                    break
                error = exc
            delay = self.backoff.next(time.monotonic() - started)
            self.restarts += 1
            previous, self.last_error = self.last_error, one_line(error)
            self.board.report(self.name, False, error, restarts=self.restarts, retry_in_s=delay)
            # one line when it stops for a new reason; retries that fail the same way are not news
            level = logging.WARNING if self.last_error != previous else logging.DEBUG
            log.log(level, "%s stopped: %s; restart %d in %.0f s", label, self.last_error, self.restarts, delay)
            self.stop_event.wait(delay)
        self.board.forget(self.name)
