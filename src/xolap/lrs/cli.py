"""`xolap lrs credentials add|list|revoke`: LRS key/secret pairs in Postgres (the rules of xolap.lrs.credentials;
works with or without a running server, like `xolap users`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from xolap.cli_session import command_session, fail

lrs_app = typer.Typer(help="The xAPI LRS at /xAPI: credentials.", no_args_is_help=True)
credentials_app = typer.Typer(help="LRS credentials (HTTP Basic key/secret pairs).", no_args_is_help=True)
lrs_app.add_typer(credentials_app, name="credentials")
console = Console()
err_console = Console(stderr=True)


_fail = fail


@contextmanager
def _session() -> Iterator:
    """A session for one command (xolap.cli_session); a refused credential change exits 2."""
    from xolap.lrs.credentials import CredentialError

    with command_session({CredentialError: 2}) as session:
        yield session


@credentials_app.command("add")
def credentials_add(
    name: str = typer.Option(..., "--name", help="What the credential is for (shown as the authority's name)."),
    scope: list[str] = typer.Option(["write", "read-all"], "--scope", help="write, read-own or read-all (repeatable)."),
    section: str | None = typer.Option(None, "--section", help="Limit to one section (id or slug)."),
    project: str | None = typer.Option(None, "--project", help="Limit to one project (id or slug)."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, secret, ...} as JSON."),
) -> None:
    """Create a credential; its secret is shown once."""
    from xolap.lrs import credentials

    with _session() as session:
        cred, secret = credentials.create(session, name, scope, section=section, project=project)
        data = {**cred.as_json(), "secret": secret}
    if as_json:
        typer.echo(json.dumps(data))
    else:
        console.print(f"key:    {data['key']}\nsecret: {secret}\nscopes: {', '.join(data['scopes'])}")


@credentials_app.command("list")
def credentials_list(
    as_json: bool = typer.Option(False, "--json"),
    revoked: bool = typer.Option(False, "--revoked", help="Include revoked credentials."),
) -> None:
    """Credentials (never their secrets)."""
    from xolap.lrs import credentials

    with _session() as session:
        rows = credentials.list_all(session, include_revoked=revoked)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("key", "name", "scopes", "section", "project", "created", "revoked")
    for row in rows:
        table.add_row(
            row["key"],
            row["name"],
            ",".join(row["scopes"]),
            str(row["section_id"] or ""),
            str(row["project_id"] or ""),
            row["created_at"] or "",
            "yes" if row["revoked"] else "",
        )
    console.print(table)


@credentials_app.command("revoke")
def credentials_revoke(key: str) -> None:
    """Revoke a credential by key (requests with it are refused at once)."""
    from xolap.lrs import credentials

    with _session() as session:
        if not credentials.revoke(session, key):
            _fail("no live LRS credential with that key", 2)
    console.print("revoked")
