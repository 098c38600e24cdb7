"""`xolap analytics ...` commands: list and run curated categories (for a section or project by id or slug), import
content titles, show ClickHouse health. Thin adapters over xolap.analytics.operations, run here or by the running
server (xolap.operations.open_operations); an unknown section, project or category exits 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from xolap.counted import counted

analytics_app = typer.Typer(help="Curated analytics, content titles and ClickHouse health.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    _err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _operate(action: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Run action(ops) on this process's engine or the running server; an OperationError is one line and its exit."""
    from xolap.operation_errors import OperationError
    from xolap.operations import open_operations

    try:
        with open_operations() as ops:
            return action(ops)
    except OperationError as exc:
        _fail(str(exc), exc.exit_code)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--{name} must be a date YYYY-MM-DD, got {value!r}", 2)


@analytics_app.command("categories")
def categories_command(scope: str = typer.Option("section", help="section | project")) -> None:
    """List the curated categories offered for a scope."""
    from xolap.analytics.categories import CategoryError, list_categories

    try:
        infos = list_categories(scope)
    except CategoryError as exc:
        _fail(str(exc), 2)
    table = Table("key", "title", "description")
    for info in infos:
        table.add_row(info.key, info.title, info.description)
    _out.print(table)


@analytics_app.command("run")
def run_command(
    key: str = typer.Argument(..., help="Category key (see `xolap analytics categories`)."),
    section: str | None = typer.Option(None, "--section", help="Section id or slug."),
    project: str | None = typer.Option(None, "--project", help="Project id or slug."),
    start: str | None = typer.Option(None, help="First day, YYYY-MM-DD."),
    end: str | None = typer.Option(None, help="Last day (inclusive), YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print rows, spec, SQL and timing as JSON."),
    svg: Path | None = typer.Option(None, help="Also render the chart to this SVG file."),
) -> None:
    """Run one curated category for a section or a project."""
    if (section is None) == (project is None):
        _fail("give exactly one of --section ID|SLUG or --project ID|SLUG", 2)
    scope, ref = ("section", section) if section is not None else ("project", project)
    first, last = _date(start, "start"), _date(end, "end")
    body = _operate(lambda ops: ops.analytics_run(key, scope=scope, ref=ref, start=first, end=last))
    result = SimpleNamespace(**body)
    if svg is not None:
        import vl_convert

        svg.write_text(vl_convert.vegalite_to_svg(result.spec, vl_version="v5_21"))
    if as_json:
        print(json.dumps(body, indent=2, default=str))
        return
    if not result.enough_data:
        _out.print(f"{result.title}: not enough data")
        return
    table = Table(*result.columns, title=f"{result.title} ({result.elapsed_ms:.1f} ms)")
    for row in result.rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in result.columns))
    _out.print(table)


@analytics_app.command("titles-import")
def titles_import_command(
    path: Path = typer.Argument(..., help=".csv (header project_id,kind,content_id,title), .json or .jsonl"),
) -> None:
    """Import page / video / activity titles; bad rows are listed and the good ones imported."""
    report = SimpleNamespace(**_operate(lambda ops: ops.titles_import(path)))
    for problem in report.problems:
        _err.print(f"[yellow]skipped[/yellow] {problem}")
    _out.print(f"imported {counted(report.imported, 'title')}, skipped {len(report.problems)}")
    if report.problems:
        raise typer.Exit(1)


@analytics_app.command("health")
def health_command() -> None:
    """Print the ClickHouse health summary as JSON."""
    print(json.dumps(_operate(lambda ops: ops.analytics_health()), indent=2, default=str))
