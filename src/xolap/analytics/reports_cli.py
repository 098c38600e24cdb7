"""`xolap analytics ...` commands: list and run curated categories, import content titles, show ClickHouse health."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

analytics_app = typer.Typer(help="Curated analytics, content titles and ClickHouse health.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    _err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _client_and_settings():
    from xolap.clickhouse.client import ClickHouseUnavailable, connect
    from xolap.config import ConfigError, get_settings

    try:
        settings = get_settings()
        return connect(settings), settings
    except (ConfigError, ClickHouseUnavailable) as exc:
        _fail(str(exc))


def _date(value: Optional[str], name: str) -> Optional[date]:
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
    section: Optional[int] = typer.Option(None, "--section", help="Section id."),
    project: Optional[int] = typer.Option(None, "--project", help="Project id."),
    start: Optional[str] = typer.Option(None, help="First day, YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, help="Last day (inclusive), YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print rows, spec, SQL and timing as JSON."),
    svg: Optional[Path] = typer.Option(None, help="Also render the chart to this SVG file."),
) -> None:
    """Run one curated category for a section or a project."""
    from xolap.analytics.categories import CategoryError, run_category
    from xolap.analytics.executor import QueryError

    if (section is None) == (project is None):
        _fail("give exactly one of --section ID or --project ID", 2)
    scope, scope_id = ("section", section) if section is not None else ("project", project)
    client, settings = _client_and_settings()
    try:
        result = run_category(client, settings, key, scope=scope, scope_id=scope_id,
                              start=_date(start, "start"), end=_date(end, "end"))
    except CategoryError as exc:
        _fail(str(exc), 2)
    except QueryError as exc:
        _fail(str(exc))
    if svg is not None:
        import vl_convert

        svg.write_text(vl_convert.vegalite_to_svg(result.spec, vl_version="v5_21"))
    if as_json:
        print(json.dumps(result.__dict__, indent=2, default=str))
        return
    if not result.enough_data:
        _out.print(f"{result.title}: not enough data")
        return
    table = Table(*result.columns, title=f"{result.title} ({result.elapsed_ms:.1f} ms)")
    for row in result.rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in result.columns))
    _out.print(table)


@analytics_app.command("titles-import")
def titles_import_command(path: Path = typer.Argument(..., help=".csv (header project_id,kind,content_id,title), .json or .jsonl")) -> None:
    """Import page / video / activity titles; bad rows are listed and the good ones imported."""
    from xolap.analytics.titles import TitlesImportError, import_titles

    client, settings = _client_and_settings()
    try:
        report = import_titles(client, settings, path)
    except TitlesImportError as exc:
        _fail(str(exc), 2)
    for problem in report.problems:
        _err.print(f"[yellow]skipped[/yellow] {problem}")
    _out.print(f"imported {report.imported} title(s), skipped {len(report.problems)}")
    if report.problems:
        raise typer.Exit(1)


@analytics_app.command("health")
def health_command() -> None:
    """Print the ClickHouse health summary as JSON."""
    from xolap.analytics.health import health_summary

    client, settings = _client_and_settings()
    print(json.dumps(health_summary(client, settings), indent=2, default=str))
