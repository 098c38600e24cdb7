"""`xolap users`, `xolap flags` and `xolap scopes`: accounts, feature flags and section/project names, in Postgres.

These talk to Postgres directly (a running `xolap serve` shares its embedded postmaster), so they work with or
without a server; the rules (valid email, password length, known flags, sections by id or slug) are the store's
(xolap.store.accounts, xolap.store.flags), the same the admin pages apply. An unknown section or project exits 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from xolap.cli_session import command_session, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from xolap.store.models import Project, Section

# The names of xolap.store.flags.KNOWN_FLAGS (kept literal so `xolap --help` needs no database code; a test checks).
FLAG_NAMES = (
    "clickhouse-olap",
    "clickhouse-olap-bulk-ingest",
    "instructor_dashboard_analytics",
    "project_dashboard_analytics",
)

users_app = typer.Typer(help="User accounts, roles and API tokens.", no_args_is_help=True)
flags_app = typer.Typer(help="Feature flags (global, per section, per project).", no_args_is_help=True)
scopes_app = typer.Typer(help="Sections and projects: names and slugs.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


_fail = fail


@contextmanager
def _session() -> Iterator[Session]:
    """A session for one command: an unknown section or project exits 2, other refused changes exit 1."""
    from xolap.store import accounts, flags

    with command_session(
        {accounts.UnknownScope: 2, accounts.AccountError: 1, flags.FlagError: 1, ValueError: 1}
    ) as session:
        yield session


@users_app.command("add")
def users_add(
    email: str = typer.Argument(..., help="The user's email (their login)."),
    admin: bool = typer.Option(False, "--admin", help="Make the user an administrator."),
    name: str = typer.Option("", help="Display name."),
    password: str | None = typer.Option(None, help="Password (asked for when omitted; min 8 characters)."),
    no_password: bool = typer.Option(False, "--no-password", help="No password: API tokens only."),
) -> None:
    """Create a user."""
    from xolap.store import accounts

    if password is None and not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _session() as session:
        user = accounts.create_user(session, email, password=password, is_admin=admin, name=name)
        console.print(f"created user {user.email}" + (" (admin)" if admin else ""))


@users_app.command("password")
def users_password(
    email: str, password: str | None = typer.Option(None, help="New password (asked when omitted).")
) -> None:
    """Set a user's password (ends their sessions)."""
    from xolap.store import accounts

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _session() as session:
        accounts.set_password(session, accounts.get_user(session, email), password)
        console.print(f"password changed for {email}")


@users_app.command("admin")
def users_admin(
    email: str, revoke: bool = typer.Option(False, "--revoke", help="Remove admin rights instead.")
) -> None:
    """Give (or with --revoke remove) administrator rights."""
    from xolap.store import accounts

    with _session() as session:
        accounts.get_user(session, email).is_admin = not revoke
        console.print(f"{email} is {'no longer ' if revoke else ''}an admin")


def _scope_target(session: Session, section: str | None, project: str | None) -> tuple[str, Section | Project]:
    """("section", Section) or ("project", Project) from exactly one of --section / --project (id or slug)."""
    from xolap.store import accounts

    if section is not None and project is None:
        return "section", accounts.resolve_section(session, section)
    if project is not None and section is None:
        return "project", accounts.resolve_project(session, project)
    _fail("give exactly one of --section or --project", 2)


@users_app.command("grant")
def users_grant(
    email: str,
    section: str | None = typer.Option(None, "--section", help="Section id or slug: make the user its instructor."),
    project: str | None = typer.Option(None, "--project", help="Project id or slug: make the user its author."),
) -> None:
    """Make a user instructor of a section or author of a project."""
    from xolap.store import accounts
    from xolap.store.models import Section

    with _session() as session:
        user = accounts.get_user(session, email)
        kind, target = _scope_target(session, section, project)
        if isinstance(target, Section):
            accounts.grant(session, user, section=target)
        else:
            accounts.grant(session, user, project=target)
        role = "instructor" if kind == "section" else "author"
        console.print(f"{email} is {role} of {kind} {target.slug} ({target.id})")


@users_app.command("revoke")
def users_revoke(
    email: str,
    section: str | None = typer.Option(None, "--section", help="Section id or slug."),
    project: str | None = typer.Option(None, "--project", help="Project id or slug."),
) -> None:
    """Remove a user's instructor or author role."""
    from xolap.store import accounts
    from xolap.store.models import Membership

    with _session() as session:
        user = accounts.get_user(session, email)
        kind, target = _scope_target(session, section, project)
        column = Membership.section_id if kind == "section" else Membership.project_id
        row = session.query(Membership).filter(Membership.user_id == user.id, column == target.id).one_or_none()
        if row is None:
            _fail(f"{email} has no such role")
        accounts.revoke(session, user, row.id)
        console.print("role removed")


