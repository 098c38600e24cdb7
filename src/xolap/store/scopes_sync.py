"""Sections and projects in Postgres: created from the ids found in ingested events, named by admins or imports.

`sync_scopes(runtime)` reads the distinct section and project ids of raw_events (no FINAL needed for DISTINCT) and
inserts the missing ones with default slugs `section-<id>` / `project-<id>` and titles; existing rows keep
their admin-set slug and title (a section only gains its project_id when it had none). `xolap serve` runs it at
start and every minute (start_scope_sync), and the admin page has a button.

`parse_scopes(data, filename)` reads CSV (header kind,id,slug,title,project_id) or JSON (a list of objects with
those keys); `import_scopes(session, rows)` applies the good rows and reports each bad one by line and field.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from xolap.clickhouse.client import tag
from xolap.clickhouse.events import events_table
from xolap.store.affected import affected_rows
from xolap.store.models import Project, Section

if TYPE_CHECKING:
    from xolap.runtime import Runtime

log = logging.getLogger(__name__)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,198}[a-z0-9])?$")
SYNC_INTERVAL_SECONDS = 60
COLUMNS = ("kind", "id", "slug", "title", "project_id")


def default_slug(kind: str, scope_id: int) -> str:
    return f"{kind}-{scope_id}"


def default_title(kind: str, scope_id: int) -> str:
    return f"{kind.capitalize()} {scope_id}"


def event_scope_ids(runtime: Runtime) -> tuple[dict[int, int | None], set[int]]:
    """({section_id: project_id or None}, {project_id}) present in raw_events."""
    client = runtime.clickhouse()
    table = events_table(runtime.settings.clickhouse_database)
    sections = client.query(
        tag(
            f"SELECT section_id, max(project_id) FROM {table} WHERE section_id IS NOT NULL GROUP BY section_id",
            "scopes-sync",
        )
    ).result_rows
    projects = client.query(
        tag(f"SELECT DISTINCT project_id FROM {table} WHERE project_id IS NOT NULL", "scopes-sync")
    ).result_rows
    section_map = {int(s): (int(p) if p is not None else None) for s, p in sections}
    project_ids = {int(p) for (p,) in projects} | {p for p in section_map.values() if p is not None}
    return section_map, project_ids


def upsert_scopes(session: Session, section_map: dict[int, int | None], project_ids: set[int]) -> dict[str, int]:
    """Insert missing projects and sections with default names; never rename existing ones."""
    created_projects = created_sections = linked = 0
    for new_project in sorted(project_ids):
        created_projects += affected_rows(
            session.execute(
                text("INSERT INTO projects (id, slug, title) VALUES (:id, :slug, :title) ON CONFLICT DO NOTHING"),
                {
                    "id": new_project,
                    "slug": default_slug("project", new_project),
                    "title": default_title("project", new_project),
                },
            )
        )
    for section_id, project_id in sorted(section_map.items()):
        created_sections += affected_rows(
            session.execute(
                text(
                    "INSERT INTO sections (id, slug, title, project_id) VALUES (:id, :slug, :title, "
                    "(SELECT id FROM projects WHERE id = :project)) ON CONFLICT DO NOTHING"
                ),
                {
                    "id": section_id,
                    "slug": default_slug("section", section_id),
                    "title": default_title("section", section_id),
                    "project": project_id,
                },
            )
        )
        if project_id is not None:
            linked += affected_rows(
                session.execute(
                    text(
                        "UPDATE sections SET project_id = :project WHERE id = :id AND project_id IS NULL "
                        "AND EXISTS (SELECT 1 FROM projects WHERE id = :project)"
                    ),
                    {"id": section_id, "project": project_id},
                )
            )
    session.flush()
    return {
        "sections_seen": len(section_map),
        "projects_seen": len(project_ids),
        "sections_created": created_sections,
        "projects_created": created_projects,
        "sections_linked": linked,
    }


def sync_scopes(runtime: Runtime) -> dict[str, int]:
    """Create the sections and projects that events mention; returns counts."""
    section_map, project_ids = event_scope_ids(runtime)
    with runtime.sessions() as session:
        counts = upsert_scopes(session, section_map, project_ids)
        session.commit()
    return counts


def start_scope_sync(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """For xolap.serve.BACKGROUND_STARTERS: sync now, then every minute until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                counts = sync_scopes(runtime)
                if counts["sections_created"] or counts["projects_created"]:
                    log.info(
                        "scopes sync: %d new section(s), %d new project(s)",
                        counts["sections_created"],
                        counts["projects_created"],
                    )
            except Exception as exc:  # noqa: BLE001 - retried next minute
                log.warning("scopes sync failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            stop.wait(SYNC_INTERVAL_SECONDS)

    thread = threading.Thread(target=loop, name="xolap-scopes-sync", daemon=True)
    thread.start()
    return thread


# ---------- import (CSV / JSON) ----------


@dataclass
class ScopeRow:
    line: int
    kind: str
    id: int
    slug: str | None
    title: str | None
    project_id: int | None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "errors": self.errors}


