"""Fault-suite helpers: run a call with a deadline (a hang fails the test instead of wedging it), and print the
measured time to a visible fault state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def within(seconds: float, call: Callable[[], Any]) -> tuple[str, Any, float]:
    """Run call() in a daemon thread; ("returned"|"raised"|"hung", value or exception, elapsed seconds)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["returned"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["raised"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        return "hung", None, elapsed
    kind = "returned" if "returned" in outcome else "raised"
    return kind, outcome[kind], elapsed


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> tuple[Any, float]:
    """Poll predicate until it returns something truthy; (value, seconds waited). value is falsy on timeout."""
    started = time.monotonic()
    value = None
    while time.monotonic() - started < timeout:
        value = predicate()
        if value:
            break
        time.sleep(interval)
    return value, time.monotonic() - started


def report(fault: str, seconds: float | None, lost: int | str, doubled: int | str) -> None:
    visible = "n/a" if seconds is None else f"{seconds:.1f} s"
    print(f"\nFAULT | {fault} | visible after {visible} | rows lost {lost} | rows doubled {doubled}")
