"""`xolap query`: run one custom SQL query for a section, a project (each by id or slug) or --admin, and print it as
a table, JSON or CSV. A thin adapter over xolap.analytics.operations.query, run here or by the running server.

Exit codes: 0 success, 2 refused (bad options, the guard said no, an unknown section or project; the reason on
stderr), 1 any other error (ClickHouse unavailable, a limit hit, a ClickHouse error). Heavy imports happen inside the
command so `xolap --help` stays fast. make_query_command() takes the settings and client factories, so tests run it
on their own database.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

import typer

from xolap.counted import counted

FORMATS = ("table", "json", "csv")


def read_sql(argument: str, stdin: IO[str]) -> str:
    return stdin.read() if argument == "-" else argument


def result_of(data: dict[str, Any]) -> Any:
    """The QueryResult a query's JSON answer describes (values as JSON gave them), for printing."""
    from xolap.analytics.executor import QueryResult

    return QueryResult(
        columns=[c["name"] for c in data["columns"]],
        types=[c["type"] for c in data["columns"]],
        rows=[tuple(row) for row in data["rows"]],
        truncated=bool(data["truncated"]),
        elapsed_ms=float(data["elapsed_ms"]),
        rows_read=data.get("rows_read"),
        bytes_read=data.get("bytes_read"),
        sql="",
        tag=str(data.get("tag") or ""),
    )


def write_result(result: Any, output_format: str, out: IO[str]) -> None:
    from xolap.analytics.result_formats import csv_value, iter_csv, iter_json

    if output_format == "json":
        for chunk in iter_json(result):
            out.write(chunk.decode())
        out.write("\n")
    elif output_format == "csv":
        for text in iter_csv(result):
            out.write(text)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(
            *[f"{name}\n[dim]{type_}[/dim]" for name, type_ in zip(result.columns, result.types, strict=False)]
        )
        for row in result.rows:
            table.add_row(*["NULL" if value is None else str(csv_value(value)) for value in row])
        Console(file=out, width=max(80, min(240, 20 * len(result.columns)))).print(table)
    out.flush()


def error_line(exc: Exception) -> str:
    """An operation's error as the one line `xolap` prints ("refused: …" and "error (kind): …" come ready)."""
    message = str(exc)
    return message if message.startswith(("refused:", "error")) else f"error: {message}"


def make_query_command(
    get_settings: Callable[[], Any] | None = None, get_client: Callable[[Any], Any] | None = None
) -> Callable[..., None]:
    def query_command(
        sql: str = typer.Argument(..., help="The SELECT to run, or - to read it from stdin."),
        section: str | None = typer.Option(None, "--section", help="Run scoped to this section (id or slug)."),
        project: str | None = typer.Option(None, "--project", help="Run scoped to this project (id or slug)."),
        admin: bool = typer.Option(False, "--admin", help="Run over all data (still read-only and bounded)."),
        output_format: str = typer.Option("table", "--format", help="table, json or csv."),
        max_rows: int | None = typer.Option(
            None, "--max-rows", min=1, help="Result row limit (default XOLAP_QUERY_MAX_RESULT_ROWS)."
        ),
        timeout: float | None = typer.Option(
            None, "--timeout", min=0.1, help="Seconds (default XOLAP_QUERY_MAX_EXECUTION_TIME)."
        ),
    ) -> None:
        """Run custom SQL scoped to a section, a project or (--admin) everything: guarded, read-only, bounded."""
        from xolap.operation_errors import OperationError
        from xolap.operations import open_operations

        chosen = [
            name
            for name, on in (("--section", section is not None), ("--project", project is not None), ("--admin", admin))
            if on
        ]
        if len(chosen) != 1:
            print(
                "error: choose exactly one of --section ID|SLUG, --project ID|SLUG or --admin"
                + (f" (got {' and '.join(chosen)})" if chosen else ""),
                file=sys.stderr,
            )
            raise typer.Exit(2)  # refused: bad input, as `xolap analytics run` answers it
        if output_format not in FORMATS:
            print(f"error: --format must be one of {', '.join(FORMATS)} (got {output_format!r})", file=sys.stderr)
            raise typer.Exit(2)
        text = read_sql(sql, sys.stdin)
        scope, ref = (
            ("section", section)
            if section is not None
            else ("project", project)
            if project is not None
            else ("admin", None)
        )
        try:
            settings = get_settings() if get_settings else None
            client = get_client(settings) if get_client else None
        except Exception as exc:  # ConfigError, ClickHouseUnavailable: reported, not a traceback
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        try:
            with open_operations(settings, client=client) as ops:
                data = ops.query(text, scope=scope, ref=ref, max_rows=max_rows, timeout=timeout)
        except OperationError as exc:
            print(error_line(exc), file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        write_result(result_of(data), output_format, sys.stdout)
        rows = int(data["row_count"])
        note = f"{counted(rows, 'row')} in {float(data['elapsed_ms']):.1f} ms"
        if data["truncated"]:
            note += f"; truncated at the limit of {data['max_result_rows']} rows (more rows matched)"
        print(note, file=sys.stderr)

    return query_command


query_command = make_query_command()
