"""`xolap ingest PATH…`: the direct uploader (files, folders, globs, s3://bucket/prefix/**) with progress and errors.

Exit codes: 0 every line ingested, 3 some lines rejected (reported and kept in ingest_errors), 1 failure (a path
names nothing, a file is not JSONL, ClickHouse or S3 failed), 2 the running server refused the request (through
`xolap serve`, local paths must be under its ingest roots, XOLAP_INGEST_ROOTS; the direct CLI, without a server,
reads any path its user can). The core is `ingest_paths`, callable without the CLI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from xolap.config import ConfigError, Settings, get_settings
from xolap.ingest.files import (
    InputError,
    InputFile,
    OutsideRootsError,
    drop_stale_stages,
    expand_paths,
    ingest_file,
    missing_tables,
)
from xolap.ingest.pipeline import MAX_REPORTED_ERRORS, LineError, NotJsonlError

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_REJECTED = 0, 1, 2, 3
INGEST_PATH = "cli"

err_console = Console(stderr=True)


@dataclass
class FileFailure:
    source_file: str
    message: str


@dataclass
class IngestSummary:
    files: int = 0
    rows: int = 0
    rejected: int = 0
    warnings: int = 0  # stored rows' malformed optional values (stored NULL; in ingest_errors as 'warning')
    seconds: float = 0.0
    errors: list[LineError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS rejected lines
    failures: list[FileFailure] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.failures:
            return EXIT_FAILED
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def as_dict(self, max_errors: int) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows": self.rows,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds else None,
            "errors": [{"file": e.source_file, "line": e.source_line, "reason": e.reason} for e in self.errors[:max_errors]],
            "failures": [{"file": f.source_file, "error": f.message} for f in self.failures],
            "exit_code": self.exit_code,
        }


class IngestProgress:
    """Receives progress from ingest_paths (no-op by default; the CLI draws a rich progress bar)."""

    def start(self, files: list[InputFile]) -> None: ...
    def file_started(self, item: InputFile) -> None: ...
    def rows(self, rows: int, rejected: int) -> None: ...
    def file_done(self, item: InputFile) -> None: ...
    def stop(self) -> None: ...


def ingest_paths(
    client: Any,
    settings: Settings,
    paths: list[str],
    progress: IngestProgress | None = None,
    *,
    use_sql: bool | None = None,
    s3_factory: Callable[[], Any] | None = None,
    ingest_path: str = INGEST_PATH,
    roots: list[Path] | None = None,
) -> IngestSummary:
    """Ingest every file the paths name; a failing file is reported and the others still go in.

    roots: the folders local paths must be under (a server ingesting for a client); OutsideRootsError is raised,
    before anything is read, when one is not. The direct CLI passes none: it reads what its user can read."""
    progress = progress or IngestProgress()
    summary = IngestSummary()
    started = time.perf_counter()
    if s3_factory is None:
        def s3_factory() -> Any:
            from xolap.ingest.aws_clients import aws_client

            return aws_client(settings, "s3")

    s3_cache: list[Any] = []

    def s3() -> Any:
        if not s3_cache:
            s3_cache.append(s3_factory())
        return s3_cache[0]

    try:
        missing = missing_tables(client, settings)
        if missing:
            message = (
                f"ClickHouse database {settings.clickhouse_database!r} is not set up (no {', '.join(missing)}): "
                "run `xolap ch migrate` first"
            )
            summary.failures.append(FileFailure("", message))
            return summary
        drop_stale_stages(client, settings)
    except Exception as exc:  # the engine cannot answer at all
        summary.failures.append(FileFailure("", f"ClickHouse is not reachable: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}"))
        return summary
    try:
        files = expand_paths(paths, s3, roots=roots)
    except OutsideRootsError:
        raise
    except InputError as exc:
        summary.failures.append(FileFailure(str(exc).split(":", 1)[0], str(exc)))
        return summary
    except Exception as exc:  # S3 listing failed (endpoint, credentials, bucket)
        summary.failures.append(FileFailure(", ".join(paths), f"cannot list input: {exc}"))
        return summary
    progress.start(files)
    try:
        for item in files:
            progress.file_started(item)
            try:
                report = ingest_file(
                    client,
                    settings,
                    item,
                    ingest_path=ingest_path,
                    s3=s3() if item.bucket else None,
                    use_sql=use_sql,
                    on_progress=progress.rows,
                )
            except NotJsonlError as exc:
                summary.failures.append(FileFailure(item.uri, str(exc)))
            except Exception as exc:
                message = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
                summary.failures.append(FileFailure(item.uri, f"{item.uri}: ingest failed: {message}"))
            else:
                summary.files += 1
                summary.rows += report.rows
                summary.rejected += report.rejected
                summary.warnings += report.warnings
                room = MAX_REPORTED_ERRORS - len(summary.errors)
                summary.errors.extend(report.errors[: max(0, room)])
            progress.file_done(item)
    finally:
        progress.stop()
        summary.seconds = time.perf_counter() - started
    return summary


class RichIngestProgress(IngestProgress):
    """A progress bar over files with the rows ingested so far and the rate in rows/s."""

    def __init__(self, console: Console):
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]:,} rows/s  {task.fields[rejected]:,} rejected"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None
        self.total_rows = 0
        self.total_rejected = 0
        self.started = time.perf_counter()

    def start(self, files: list[InputFile]) -> None:
        self.started = time.perf_counter()
        self.progress.start()
        self.task = self.progress.add_task("ingest", total=len(files), rows=0, rate=0, rejected=0)

    def file_started(self, item: InputFile) -> None:
        name = item.uri if len(item.uri) <= 48 else "…" + item.uri[-47:]
        self.progress.update(self.task, description=name)

    def rows(self, rows: int, rejected: int) -> None:
        self.total_rows += rows
        self.total_rejected += rejected
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(self.task, rows=self.total_rows, rejected=self.total_rejected, rate=int(self.total_rows / elapsed))

    def file_done(self, item: InputFile) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, description="done")
        self.progress.stop()


def print_summary(summary: IngestSummary, console: Console, max_errors: int) -> None:
    rate = f", {summary.rows / summary.seconds:,.0f} rows/s" if summary.seconds and summary.rows else ""
    console.print(
        f"{summary.files} file(s): {summary.rows:,} rows ingested, {summary.rejected:,} lines rejected, "
        f"{summary.warnings:,} warnings in {summary.seconds:.1f} s{rate}",
        soft_wrap=True,
    )
    if summary.rejected:
        shown = summary.errors[:max_errors]
        console.print(f"[yellow]rejected lines[/yellow] (first {len(shown)} of {summary.rejected:,}; all are in ingest_errors):")
        for error in shown:
            console.print(f"  {error.source_file}:{error.source_line}: {error.reason}", markup=False, highlight=False, soft_wrap=True)
    if summary.warnings:
        console.print(
            f"[yellow]warnings[/yellow]: {summary.warnings:,} malformed optional values were stored as NULL "
            "(rows kept; see ingest_errors WHERE severity = 'warning')"
        )
    for failure in summary.failures:
        console.print("[red]failed:[/red] ", end="")
        console.print(failure.message, markup=False, highlight=False, soft_wrap=True)


def ingest_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., help="JSONL(.gz) files, folders, globs or s3://bucket/prefix/**"),
    engine: str = typer.Option(
        "auto", "--engine", help="auto (SQL for big local files under embedded ClickHouse) | sql | python"
    ),
    max_errors: int = typer.Option(20, "--errors", min=0, help="How many rejected lines to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    show_progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Default: on a terminal."),
) -> None:
    """Ingest xAPI statement files into raw_events; rejected lines are listed and kept in ingest_errors."""
    if engine not in ("auto", "sql", "python"):
        err_console.print(f"[red]error:[/red] --engine must be auto, sql or python (got {engine!r})")
        raise typer.Exit(EXIT_FAILED)
    injected = ctx.obj if isinstance(ctx.obj, dict) else {}
    try:
        settings: Settings = injected.get("settings") or get_settings()
    except ConfigError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_FAILED) from None
    client = injected.get("client")
    if client is None:
        from xolap.remote import running_server

        remote = running_server(settings)
        if remote is not None:  # `xolap serve` holds the embedded engine: it ingests for us
            raise typer.Exit(ingest_through_server(remote, paths, engine, max_errors, as_json))
    if client is None:
        from xolap.clickhouse.client import ClickHouseUnavailable, connect

        try:
            client = connect(settings)
        except ClickHouseUnavailable as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_FAILED) from None
    missing = missing_tables(client, settings)
    if missing:
        err_console.print(
            f"[red]error:[/red] ClickHouse database {settings.clickhouse_database!r} is not set up "
            f"(no {', '.join(missing)}): run `xolap ch migrate` first",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILED)
    use_sql = {"auto": None, "sql": True, "python": False}[engine]
    if use_sql and not settings.is_embedded_clickhouse:
        err_console.print("[red]error:[/red] --engine sql needs embedded ClickHouse (the server cannot read local files)")
        raise typer.Exit(EXIT_FAILED)
    if show_progress is None:
        show_progress = err_console.is_terminal and not as_json
    progress = RichIngestProgress(err_console) if show_progress else None
    summary = ingest_paths(client, settings, paths, progress, use_sql=use_sql, s3_factory=injected.get("s3_factory"))
    if as_json:
        print(json.dumps(summary.as_dict(max_errors), ensure_ascii=False))
    else:
        print_summary(summary, err_console, max_errors)
    raise typer.Exit(summary.exit_code)


def summary_from_dict(data: dict[str, Any]) -> IngestSummary:
    return IngestSummary(
        files=data["files"], rows=data["rows"], rejected=data["rejected"], seconds=data["seconds"],
        warnings=data.get("warnings", 0),
        errors=[LineError(e["file"], e["line"], e["reason"], "") for e in data["errors"]],
        failures=[FileFailure(f["file"], f["error"]) for f in data["failures"]],
    )


def ingest_through_server(remote: Any, paths: list[str], engine: str, max_errors: int, as_json: bool) -> int:
    """Send the paths to the running server (same machine: local paths are made absolute); returns the exit code."""
    from pathlib import Path

    from xolap.remote import RemoteError

    sent = [p if p.startswith("s3://") else str(Path(p).expanduser().absolute()) for p in paths]
    err_console.print(f"xolap serve holds the engine: ingesting through {remote.url}", soft_wrap=True)
    try:
        data = remote.post("/api/v1/ingest/paths", json={"paths": sent, "engine": engine, "max_errors": max_errors})
    except RemoteError as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True, markup=False, highlight=False)
        if exc.status_code == 400:  # refused as asked (e.g. a path outside the server's ingest roots)
            return EXIT_REFUSED
        return EXIT_FAILED
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print_summary(summary_from_dict(data), err_console, max_errors)
    return int(data["exit_code"])


def register(app: typer.Typer) -> None:
    """Add `ingest` to the main CLI."""
    app.command("ingest")(ingest_command)


# A standalone app (e.g. for tests or `python -m`): `ingest_app PATH…`.
ingest_app = typer.Typer(add_completion=False)
ingest_app.command()(ingest_command)
