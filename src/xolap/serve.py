"""`xolap serve`: the embedded stack in one process (web, job worker, optional ETL worker) with a clean stop."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import uvicorn

from xolap.config import Settings
from xolap.jobs import WorkerThread
from xolap.runtime import Runtime
from xolap.serve_lock import ServeLock
from xolap.store.postgres import stop_embedded

log = logging.getLogger("xolap.serve")


class ListenAddressError(Exception):
    """`xolap serve` cannot listen on the address it was given; the message names it and the settings."""


def check_listen_address(host: str, port: int) -> None:
    """ListenAddressError unless a socket can be bound to host:port now (checked before any store starts; the server
    binds it again once they have)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ListenAddressError(
            f"cannot listen on {host}:{port}: {reason} (check XOLAP_HOST / --host and XOLAP_PORT / --port)"
        ) from None


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `ready` once it listens (for the CLI's ready message)."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]):
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready()


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    migrate: bool = True,
    workers: bool = True,
    on_ready: Callable[[str, Runtime], None] | None = None,
    startup_hooks: list | None = None,
) -> None:
    url = f"http://{host}:{port}"
    check_listen_address(host, port)
    with ServeLock(settings.data_dir, url=url):
        runtime = Runtime(settings)
        stop = threading.Event()
        job_worker = None
        background: list[threading.Thread] = []
        try:
            if migrate:
                applied = runtime.migrate_all()
                if applied["clickhouse_applied"]:
                    log.info("applied ClickHouse migrations: %s", ", ".join(applied["clickhouse_applied"]))
            for hook in (startup_hooks or []) + STARTUP_HOOKS:
                hook(runtime)
            if workers:
                job_worker = runtime.workers["job_worker"] = WorkerThread(runtime.jobs)
                job_worker.start()
                for starter in BACKGROUND_STARTERS:
                    thread = starter(runtime, stop)
                    if thread is not None:
                        background.append(thread)
            from xolap.web.app import create_app

            config = http_config(create_app(runtime), host=host, port=port)
            server = _AnnouncingServer(config, lambda: on_ready(url, runtime)) if on_ready else uvicorn.Server(config)
            freeze_startup_objects()
            with _sigterm_exits():
                server.run()
        finally:
            stop.set()
            if job_worker is not None:
                job_worker.stop()
            for thread in background:
                thread.join(timeout=30)
            stop_embedded()


def http_config(app: Any, *, host: str, port: int) -> uvicorn.Config:
    """How `xolap serve` runs the app: uvicorn with a deadline for each request's headers (serve_protocol)."""
    from xolap.serve_protocol import HeadersDeadlineProtocol

    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", http=HeadersDeadlineProtocol)


def freeze_startup_objects() -> int:
    """Collect the start-up garbage, then move every object alive (modules, the app, its caches: ~180k objects) out of
    the cyclic collector's sight for the life of the server; returns how many are frozen. Each full collection
    otherwise walked them all, 50-90 ms measured on this 2-core machine, inside whichever request triggered it (a
    chart answer of 12 ms took 63-81 ms). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM (systemd, docker, kill) stops the server as Ctrl-C does, through the `finally` that stops the workers
    and the embedded Postgres. uvicorn shuts down on SIGTERM, then raises the signal again with the handler it found
    at start: the default one would end the process on the spot, leaving Postgres running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_cleanly(signum: int, frame: object) -> NoReturn:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, exit_cleanly)
    try:
        yield
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _recover_backfill_jobs(runtime: Runtime) -> None:
    """Requeue backfill jobs a killed process left 'doing', before this process's worker starts."""
    from xolap.backfill.recovery import serve_startup_hook

    serve_startup_hook(runtime)


def _drop_stale_ingest_stages(runtime: Runtime) -> None:
    """Drop the `_ingest_stage_*` tables a killed SQL ingest left (none is in use before this process serves)."""
    from xolap.ingest.files import drop_stale_stages

    try:
        dropped = drop_stale_stages(runtime.clickhouse(), runtime.settings)
    except Exception as exc:  # a cleanup must not keep the server from starting
        log.warning(
            "could not drop stale ingest staging tables: %s",
            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        )
        return
    if dropped:
        log.info("dropped %d staging table(s) a killed SQL ingest left", len(dropped))


