"""`xolap ingest PATH…`: the direct uploader (files, folders, globs, s3://bucket/prefix/**) with progress and errors.

A thin adapter over xolap.ingest.paths, run here or, while `xolap serve` holds the engine, by the server (which reads
local paths only under its ingest roots, XOLAP_INGEST_ROOTS). Exit codes: 0 every line ingested, 3 some lines
rejected (reported and kept in ingest_errors), 1 failure (a path names nothing, a file is not JSONL, ClickHouse or S3
failed), 2 refused (a path outside the server's ingest roots, a bad --engine).
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from xolap.counted import counted

EXIT_FAILED = 1


def _err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class RichIngestProgress:
    """A progress bar over files with the rows ingested so far and the rate in rows/s (an IngestProgress)."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.fields[files]}"),
            TextColumn("{task.fields[rows]}  {task.fields[rate]}/s  {task.fields[rejected]:,} rejected"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None
        self.total_rows = 0
        self.total_rejected = 0
        self.started = time.perf_counter()

    def start(self, files: list[Any]) -> None:
        self.started = time.perf_counter()
        self.progress.start()
        self.task = self.progress.add_task(
            "ingest",
            total=len(files),
            files=counted(len(files), "file"),
            rows=counted(0, "row"),
            rate=counted(0, "row"),
            rejected=0,
        )

    def file_started(self, item: Any) -> None:
        name = item.uri if len(item.uri) <= 48 else "…" + item.uri[-47:]
        self.progress.update(self.task, description=name)

    def rows(self, rows: int, rejected: int) -> None:
        self.total_rows += rows
        self.total_rejected += rejected
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(
            self.task,
            rows=counted(self.total_rows, "row"),
            rejected=self.total_rejected,
            rate=counted(int(self.total_rows / elapsed), "row"),
        )

    def file_done(self, item: Any) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, description="done")
        self.progress.stop()


def print_summary(summary: Any, console: Any, max_errors: int) -> None:
    rate = f", {counted(round(summary.rows / summary.seconds), 'row')}/s" if summary.seconds and summary.rows else ""
    console.print(
        f"{counted(summary.files, 'file')}: {counted(summary.rows, 'row')} ingested, "
        f"{counted(summary.rejected, 'line')} rejected, {counted(summary.warnings, 'warning')} in "
        f"{summary.seconds:.1f} s{rate}",
        soft_wrap=True,
    )
    if summary.rejected:
        shown = summary.errors[:max_errors]
        console.print(
            f"[yellow]rejected lines[/yellow] (first {len(shown)} of {summary.rejected:,}; all are in ingest_errors):"
        )
        for error in shown:
            console.print(
                f"  {error.source_file}:{error.source_line}: {error.reason}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if summary.warnings:
        console.print(
            f"[yellow]warnings[/yellow]: {counted(summary.warnings, 'malformed optional value')} stored as NULL "
            "(rows kept; see ingest_errors WHERE severity = 'warning')"
        )
    for failure in summary.failures:
        console.print("[red]failed:[/red] ", end="")
        console.print(failure.message, markup=False, highlight=False, soft_wrap=True)


def report(data: dict[str, Any], console: Any, max_errors: int, as_json: bool) -> int:
    """Print an ingest summary (JSON from either side of the seam); returns its exit code."""
    from xolap.ingest.paths import summary_from_dict

    summary = summary_from_dict(data)
    engine_failure = not summary.files and [f.source_file for f in summary.failures] == [""]
    if engine_failure and not as_json:  # the engine itself: one line, no file named
        console.print(f"error: {summary.failures[0].message}", markup=False, highlight=False, soft_wrap=True)
    elif as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print_summary(summary, console, max_errors)
    return int(data["exit_code"])


def ingest_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., help="JSONL(.gz) files, folders, globs or s3://bucket/prefix/**"),
    engine: str = typer.Option(
        "auto", "--engine", help="auto (SQL for big local files under embedded ClickHouse) | sql | python"
    ),
    max_errors: int = typer.Option(20, "--errors", min=0, help="How many rejected lines to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    show_progress: bool | None = typer.Option(None, "--progress/--no-progress", help="Default: on a terminal."),
) -> None:
    """Ingest xAPI statement files into raw_events; rejected lines are listed and kept in ingest_errors."""
    from xolap.operation_errors import OperationError
    from xolap.operations import open_operations

    err_console = _err_console()
    injected = ctx.obj if isinstance(ctx.obj, dict) else {}
    if show_progress is None:
        show_progress = err_console.is_terminal and not as_json
    try:
        with open_operations(
            injected.get("settings"), client=injected.get("client"), s3_factory=injected.get("s3_factory")
        ) as ops:
            if ops.remote:
                err_console.print(f"xolap serve holds the engine: ingesting through {ops.url}", soft_wrap=True)
            progress = RichIngestProgress(err_console) if show_progress and not ops.remote else None
            data = ops.ingest_paths(paths, engine=engine, max_errors=max_errors, progress=progress)
    except OperationError as exc:
        err_console.print(f"error: {exc}", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(report(data, err_console, max_errors, as_json))


# A standalone app (e.g. for tests or `python -m`): `ingest_app PATH…`.
ingest_app = typer.Typer(add_completion=False)
ingest_app.command()(ingest_command)