@users_app.command("token")
def users_token(email: str, name: str = typer.Option("", "--name", help="A label for the token.")) -> None:
    """Create an API token for a user and print it (once: only its hash is stored)."""
    from xolap.store import accounts

    with _session() as session:
        _row, plaintext = accounts.create_token(session, accounts.get_user(session, email), name)
    print(plaintext)


@users_app.command("list")
def users_list() -> None:
    """Users with their roles."""
    from sqlalchemy import select

    from xolap.store import accounts
    from xolap.store.models import Project, Section

    with _session() as session:
        table = Table("email", "name", "admin", "instructor of", "author of", "tokens")
        for user in accounts.list_users(session):
            roles = accounts.roles(session, user)
            sections = session.scalars(
                select(Section.slug).where(Section.id.in_(roles.section_ids)).order_by(Section.id)
            ).all()
            projects = session.scalars(
                select(Project.slug).where(Project.id.in_(roles.project_ids)).order_by(Project.id)
            ).all()
            table.add_row(
                user.email,
                user.name,
                "yes" if user.is_admin else "",
                ", ".join(sections),
                ", ".join(projects),
                str(len(accounts.tokens(session, user))),
            )
        console.print(table)


def _scope(session: Session, section: str | None, project: str | None) -> tuple[str, int]:
    from xolap.store import accounts

    if section is not None and project is not None:
        _fail("give at most one of --section or --project", 2)
    if section is not None:
        return "section", accounts.resolve_section(session, section).id
    if project is not None:
        return "project", accounts.resolve_project(session, project).id
    return "global", 0


def _set(name: str, enabled: bool, section: str | None, project: str | None) -> None:
    from xolap.store import flags

    with _session() as session:
        scope_type, scope_id = _scope(session, section, project)
        state = flags.set_flag(session, name, enabled, scope_type, scope_id)
        where = "globally" if scope_type == "global" else f"for {scope_type} {scope_id}"
        console.print(f"{state.name} {'enabled' if enabled else 'disabled'} {where}")


@flags_app.command("enable")
def flags_enable(
    name: str = typer.Argument(..., help=f"One of: {', '.join(FLAG_NAMES)}"),
    section: str | None = typer.Option(None, "--section", help="Section id or slug."),
    project: str | None = typer.Option(None, "--project", help="Project id or slug."),
) -> None:
    """Switch a flag on (globally, or for one section or project)."""
    _set(name, True, section, project)


@flags_app.command("disable")
def flags_disable(
    name: str = typer.Argument(..., help=f"One of: {', '.join(FLAG_NAMES)}"),
    section: str | None = typer.Option(None, "--section", help="Section id or slug."),
    project: str | None = typer.Option(None, "--project", help="Project id or slug."),
) -> None:
    """Switch a flag off (globally, or for one section or project)."""
    _set(name, False, section, project)


@flags_app.command("list")
def flags_list() -> None:
    """Every flag setting."""
    from xolap.store import flags

    with _session() as session:
        table = Table("flag", "scope", "id", "enabled", "meaning")
        for state in flags.list_flags(session):
            table.add_row(
                state.name,
                state.scope_type,
                "" if state.scope_type == "global" else str(state.scope_id),
                "on" if state.enabled else "off",
                flags.KNOWN_FLAGS.get(state.name, ((), ""))[1],
            )
        console.print(table)


@scopes_app.command("import")
def scopes_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or JSON: kind,id,slug,title,project_id"),
) -> None:
    """Create or rename sections and projects from a file; bad rows are reported, good rows kept."""
    from xolap.store.scopes_sync import import_scopes, parse_scopes

    rows, errors = parse_scopes(file.read_bytes(), file.name)
    with _session() as session:
        result = import_scopes(session, rows, file.name)
    console.print(f"{result.created} created, {result.updated} updated")
    for error in errors + result.errors:
        err_console.print(f"[yellow]skipped[/yellow] {error}")
    if errors or result.errors:
        raise typer.Exit(1)


@scopes_app.command("list")
def scopes_list() -> None:
    """Known sections and projects."""
    from sqlalchemy import select

    from xolap.store.models import Project, Section

    with _session() as session:
        table = Table("kind", "id", "slug", "title", "project")
        for project in session.execute(select(Project).order_by(Project.id)).scalars():
            table.add_row("project", str(project.id), project.slug, project.title, "")
        for section in session.execute(select(Section).order_by(Section.id)).scalars():
            table.add_row("section", str(section.id), section.slug, section.title, str(section.project_id or ""))
        console.print(table)