def _repair_raw_events_ttl(runtime: Runtime) -> None:
    """A raw_events TTL created before it was capped (it wrapped past 2106 and expired young events) is replaced by
    the capped TTL of the same months (migrations.repair_wrapping_ttl)."""
    from xolap.clickhouse.migrations import RenderContext, repair_wrapping_ttl

    settings = runtime.settings

    def announce(months: int, rows: int) -> None:  # the repair waits for a mutation over every part: say so first
        log.warning(
            "capping raw_events' TTL of %d months (a date past 2106 wrapped): TTL merges stop for the table while "
            "ClickHouse recomputes every part's expiry, keeping its rows (%d rows), the server starts when it is done",
            months,
            rows,
        )

    started = time.monotonic()
    try:
        months = repair_wrapping_ttl(
            runtime.clickhouse(), RenderContext(settings.clickhouse_database, settings.clickhouse_cluster), announce
        )
    except Exception as exc:  # the server still starts; the log says what is at risk
        log.error(
            "could not check or cap raw_events' TTL (a TTL created before the cap may expire young events): %s",
            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        )
        return
    if months is not None:
        log.warning(
            "raw_events' TTL of %d months could expire young events (a date past 2106 wrapped): capped in %.1f s, "
            "its rows kept",
            months,
            time.monotonic() - started,
        )


def _sqs_etl_worker(runtime: Runtime, stop: threading.Event) -> Any:
    """The SQS ETL worker, when XOLAP_ETL_QUEUE_URL is set."""
    from xolap.ingest.sqs_worker import start_sqs_etl_worker

    return start_sqs_etl_worker(runtime, stop)


def _scope_sync(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """Sections and projects appear from ingested events: sync now, then every minute."""
    from xolap.store.scopes_sync import start_scope_sync

    return start_scope_sync(runtime, stop)


def _health_monitor(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """Probe every component every HEALTH_INTERVAL_S, so a fault is logged (once, on the change) and shown on
    /healthz within a minute even when nobody is asking."""
    from xolap.analytics.health import component_health

    def run() -> None:
        while not stop.wait(HEALTH_INTERVAL_S):
            try:
                component_health(runtime)
            except Exception as exc:  # noqa: BLE001 - the monitor itself must not die
                log.warning(
                    "health probe failed: %s: %s",
                    type(exc).__name__,
                    str(exc).splitlines()[0][:300] if str(exc) else "",
                )

    thread = threading.Thread(target=run, name="xolap-health", daemon=True)
    thread.start()
    return thread


def _rollup_maintenance(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """Rebuild the stale rollup slices of recently read scopes after each write, prune superseded builds every
    10 minutes (xolap.analytics.rollup_maintenance)."""
    from xolap.analytics.rollup_maintenance import RollupMaintenance

    return RollupMaintenance(runtime.settings, runtime.clickhouse).start(stop)


def _chart_renderer(runtime: Runtime, stop: threading.Event) -> None:
    """Start the chart renderer's first child in the background (chart_render.warm_in_background); not joined at stop:
    the child ends with the process (atexit, or its closed pipe)."""
    from xolap.analytics.chart_render import warm_in_background

    warm_in_background()


HEALTH_INTERVAL_S = 15.0

# Run after migrations and before serving, each with the Runtime (the demo loader is passed in by the CLI).
STARTUP_HOOKS: list = [_recover_backfill_jobs, _drop_stale_ingest_stages, _repair_raw_events_ttl]

# Functions (runtime, stop_event) -> started Thread | None, for in-process workers besides the job worker.
BACKGROUND_STARTERS: list = [_sqs_etl_worker, _scope_sync, _health_monitor, _rollup_maintenance, _chart_renderer]
