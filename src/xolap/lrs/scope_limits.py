"""Where a section- or project-limited LRS credential may write: inside its scope on both scope columns.

A statement names its section and project in context extensions, and the raw_events mapping files it under both, so
a limit on one column alone lets a credential write into another scope: a section's credential naming another
project puts events on that project's dashboards (and widens the section's own content_titles, which follow the
projects its events name); a project's credential naming a section of another project puts events on that section's
dashboard. Postgres knows which project each section is taught from, so:
- a section credential's statements may name only its section's project (none named: that project's id is its
  lrs_statements column); a section Postgres files under no project has no project to hold them against, so its
  credential's statements may name no project (a named one would be a guess; they are stored under the section alone);
- a project credential's statements may name only sections Postgres files under its project (or no section): a
  section Postgres does not know yet is refused, because section ids are sequential and a section added later under
  another project would show what this credential filed under it beforehand;
- a limited credential voids only statements stored inside its scope (voiding withdraws the target's events from
  raw_events, so another scope's events could be deleted by naming their statement id);
- a limited credential sees an LRS of its own scope: a statement id stored outside it is "in use" (409) whatever the
  content sent, never compared with the other scope's statement (statements.save compares content only with a
  statement the credential may read: query.may_read, built on `holds`).
Refusals are 403 and name the rule, never a value from the statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from xolap.lrs.credentials import LrsCredential
from xolap.lrs.storage import StatementStore
from xolap.store.models import Section


class OutsideScope(Exception):
    """A statement the credential may not write: `index` is its place in the request, str() the rule."""

    def __init__(self, index: int, rule: str) -> None:
        super().__init__(rule)
        self.index = index


def section_projects(sessions: sessionmaker[Session], section_ids: set[int]) -> dict[int, int | None]:
    """The project each known section is taught from (None: taught from none); unknown sections are left out."""
    if not section_ids:
        return {}
    with sessions() as session:
        rows = session.execute(select(Section.id, Section.project_id).where(Section.id.in_(sorted(section_ids)))).all()
    return {int(section): (int(project) if project is not None else None) for section, project in rows}


def check_scope_columns(
    columns: Sequence[dict[str, Any]], credential: LrsCredential, sessions: sessionmaker[Session] | None
) -> None:
    """Raise OutsideScope for the first statement (by its lookup columns) outside the credential's scope; a section
    credential's statements take its section's project. Unlimited credentials, or no Postgres: nothing to check."""
    if sessions is None or (credential.section_id is None and credential.project_id is None):
        return
    if credential.section_id is not None:
        project = section_projects(sessions, {credential.section_id}).get(credential.section_id)
        for index, row in enumerate(columns):
            if project is None and row.get("project_id"):
                raise OutsideScope(
                    index, "this credential's section is taught from no project, so its statements may name no project"
                )
            if row.get("project_id") and row["project_id"] != project:
                raise OutsideScope(index, "this credential may only write statements of its section's project")
            row["project_id"] = project or 0
        return
    named = {int(row["section_id"]) for row in columns if row.get("section_id")}
    projects = section_projects(sessions, named)
    for index, row in enumerate(columns):
        section = row.get("section_id")
        if section and int(section) not in projects:
            raise OutsideScope(
                index, "the section this statement names is not known to xolap yet: add it under this project first"
            )
        if section and projects[int(section)] != credential.project_id:
            raise OutsideScope(index, "this credential may only write statements of sections of its project")


def holds(credential: LrsCredential, section_id: int | None, project_id: int | None) -> bool:
    """Whether a stored statement filed under (section_id, project_id) is inside the credential's scope (always, for
    an unlimited credential)."""
    if credential.section_id is not None and section_id != credential.section_id:
        return False
    return credential.project_id is None or project_id == credential.project_id


def voids_outside_scope(store: StatementStore, credential: LrsCredential, target_ids: Sequence[str]) -> bool:
    """True when a limited credential names a stored statement outside its section or project as a voiding target
    (targets not stored are not anyone's)."""
    if credential.section_id is None and credential.project_id is None:
        return False
    return any(not holds(credential, row.section_id, row.project_id) for row in store.fetch(list(target_ids)).values())
