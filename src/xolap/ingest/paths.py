"""Ingest of paths (files, folders, globs, s3://bucket/prefix/**), the one place it lives: the engine choice, the
ingest roots a server reads local paths under, and the per-file loop with its summary. `xolap ingest` runs it here
or asks the running server (POST /api/v1/ingest/paths), which runs ingest_for_server; the summary is the same.

Exit codes carried by the summary: 0 every line ingested, 3 some lines rejected (reported and kept in
ingest_errors), 1 failure (a path names nothing, a file is not JSONL, ClickHouse or S3 failed), 2 refused (a local
path outside the server's ingest roots, XOLAP_INGEST_ROOTS; an unknown engine).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings
from xolap.ingest.files import (
    InputError,
    InputFile,
    OutsideRootsError,
    check_under_roots,
    drop_stale_stages,
    expand_paths,
    ingest_file,
    missing_tables,
)
from xolap.ingest.pipeline import MAX_REPORTED_ERRORS, LineError, NotJsonlError

if TYPE_CHECKING:
    from xolap.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_REJECTED = 0, 1, 2, 3
INGEST_PATH = "cli"
ENGINES = {"auto": None, "sql": True, "python": False}  # --engine -> use_sql (auto: SQL for big local files, embedded)


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
            "errors": [
                {"file": e.source_file, "line": e.source_line, "reason": e.reason} for e in self.errors[:max_errors]
            ],
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
    client: ClickHouseClient,
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
        summary.failures.append(
            FileFailure(
                "", f"ClickHouse is not reachable: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}"
            )
        )
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


def summary_from_dict(data: dict[str, Any]) -> IngestSummary:
    return IngestSummary(
        files=data["files"],
        rows=data["rows"],
        rejected=data["rejected"],
        seconds=data["seconds"],
        warnings=data.get("warnings", 0),
        errors=[LineError(e["file"], e["line"], e["reason"], "") for e in data["errors"]],
        failures=[FileFailure(f["file"], f["error"]) for f in data["failures"]],
    )


def engine_choice(engine: str, settings: Settings) -> bool | None:
    """use_sql for an --engine name; OperationError (refused) for an unknown one or SQL without embedded ClickHouse."""
    from xolap.operation_errors import refused

    if engine not in ENGINES:
        raise refused(f"--engine must be auto, sql or python (got {engine!r})")
    use_sql = ENGINES[engine]
    if use_sql and not settings.is_embedded_clickhouse:
        raise refused("--engine sql needs embedded ClickHouse (the server cannot read local files)")
    return use_sql


def ingest_here(
    client: ClickHouseClient,
    settings: Settings,
    paths: list[str],
    *,
    engine: str = "auto",
    max_errors: int = 20,
    progress: IngestProgress | None = None,
    s3_factory: Callable[[], Any] | None = None,
    roots: list[Path] | None = None,
) -> dict[str, Any]:
    """`xolap ingest` on this engine: the summary as JSON. With roots (a server ingesting for a client), a local path
    outside them is refused before anything is read."""
    from xolap.operation_errors import refused

    use_sql = engine_choice(engine, settings)
    try:
        if roots is not None:
            for path in paths:
                if not path.startswith("s3://"):
                    check_under_roots(path, roots)
        summary = ingest_paths(client, settings, paths, progress, use_sql=use_sql, s3_factory=s3_factory, roots=roots)
    except OutsideRootsError as exc:
        raise refused(str(exc)) from None
    return summary.as_dict(max_errors)


def ingest_for_server(
    runtime: Runtime, paths: list[str], *, engine: str = "auto", max_errors: int = 20
) -> dict[str, Any]:
    """What the running server does for `xolap ingest`: local paths only under its ingest roots."""
    return ingest_here(
        runtime.clickhouse(),
        runtime.settings,
        paths,
        engine=engine,
        max_errors=max_errors,
        roots=runtime.settings.effective_ingest_roots,
    )
