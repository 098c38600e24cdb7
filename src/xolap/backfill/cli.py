"""`xolap backfill …`: start, list, inspect, pause/resume/cancel/retry and watch backfills.

Thin adapters over the backfill service, run here or, when `xolap serve` holds the embedded data dir, through its
API (xolap.operations.open_operations; the job then runs in whichever worker serves the queue).
RUN is `manual:ID` or `inventory:ID` (short: `m:ID`, `i:ID`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from xolap.counted import counted

app = typer.Typer(help="Backfill history from S3: glob-pattern runs and S3 Inventory runs.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def parse_run(spec: str) -> tuple[str, int]:
    kind, _, number = spec.partition(":")
    kind = {"m": "manual", "manual": "manual", "i": "inventory", "inventory": "inventory"}.get(kind.lower(), "")
    if not kind or not number.isdigit():
        _fail(f"RUN must be manual:ID or inventory:ID (got {spec!r})")
    return kind, int(number)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            _fail(f"--setting expects name=value (got {pair!r})")
        out[name.strip()] = value.strip()
    return out


def operate(action: Callable[[Any], Any]) -> Any:
    """Run action(ops) here or through the running server; an error is one line and exit 1."""
    from xolap.operation_errors import OperationError
    from xolap.operations import open_operations

    try:
        with open_operations() as ops:
            return action(ops)
    except OperationError as exc:
        _fail(str(exc))


def _print_run(run: dict[str, Any]) -> None:
    table = Table("field", "value", title=f"{run['kind']} run {run['id']}")
    for key, value in run.items():
        if key != "batches":
            table.add_row(
                key, "" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            )
    console.print(table)
    if run.get("batches"):
        batches = Table("batch", "seq", "status", "objects", "skipped", "chunks", "rows written", "attempts", "error")
        for b in run["batches"]:
            batches.add_row(
                str(b["id"]),
                str(b["sequence"]),
                b["status"],
                str(b["object_count"]),
                str(b["skipped_objects"]),
                f"{b['chunks_completed']}/{b['chunk_count']}",
                str(b["rows_written"]),
                str(b["attempts"]),
                b["error"] or "",
            )
        console.print(batches)


def _out(body: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(body, indent=2, default=str))
    elif isinstance(body, dict) and "kind" in body:
        _print_run(body)
    else:
        console.print_json(json.dumps(body, default=str))


@app.command("run")
def run_command(
    pattern: str = typer.Argument(..., help="s3://bucket/key pattern; globs *, **, ?, {a,b}, {1..9}."),
    format: str = typer.Option(
        "JSONAsString", help="JSONAsString (xAPI statements), JSONEachRow or Parquet (mapped rows)."
    ),
    target_table: str | None = typer.Option(None, help="db.table (default <db>.raw_events)."),
    setting: list[str] = typer.Option([], "--setting", "-s", help="ClickHouse setting name=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count objects, rows and bytes."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Start a backfill of everything matching an S3 pattern."""
    body = operate(
        lambda ops: ops.backfill_create_manual(
            s3_pattern=pattern,
            format=format,
            target_table=target_table,
            clickhouse_settings=parse_settings(setting),
            dry_run=dry_run,
        )
    )
    _out(body, as_json)


