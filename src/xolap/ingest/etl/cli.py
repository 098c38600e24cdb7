"""`xolap etl ...`: run the local SQS ETL worker, build the Lambda artifact."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from xolap.counted import counted

if TYPE_CHECKING:
    from xolap.clickhouse.client_protocol import ClickHouseClient
    from xolap.config import Settings

etl_app = typer.Typer(
    help="ETL: S3 notifications on SQS -> ClickHouse (local worker, Lambda packaging).", no_args_is_help=True
)
err_console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _ready_client(settings: Settings) -> ClickHouseClient:
    """A ClickHouse client whose database has raw_events (embedded: migrated here; server: must be migrated)."""
    from xolap.clickhouse.client import ClickHouseUnavailable, connect
    from xolap.clickhouse.migrations import Migrator, RenderContext

    try:
        client = connect(settings)
    except ClickHouseUnavailable as exc:
        hint = (
            " Set XOLAP_ETL_QUEUE_URL and let `xolap serve` run the worker instead."
            if settings.is_embedded_clickhouse
            else ""
        )
        _fail(f"{exc}.{hint}")
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'raw_events'",
        parameters={"d": settings.clickhouse_database},
    ).result_rows[0][0]
    if not exists:
        if not settings.is_embedded_clickhouse:
            _fail(f"{settings.clickhouse_database}.raw_events does not exist: run `xolap ch migrate up` first")
        context = RenderContext(
            settings.clickhouse_database, settings.clickhouse_cluster, settings.raw_events_ttl_months
        )
        Migrator(client, context).up()
    return client


@etl_app.command("run")
def run(
    queue: str | None = typer.Option(None, "--queue", help="SQS queue URL (default: XOLAP_ETL_QUEUE_URL)."),
    max_messages: int | None = typer.Option(
        None, "--max-messages", min=1, help="Exit after receiving this many messages."
    ),
    wait: int = typer.Option(20, "--wait", min=0, max=20, help="Long-poll seconds per receive (WaitTimeSeconds)."),
    batch_size: int = typer.Option(10, "--batch-size", min=1, max=10, help="Messages per receive (SQS allows 10)."),
    until_empty: bool = typer.Option(False, "--until-empty", help="Exit when a receive finds the queue empty."),
    quiet: bool = typer.Option(False, "--quiet", help="Only warnings, no `ETL stage` lines."),
) -> None:
    """Long-poll a queue and ingest the S3 objects its notifications name; Ctrl-C / SIGTERM finish the batch, then exit."""
    import logging

    from xolap.config import ConfigError, get_settings
    from xolap.ingest.etl.batching import EtlLimits
    from xolap.ingest.etl.handler import configure_logging
    from xolap.ingest.sqs_worker import QueueUnavailable, SqsEtlWorker

    try:
        settings = get_settings()
        limits = EtlLimits.from_env()
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    queue_url = queue or settings.etl_queue_url
    if not queue_url:
        _fail("no queue: pass --queue URL or set XOLAP_ETL_QUEUE_URL", 2)
    configure_logging()
    if quiet:
        logging.getLogger("xolap").setLevel(logging.WARNING)
    client = _ready_client(settings)
    worker = SqsEtlWorker(settings, client, queue_url, limits=limits, batch_size=batch_size, wait_seconds=wait)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: stop now
        stop.set()
        err_console.print(
            f"{signal.Signals(signum).name}: stopping after the current batch (up to {wait}s for the receive)"
        )

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        totals = worker.run_forever(stop, max_messages=max_messages, until_empty=until_empty)
    except QueueUnavailable as exc:
        _fail(str(exc))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err_console.print(
        f"received {totals.received}, ingested {totals.succeeded} (deleted {totals.deleted}), failed {totals.failed}; "
        f"rows {totals.rows}, rejected lines {totals.rejected}"
    )


@etl_app.command("package")
def package(
    out: Path = typer.Option(Path("dist/xolap-etl.zip"), "--out", help="Zip to write."),
    with_deps: bool = typer.Option(
        False, "--with-deps", help="pip install the dependencies (manylinux wheels) into the zip."
    ),
    python_version: str = typer.Option(
        "3.12", "--python-version", help="Lambda runtime Python version (for --with-deps)."
    ),
    arch: str = typer.Option("x86_64", "--arch", help="x86_64 or arm64 (for --with-deps)."),
) -> None:
    """Build the Lambda zip (handler `lambda_function.lambda_handler`); see docs/etl-deploy.md."""
    from xolap.ingest.etl.package import PackageError, build_package

    try:
        result = build_package(out, with_deps=with_deps, python_version=python_version, arch=arch)
    except PackageError as exc:
        _fail(str(exc))
    modules = sum(1 for f in result.files if f.startswith("xolap/") and f.endswith(".py"))
    print(
        f"{result.path}: {result.zip_bytes / 1024:.1f} KiB, {counted(len(result.files), 'file')} "
        f"({counted(modules, 'xolap module')})"
    )
    if not with_deps:
        print(
            "dependencies not included: attach a layer with clickhouse-connect, pyarrow, orjson, msgspec, pydantic, "
            "pydantic-settings"
        )
    for note in result.warnings():
        err_console.print(f"[yellow]warning:[/yellow] {note}")
