"""Demo data for `make demo`: generated events through the real ingest path, named scopes, logins and flags.

Runs inside `xolap serve --demo` (which holds the engine) before the app starts serving. Loading happens only when
raw_events is empty, so the demo works twice in a row; accounts and flags are ensured every time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from xolap.config import ENV_PREFIX
from xolap.runtime import LOCAL_ADMIN_TOKEN_FILE, Runtime

if TYPE_CHECKING:
    from xolap.generator.generate import CourseDataGenerator

log = logging.getLogger("xolap.demo")

DEMO_SEED = 2026
DEMO_PROJECTS = 3
DEMO_SECTIONS_PER_PROJECT = 3


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    where: str = ""


ADMIN = DemoLogin("admin", "admin@xolap.local", "xolap-admin")
INSTRUCTOR = DemoLogin("instructor", "instructor@xolap.local", "xolap-instructor")
AUTHOR = DemoLogin("author", "author@xolap.local", "xolap-author")


def load_events(runtime: Runtime, events: int) -> tuple[int, int]:
    """Generate `events` statements to <data_dir>/demo/events.jsonl and ingest them like `xolap ingest` does."""
    from xolap.generator.generate import CourseDataGenerator
    from xolap.generator.sinks import JsonlFileSink, write_statements
    from xolap.ingest.files import expand_paths, ingest_file

    settings = runtime.settings
    folder = settings.data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.jsonl"
    generator = CourseDataGenerator(
        DEMO_SEED, events, projects=DEMO_PROJECTS, sections_per_project=DEMO_SECTIONS_PER_PROJECT
    )
    started = time.perf_counter()
    with JsonlFileSink(path) as sink:
        written = write_statements(generator, sink)
    log.info("generated %s demo statements in %.1f s", f"{written:,}", time.perf_counter() - started)
    started = time.perf_counter()
    rows = rejected = 0
    for item in expand_paths([str(path)]):
        report = ingest_file(runtime.clickhouse(), settings, item, ingest_path="demo")
        rows += report.rows
        rejected += report.rejected
    log.info("ingested %s rows (%s rejected) in %.1f s", f"{rows:,}", rejected, time.perf_counter() - started)
    name_scopes(runtime, generator)
    return rows, rejected


def name_scopes(runtime: Runtime, generator: CourseDataGenerator) -> None:
    """Sections and projects appear from events; give them the generated course's names and slugs."""
    from xolap.generator.catalogue import section_rows
    from xolap.store.scopes_sync import ScopeRow, import_scopes, sync_scopes

    sync_scopes(runtime)
    rows = [
        ScopeRow(i, "project", p.project_id, p.slug, p.title, None) for i, p in enumerate(generator.world.projects, 1)
    ]
    rows += [
        ScopeRow(100 + i, "section", s["section_id"], s["slug"], s["title"], s["project_id"])
        for i, s in enumerate(section_rows(generator), 1)
    ]
    with runtime.sessions.begin() as session:
        result = import_scopes(session, rows, "demo catalogue")
    if result.errors:
        log.warning("demo scope names: %s", "; ".join(result.errors))


def ensure_accounts(runtime: Runtime) -> list[DemoLogin]:
    """Demo logins (admin, an instructor of the largest section, an author of its project) and the flags on."""
    from xolap.store import accounts, flags
    from xolap.store.models import Project, Section
    from xolap.store.scopes_sync import sync_scopes

    client = runtime.clickhouse()
    db = runtime.settings.clickhouse_database
    sync_scopes(runtime)
    biggest = client.query(
        f"SELECT section_id, any(project_id) FROM `{db}`.raw_events WHERE section_id IS NOT NULL "
        "GROUP BY section_id ORDER BY count() DESC LIMIT 1"
    ).result_rows
    logins = [ADMIN]
    with runtime.sessions.begin() as session:
        for login in (ADMIN, INSTRUCTOR, AUTHOR):
            user = accounts.find_user(session, login.email)
            if user is None:
                user = accounts.create_user(
                    session, login.email, password=login.password, is_admin=login is ADMIN, name=login.role.title()
                )
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.BULK_INGEST, True)
        for every_section in session.scalars(select(Section)):
            flags.set_flag(session, flags.SECTION_DASHBOARD, True, "section", every_section.id)
        for every_project in session.scalars(select(Project)):
            flags.set_flag(session, flags.PROJECT_DASHBOARD, True, "project", every_project.id)
        if biggest:
            section_id, project_id = biggest[0]
            section = session.get(Section, section_id)
            instructor = accounts.get_user(session, INSTRUCTOR.email)
            if section is not None and not any(m.section_id == section.id for m in instructor.memberships):
                accounts.grant(session, instructor, section=section)
            if section is not None:
                logins.append(
                    DemoLogin(
                        INSTRUCTOR.role, INSTRUCTOR.email, INSTRUCTOR.password, f"/sections/{section.slug}/analytics"
                    )
                )
            project = session.get(Project, project_id) if project_id is not None else None
            author = accounts.get_user(session, AUTHOR.email)
            if project is not None and not any(m.project_id == project.id for m in author.memberships):
                accounts.grant(session, author, project=project)
            if project is not None:
                logins.append(
                    DemoLogin(AUTHOR.role, AUTHOR.email, AUTHOR.password, f"/projects/{project.slug}/analytics")
                )
    return logins


def demo_hook(events: int) -> Callable[[Runtime], None]:
    """A serve start-up hook: load the demo once, ensure logins, and leave announcements for the ready message."""

    def load(runtime: Runtime) -> None:
        client = runtime.clickhouse()
        db = runtime.settings.clickhouse_database
        existing = client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0]
        if existing:
            log.info("demo data already loaded (%s events); not loading again", f"{existing:,}")
        else:
            log.info("loading %s demo events (generate, then ingest through the real path)", f"{events:,}")
            load_events(runtime, events)
        logins = ensure_accounts(runtime)
        lines = ["demo logins:"]
        for login in logins:
            lines.append(
                f"  {login.role:<10} {login.email} / {login.password}" + (f"   → {login.where}" if login.where else "")
            )
        lines.append(admin_token_announcement(runtime))
        runtime.announcements = lines

    return load


def admin_token_announcement(runtime: Runtime) -> str:
    """Where the admin API token is, named only once it exists: the configured setting, else the token file under the
    data dir, generated here (mode 0600) if this is the first start, so the banner never names a missing file."""
    if runtime.settings.admin_token is not None:
        return f"admin API token: the configured {ENV_PREFIX}ADMIN_TOKEN"
    runtime.admin_token  # noqa: B018 - creates <data_dir>/admin-token on the first start
    token_file = runtime.settings.data_dir / LOCAL_ADMIN_TOKEN_FILE
    return f"admin API token: {token_file.resolve()}"