def _int(value: Any, name: str, where: str, errors: list[str], *, optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if not optional:
            errors.append(f"{where}: {name}: required")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors.append(f"{where}: {name}: not an integer ({value!r})")
        return None
    if number <= 0:
        errors.append(f"{where}: {name}: must be positive ({number})")
        return None
    return number


def _validate(record: dict[str, Any], line: int, where: str, errors: list[str]) -> ScopeRow | None:
    before = len(errors)
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        errors.append(f"{where}: unknown column(s) {', '.join(unknown)} (expected {', '.join(COLUMNS)})")
    kind = str(record.get("kind") or "").strip().lower()
    if kind not in ("section", "project"):
        errors.append(f"{where}: kind: must be 'section' or 'project' (got {record.get('kind')!r})")
    scope_id = _int(record.get("id"), "id", where, errors)
    slug = str(record.get("slug") or "").strip() or None
    if slug is not None and not SLUG_RE.match(slug):
        errors.append(f"{where}: slug: {slug!r} must be lowercase letters, digits, '-' or '_' (max 200)")
    title = str(record.get("title") or "").strip() or None
    if title is not None and len(title) > 500:
        errors.append(f"{where}: title: longer than 500 characters")
    project_id = _int(record.get("project_id"), "project_id", where, errors, optional=True)
    if kind == "project" and project_id is not None:
        errors.append(f"{where}: project_id: only sections belong to a project")
    if len(errors) > before or scope_id is None:
        return None
    return ScopeRow(line, kind, scope_id, slug, title, project_id)


def parse_scopes(data: bytes | str, filename: str = "upload.csv") -> tuple[list[ScopeRow], list[str]]:
    """Rows and per-row errors ("file:line: field: reason") from CSV or JSON (chosen by extension or content)."""
    content = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    errors: list[str] = []
    rows: list[ScopeRow] = []
    if filename.lower().endswith(".json") or content.lstrip().startswith(("[", "{")):
        try:
            records = json.loads(content)
        except json.JSONDecodeError as exc:
            return [], [f"{filename}:{exc.lineno}: invalid JSON: {exc.msg}"]
        if isinstance(records, dict):
            records = [
                dict(r, kind=r.get("kind", kind))
                for kind in ("section", "project")
                for r in records.get(kind + "s", [])
            ]
        if not isinstance(records, list):
            return [], [f"{filename}: expected a JSON list of objects with keys {', '.join(COLUMNS)}"]
        for index, record in enumerate(records, start=1):
            where = f"{filename}: item {index}"
            if not isinstance(record, dict):
                errors.append(f"{where}: expected an object")
                continue
            row = _validate(record, index, where, errors)
            if row:
                rows.append(row)
        return rows, errors
    reader = csv.DictReader(io.StringIO(content))
    missing = {"kind", "id"} - set(reader.fieldnames or [])
    if missing:
        return [], [
            f"{filename}:1: header must include kind and id (columns: {', '.join(COLUMNS)}); missing {', '.join(sorted(missing))}"
        ]
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append(f"{filename}:{line}: more values than header columns")
            continue
        row = _validate({k: v for k, v in record.items() if k}, line, f"{filename}:{line}", errors)
        if row:
            rows.append(row)
    return rows, errors


def import_scopes(session: Session, rows: list[ScopeRow], filename: str = "upload") -> ImportResult:
    """Create or rename sections and projects; a failing row (e.g. a slug taken) is reported, the others kept."""
    result = ImportResult()
    for row in sorted(rows, key=lambda r: (r.kind != "project", r.line)):
        model: type[Project] | type[Section] = Project if row.kind == "project" else Section
        where = f"{filename}:{row.line}"
        slug_owner = (
            session.execute(select(model.id).where(model.slug == row.slug)).scalar_one_or_none() if row.slug else None
        )
        if slug_owner is not None and slug_owner != row.id:
            result.errors.append(f"{where}: slug: {row.slug!r} is already used by {row.kind} {slug_owner}")
            continue
        if row.project_id is not None and session.get(Project, row.project_id) is None:
            result.errors.append(
                f"{where}: project_id: no project {row.project_id} (import it first or in the same file)"
            )
            continue
        existing = session.get(Project, row.id) if row.kind == "project" else session.get(Section, row.id)
        if existing is None:
            values = {
                "id": row.id,
                "slug": row.slug or default_slug(row.kind, row.id),
                "title": row.title or default_title(row.kind, row.id),
            }
            if row.kind == "section":
                values["project_id"] = row.project_id
            session.add(model(**values))
            result.created += 1
        else:
            if row.slug:
                existing.slug = row.slug
            if row.title:
                existing.title = row.title
            if isinstance(existing, Section) and row.project_id is not None:
                existing.project_id = row.project_id
            result.updated += 1
        session.flush()
    return result


def rename_scope(session: Session, kind: str, scope_id: int, *, slug: str, title: str) -> None:
    """An admin sets a section's or project's slug and title (checked like an imported row)."""
    errors: list[str] = []
    row = _validate({"kind": kind, "id": scope_id, "slug": slug, "title": title}, 1, f"{kind} {scope_id}", errors)
    if row is None:
        raise ValueError("; ".join(errors))
    if row.slug is None:
        raise ValueError(f"{kind} {scope_id}: slug: required")
    model = Project if kind == "project" else Section
    if session.get(model, scope_id) is None:
        raise ValueError(f"no {kind} with id {scope_id}")
    result = import_scopes(session, [row], f"{kind} {scope_id}")
    if result.errors:
        raise ValueError("; ".join(result.errors))
