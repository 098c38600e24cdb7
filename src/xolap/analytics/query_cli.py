"""`xolap query`: run one custom SQL query through the guard and the bounded executor, print it as a table, JSON or CSV.

Exit codes: 0 success, 2 the guard refused the query (the reason on stderr), 1 any other error (bad options,
ClickHouse unavailable, a limit hit, a ClickHouse error). Heavy imports happen inside the command so `xolap --help`
stays fast. make_query_command() takes the settings and client factories, so tests inject their own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any, Optional

import typer

FORMATS = ("table", "json", "csv")


def default_settings() -> Any:
    from xolap.config import get_settings

    return get_settings()


def default_client(settings: Any) -> Any:
    """The read-only user's client in server mode; the embedded engine otherwise (refused while `xolap serve` holds it)."""
    from xolap.clickhouse.client import ClickHouseUnavailable, connect
    from xolap.serve_lock import read_holder

    if settings.is_embedded_clickhouse:
        holder = read_holder(settings.data_dir)
        if holder and holder.get("url"):
            raise ClickHouseUnavailable(
                f"`xolap serve` holds the embedded ClickHouse of {settings.data_dir} (at {holder['url']}); "
                "run the query from its web page or API, or stop the server first"
            )
    return connect(settings, readonly_user=True)


def read_sql(argument: str, stdin: IO[str]) -> str:
    return stdin.read() if argument == "-" else argument


def run_query(
    sql: str,
    *,
    scope: str,
    scope_id: int | None,
    output_format: str,
    settings: Any,
    client: Any,
    out: IO[str],
    err: IO[str],
    max_rows: int | None = None,
    timeout: float | None = None,
) -> int:
    """Guard, run and print one query; returns the process exit code (0, 1 or 2)."""
    from xolap.analytics.executor import Limits, QueryError, run
    from xolap.analytics.guard import GuardError, guard
    from xolap.analytics.scope_wall import scope_wall

    try:
        guarded = guard(sql, scope=scope, database=settings.clickhouse_database)  # type: ignore[arg-type]
    except GuardError as exc:
        print(f"refused: {exc}", file=err)
        return 2
    limits = Limits.from_settings(settings)
    if max_rows is not None:
        limits = limits.replace(max_result_rows=max_rows)
    if timeout is not None:
        limits = limits.replace(max_execution_time=timeout)
    try:
        parameters = guarded.parameters(scope_id)
        wall = scope_wall(scope, scope_id, settings.clickhouse_database)
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 1
    try:
        result = run(client, settings, guarded.sql, parameters=parameters, limits=limits, readonly=True, wall=wall)
    except QueryError as exc:
        print(f"error ({exc.kind}): {exc}", file=err)
        return 1
    write_result(result, output_format, out)
    note = f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''} in {result.elapsed_ms:.1f} ms"
    if result.truncated:
        note += f"; truncated at the limit of {limits.max_result_rows} rows (more rows matched)"
    print(note, file=err)
    return 0


def write_result(result: Any, output_format: str, out: IO[str]) -> None:
    from xolap.analytics.result_formats import csv_value, iter_csv, iter_json

    if output_format == "json":
        for chunk in iter_json(result):
            out.write(chunk.decode())
        out.write("\n")
    elif output_format == "csv":
        for chunk in iter_csv(result):
            out.write(chunk)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*[f"{name}\n[dim]{type_}[/dim]" for name, type_ in zip(result.columns, result.types)])
        for row in result.rows:
            table.add_row(*["NULL" if value is None else str(csv_value(value)) for value in row])
        Console(file=out, width=max(80, min(240, 20 * len(result.columns)))).print(table)
    out.flush()


def make_query_command(
    get_settings: Callable[[], Any] = default_settings, get_client: Callable[[Any], Any] = default_client
) -> Callable[..., None]:
    def query_command(
        sql: str = typer.Argument(..., help="The SELECT to run, or - to read it from stdin."),
        section: Optional[int] = typer.Option(None, "--section", min=0, help="Run scoped to this section id."),
        project: Optional[int] = typer.Option(None, "--project", min=0, help="Run scoped to this project id."),
        admin: bool = typer.Option(False, "--admin", help="Run over all data (still read-only and bounded)."),
        output_format: str = typer.Option("table", "--format", help="table, json or csv."),
        max_rows: Optional[int] = typer.Option(None, "--max-rows", min=1, help="Result row limit (default XOLAP_QUERY_MAX_RESULT_ROWS)."),
        timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1, help="Seconds (default XOLAP_QUERY_MAX_EXECUTION_TIME)."),
    ) -> None:
        """Run custom SQL scoped to a section, a project or (--admin) everything: guarded, read-only, bounded."""
        chosen = [name for name, on in (("--section", section is not None), ("--project", project is not None), ("--admin", admin)) if on]
        if len(chosen) != 1:
            print("error: choose exactly one of --section ID, --project ID or --admin"
                  + (f" (got {' and '.join(chosen)})" if chosen else ""), file=sys.stderr)
            raise typer.Exit(1)
        if output_format not in FORMATS:
            print(f"error: --format must be one of {', '.join(FORMATS)} (got {output_format!r})", file=sys.stderr)
            raise typer.Exit(1)
        text = read_sql(sql, sys.stdin)
        scope, scope_id = ("section", section) if section is not None else ("project", project) if project is not None else ("admin", None)
        try:
            settings = get_settings()
            client = get_client(settings)
        except Exception as exc:  # ConfigError, ClickHouseUnavailable: reported, not a traceback
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        code = run_query(text, scope=scope, scope_id=scope_id, output_format=output_format, settings=settings,
                         client=client, out=sys.stdout, err=sys.stderr, max_rows=max_rows, timeout=timeout)
        if code:
            raise typer.Exit(code)

    return query_command


query_command = make_query_command()