@app.command("inventory")
def inventory_command(
    manifest: str = typer.Argument(..., help="s3://bucket/.../manifest.json of an S3 Inventory report."),
    chunk_size: int = typer.Option(25, help="Objects per INSERT."),
    max_batches: int = typer.Option(1, help="Inventory files loaded at the same time."),
    prefix: str | None = typer.Option(None, help="Only keys starting with this."),
    date_from: str | None = typer.Option(
        None, "--from", help="Only bundles whose file-name time is at/after this (ISO)."
    ),
    date_to: str | None = typer.Option(None, "--to", help="…and before this (ISO)."),
    format: str = typer.Option("JSONAsString"),
    target_table: str | None = typer.Option(None),
    setting: list[str] = typer.Option([], "--setting", "-s"),
    dry_run: bool = typer.Option(False, "--dry-run"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Start a backfill of the objects an S3 Inventory manifest lists."""
    body = operate(
        lambda ops: ops.backfill_create_inventory(
            manifest_url=manifest,
            chunk_size=chunk_size,
            max_simultaneous_batches=max_batches,
            key_prefix=prefix,
            date_from=date_from,
            date_to=date_to,
            format=format,
            target_table=target_table,
            clickhouse_settings=parse_settings(setting),
            dry_run=dry_run,
        )
    )
    _out(body, as_json)


@app.command("list")
def list_command(
    kind: str | None = typer.Option(None),
    status: str | None = typer.Option(None),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent runs, newest first."""
    runs = operate(lambda ops: ops.backfill_list(kind=kind, status=status, limit=limit))
    if as_json:
        print(json.dumps(runs, indent=2, default=str))
        return
    table = Table("run", "status", "source", "rows", "created", "error")
    for r in runs:
        rows = r.get("rows_written") if r["kind"] == "manual" else r.get("rows_ingested")
        table.add_row(
            f"{r['kind']}:{r['id']}",
            r["status"],
            r.get("s3_pattern") or r.get("manifest_url"),
            str(rows),
            r["created_at"] or "",
            (r.get("error") or "")[:80],
        )
    console.print(table)


@app.command("show")
def show_command(run: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One run (inventory runs with their batches)."""
    kind, run_id = parse_run(run)
    _out(operate(lambda ops: ops.backfill_get(kind, run_id)), as_json)


def _action(name: str, run: str, as_json: bool) -> None:
    kind, run_id = parse_run(run)
    _out(operate(lambda ops: ops.backfill_action(kind, run_id, name)), as_json)


@app.command("pause")
def pause_command(run: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Pause an inventory run: running chunks finish, nothing new starts."""
    _action("pause", run, as_json)


@app.command("resume")
def resume_command(run: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Resume a paused inventory run."""
    _action("resume", run, as_json)


@app.command("cancel")
def cancel_command(run: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Cancel a run and kill its running ClickHouse query."""
    _action("cancel", run, as_json)


@app.command("retry")
def retry_command(
    run: str | None = typer.Argument(None),
    batch: int | None = typer.Option(None, help="Retry only this batch."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Retry a failed/cancelled run, or one batch (`--batch ID`); work resumes after the last completed chunk."""
    if batch is not None:
        _out(operate(lambda ops: ops.backfill_retry_batch(batch)), as_json)
    elif run:
        _action("retry", run, as_json)
    else:
        _fail("give a RUN or --batch ID")


@app.command("watch")
def watch_command(run: str) -> None:
    """Follow a run live (status changes, batches, chunk logs) until it finishes."""
    kind, run_id = parse_run(run)
    from xolap.backfill.models import TERMINAL

    final = operate(lambda ops: _follow(ops, kind, run_id))
    console.print(f"[bold]{kind}:{run_id} {final['status']}[/bold]")
    if kind == "manual" and final["status"] == "completed" and final.get("objects") == 0:
        console.print(  # as the run page says it: a mistyped prefix is no success
            f"[yellow]No file matched {final['s3_pattern']}: nothing was read. Check the bucket, the prefix and "
            "the pattern.[/yellow]",
            highlight=False,
            soft_wrap=True,
        )
    if final["status"] not in TERMINAL:
        raise typer.Exit(1)


def _follow(ops: Any, kind: str, run_id: int) -> dict[str, Any]:
    """Print the run's events until it finishes; the run as it ended."""
    for event in ops.backfill_events(kind, run_id):
        data = event.get("data") or {}
        if event["kind"] == "status":
            extra = f" rows={data.get('rows_written', data.get('rows_ingested'))}"
            if kind == "inventory":
                extra += f" batches {data.get('batches_completed')}/{data.get('batches_total')} failed={data.get('batches_failed')}"
            console.print(
                f"[bold]{kind}:{run_id}[/bold] → [cyan]{data.get('status')}[/cyan]{extra}"
                + (f" [red]{data['error']}[/red]" if data.get("error") else "")
            )
        elif event["kind"] == "progress":
            fraction = data.get("progress")
            console.print(
                f"  progress {fraction * 100:.0f}% ({counted(int(data.get('read_rows') or 0), 'row')} read)"
                if fraction is not None
                else f"  {counted(int(data.get('read_rows') or 0), 'row')} read"
            )
        elif event["kind"] == "batch":
            console.print(
                f"  batch {data.get('sequence')} ({data.get('inventory_key')}): {data.get('status')} "
                f"chunks {data.get('chunks_completed')}/{data.get('chunk_count')}"
                + (f" [red]{data['error']}[/red]" if data.get("error") else "")
            )
        elif event["kind"] == "chunk":
            console.print(
                f"    chunk {data.get('chunk_index')} {data.get('status')}: {counted(len(data.get('keys') or []), 'object')}, "
                f"{counted(int(data.get('rows_written') or 0), 'row')} written, {data.get('duration_ms')} ms"
                + (f" [red]{data['error']}[/red]" if data.get("error") else "")
            )
    return ops.backfill_get(kind, run_id)
