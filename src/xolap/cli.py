"""The `xolap` command line: configuration, migrations, serve; other areas register their sub-commands here.

Commands that need the engine go through xolap.operations.open_operations (here, or the running `xolap serve`).
Modules imported at the top stay light (typer, rich) so `xolap --help` is fast; the rest is imported in commands."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from xolap.config import Settings
    from xolap.runtime import Runtime

console = Console()
err_console = Console(stderr=True)


class _Cli(typer.Typer):
    """The `xolap` command: an error that escapes a command prints one line (xolap.cli_errors) and exits 1;
    `--debug` anywhere on the command line (or XOLAP_DEBUG=1) shows the traceback instead."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import os

        debug = "--debug" in sys.argv[1:] or os.environ.get("XOLAP_DEBUG") == "1"
        if "--debug" in sys.argv[1:]:
            sys.argv.remove("--debug")
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the top level: one line unless --debug
            if debug:
                raise
            from xolap.cli_errors import explain

            err_console.print(f"[red]error:[/red] {explain(exc)}", highlight=False, soft_wrap=True)
            err_console.print("(run with --debug for the traceback)", style="dim", highlight=False)
            raise SystemExit(1) from None


app = _Cli(help="xolap: an analytics warehouse for xAPI learning events.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
ch_app = typer.Typer(help="ClickHouse administration.", no_args_is_help=True)
db_app = typer.Typer(help="Postgres administration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(ch_app, name="ch")
app.add_typer(db_app, name="db")

from xolap.ingest.etl.cli import etl_app  # noqa: E402

app.add_typer(etl_app, name="etl")

from xolap.accounts_cli import flags_app, scopes_app, users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(flags_app, name="flags")
app.add_typer(scopes_app, name="scopes")
from xolap.lrs.cli import lrs_app  # noqa: E402

app.add_typer(lrs_app, name="lrs")
from xolap.analytics.reports_cli import analytics_app  # noqa: E402

app.add_typer(analytics_app, name="analytics")
from xolap.backfill.cli import app as backfill_app  # noqa: E402

app.add_typer(backfill_app, name="backfill")
from xolap.generator.cli import generate_command  # noqa: E402

app.command("generate")(generate_command)
from xolap.analytics.query_cli import query_command  # noqa: E402

app.command("query")(query_command)
from xolap.ingest.cli import ingest_command  # noqa: E402

app.command("ingest")(ingest_command)


def settings_or_exit() -> Settings:
    from xolap.config import ConfigError, get_settings

    try:
        return get_settings()
    except ConfigError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@config_app.command("show")
def config_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective configuration (secrets masked)."""
    values = settings_or_exit().display()
    if as_json:
        print(json.dumps(values, indent=2, default=str))
        return
    table = Table("variable", "value")
    for key, value in values.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


@ch_app.command("migrate")
def ch_migrate(
    action: str = typer.Argument("up", help="setup | up | down | status"),
    steps: int = typer.Option(1, help="down: how many migrations to revert."),
    target: int | None = typer.Option(None, help="up: stop at this version."),
    sql: bool = typer.Option(False, "--sql", help="Print the rendered SQL instead of running it."),
) -> None:
    """Run ClickHouse migrations (through the running server when `xolap serve` holds the engine)."""
    from xolap.clickhouse.migrations import MIGRATION_ACTIONS, RenderContext, render_all
    from xolap.operation_errors import OperationError
    from xolap.operations import open_operations

    settings = settings_or_exit()
    if sql:
        context = RenderContext(
            settings.clickhouse_database, settings.clickhouse_cluster, settings.raw_events_ttl_months
        )
        print(";\n\n".join(render_all(context)) + ";")
        return
    if action not in MIGRATION_ACTIONS:
        fail(f"unknown action {action!r}: use {', '.join(MIGRATION_ACTIONS)}", 2)
    try:
        with open_operations(settings) as ops:
            result = ops.migrate(action, steps=steps, target=target)
    except OperationError as exc:
        fail(str(exc), exc.exit_code)
    if result["changed"]:
        console.print(f"{action}: " + ", ".join(result["changed"]))
    table = Table("version", "name", "applied", "applied at")
    for row in result["status"]:
        table.add_row(f"{row['version']:04d}", row["name"], "yes" if row["applied"] else "no", row["applied_at"] or "")
    console.print(table)


@ch_app.command("readonly-user")
def ch_readonly_user(
    sql: bool = typer.Option(
        False, "--sql", help="Print the DDL (CREATE SETTINGS PROFILE / USER, GRANT) to run as an admin."
    ),
    user: str = typer.Option("xolap_readonly", "--user", help="Name of the read-only user."),
    password: str = typer.Option(
        "CHANGE-ME", "--password", help="Password to put in the DDL (default: a placeholder to replace)."
    ),
    include_ingest_errors: bool = typer.Option(
        False, "--include-ingest-errors", help="Also grant ingest_errors (for `xolap query --admin`)."
    ),
) -> None:
    """Server mode: the user custom SQL runs as (SELECT on raw_events and content_titles, read-only profile with capped limits)."""
    from xolap.analytics.readonly_user import plan_from_settings, render_script

    settings = settings_or_exit()
    if not sql:
        fail("only --sql is supported: print the DDL, review it, and run it as a ClickHouse admin user", 2)
    try:
        plan = plan_from_settings(settings, user=user, password=password, include_ingest_errors=include_ingest_errors)
        print(render_script(plan), end="")
    except ValueError as exc:
        fail(str(exc), 2)


@db_app.command("migrate")
def db_migrate(
    down: str | None = typer.Option(None, help="Downgrade to this revision (e.g. -1 or base) instead."),
    status: bool = typer.Option(False, help="Only show the current and head revisions."),
) -> None:
    """Apply Postgres migrations (Alembic), including procrastinate's schema."""
    from xolap.store import migrate as pg_migrate
    from xolap.store.postgres import stop_embedded

    settings = settings_or_exit()
    try:
        if not status:
            if down:
                pg_migrate.downgrade(settings, down)
            else:
                pg_migrate.upgrade(settings)
        console.print_json(json.dumps(pg_migrate.status(settings)))
    except Exception as exc:  # noqa: BLE001
        fail(str(exc))
    finally:
        stop_embedded()


@app.command("serve")
def serve_command(
    host: str | None = typer.Option(None, help="Bind address (default XOLAP_HOST or 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default XOLAP_PORT or 8000)."),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="Apply pending migrations of both stores at start."
    ),
    demo: bool = typer.Option(False, help="Load demo data and accounts when the warehouse is empty."),
    demo_events: int = typer.Option(1_000_000, help="How many events the demo generates."),
) -> None:
    """Run the product: web app, job worker and (when configured) the ETL worker, in one process."""
    from xolap.serve import ListenAddressError, serve
    from xolap.serve_lock import DataDirBusy

    settings = settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("procrastinate", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # psycopg.pool warns every second while Postgres is down; urllib3 and clickhouse-connect on each refused try
    for chatty in ("psycopg.pool", "urllib3.connectionpool", "clickhouse_connect"):
        logging.getLogger(chatty).setLevel(logging.ERROR)
    hooks = []
    if demo:
        from xolap.demo import demo_hook

        hooks.append(demo_hook(demo_events))

    def ready(url: str, runtime: Runtime) -> None:
        print(f"xolap is serving at {url}  (health: {url}/healthz)")
        for line in runtime.announcements:
            print(line)
        sys.stdout.flush()

    try:
        serve(
            settings,
            host=host or settings.host,
            port=port or settings.port,
            migrate=migrate,
            on_ready=ready,
            startup_hooks=hooks,
        )
    except DataDirBusy as exc:
        fail(str(exc))
    except ListenAddressError as exc:
        fail(str(exc), 2)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the captured Ctrl-C after its shutdown; serve() has already cleaned up
    console.print("xolap stopped: web, workers, Postgres and ClickHouse closed.")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
