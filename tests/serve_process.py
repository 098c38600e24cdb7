"""`xolap serve` in a subprocess for tests and scripts: start it, wait for /healthz (polled every 50 ms), stop it.

One way to start the server, so every caller gets the same failure modes: a server that exits while starting or does
not answer in time is killed and reported with its log (`ServeDidNotStart`), and `stop()` always leaves no process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from support import free_port

XOLAP = [sys.executable, "-m", "xolap.cli"]
ROOT = Path(__file__).resolve().parents[1]
HEALTH_POLL_S = 0.05
LOG_TAIL_CHARS = 8000


class ServeDidNotStart(RuntimeError):
    """`xolap serve` exited while starting or did not answer /healthz in time; the message ends with its log."""


def answers_ok(response: httpx.Response) -> bool:
    """The default readiness test: /healthz answers 200."""
    return response.status_code == 200


@dataclass
class ServeProcess:
    """A started `xolap serve`: its process, base URL, port and the file its output goes to (None: discarded)."""

    process: subprocess.Popen
    url: str
    port: int
    log_path: Path | None
    started_s: float  # seconds from start to the first healthy answer
    _log: IO[str] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """The server's output so far (its last LOG_TAIL_CHARS characters)."""
        if self.log_path is None or not self.log_path.exists():
            return "(output not kept)"
        return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int | None:
        """Stop it as a user would (Ctrl-C by default); killed when it does not stop within timeout. Returns the
        exit code of the clean stop, None when it had to be killed."""
        code: int | None = self.process.poll()
        if code is None:
            self.process.send_signal(sig)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                code = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def wait_healthy(
    process: subprocess.Popen,
    url: str,
    *,
    timeout: float = 120,
    healthy: Callable[[httpx.Response], bool] = answers_ok,
    log: Callable[[], str] = lambda: "",
) -> float:
    """Poll url/healthz every HEALTH_POLL_S until `healthy(response)`; seconds waited. Raises ServeDidNotStart (after
    killing the process) when it exits first or the deadline passes."""
    started = time.monotonic()
    with httpx.Client(timeout=2) as client:
        while True:
            try:
                if healthy(client.get(f"{url}/healthz")):
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise ServeDidNotStart(f"xolap serve exited with {process.returncode} while starting:\n{log()}")
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait(timeout=10)
                raise ServeDidNotStart(f"xolap serve did not answer /healthz in {timeout:.0f} s:\n{log()}")
            time.sleep(HEALTH_POLL_S)


def start_serve(
    env: Mapping[str, str],
    *,
    log_path: Path | None = None,
    port: int | None = None,
    args: Sequence[str] = (),
    timeout: float = 120,
    healthy: Callable[[httpx.Response], bool] = answers_ok,
    cwd: Path = ROOT,
) -> ServeProcess:
    """Start `xolap serve --port PORT [args]` with `env` (its own session, so a Ctrl-C in the terminal does not reach
    it) and return once /healthz is healthy. Output goes to log_path (None: discarded)."""
    port = port or free_port()
    log = log_path.open("w") if log_path is not None else None
    started = time.monotonic()
    process = subprocess.Popen(
        [*XOLAP, "serve", "--port", str(port), *args],
        env=dict(env),
        cwd=cwd,
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = ServeProcess(process, f"http://127.0.0.1:{port}", port, log_path, 0.0, log)
    try:
        wait_healthy(process, server.url, timeout=timeout, healthy=healthy, log=server.log)
    except BaseException:
        server.stop(timeout=10)
        raise
    server.started_s = time.monotonic() - started
    return server


@contextmanager
def running_serve(env: Mapping[str, str], **options) -> Iterator[ServeProcess]:
    """`with running_serve(env) as server:` a healthy `xolap serve`, stopped with Ctrl-C (killed if it hangs) after."""
    server = start_serve(env, **options)
    try:
        yield server
    finally:
        server.stop()
