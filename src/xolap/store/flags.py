"""Feature flags: which features are on, globally or for one section or project (rows in feature_flags).

A scoped flag (section/project) is on when its own row says so; without a row it follows the global row of the
same name, so enabling `instructor_dashboard_analytics` globally is a full rollout. No row at all means off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from xolap.store.models import FeatureFlag, Project, Section

ANALYTICS = "clickhouse-olap"
BULK_INGEST = "clickhouse-olap-bulk-ingest"
SECTION_DASHBOARD = "instructor_dashboard_analytics"
PROJECT_DASHBOARD = "project_dashboard_analytics"

# name -> (scopes it may be set on, what it switches on)
KNOWN_FLAGS: dict[str, tuple[tuple[str, ...], str]] = {
    ANALYTICS: (("global",), "ClickHouse analytics: admin console and all dashboards"),
    BULK_INGEST: (("global",), "ingest and backfill tooling"),
    SECTION_DASHBOARD: (("global", "section"), "the instructor dashboard of a section (global = every section)"),
    PROJECT_DASHBOARD: (("global", "project"), "the project dashboard of a project (global = every project)"),
}
SCOPE_TYPES = ("global", "section", "project")


class FlagError(ValueError):
    """An unknown flag, a scope it cannot have, or a scope id that does not exist."""


@dataclass(frozen=True)
class FlagState:
    name: str
    scope_type: str
    scope_id: int
    enabled: bool


def check_flag(name: str, scope_type: str) -> None:
    if name not in KNOWN_FLAGS:
        raise FlagError(f"unknown flag {name!r}: known flags are {', '.join(KNOWN_FLAGS)}")
    if scope_type not in KNOWN_FLAGS[name][0]:
        raise FlagError(
            f"flag {name!r} cannot be set per {scope_type}: allowed scopes are {', '.join(KNOWN_FLAGS[name][0])}"
        )


def _row(session: Session, name: str, scope_type: str, scope_id: int) -> bool | None:
    return session.execute(
        select(FeatureFlag.enabled).where(
            FeatureFlag.name == name, FeatureFlag.scope_type == scope_type, FeatureFlag.scope_id == scope_id
        )
    ).scalar_one_or_none()


def is_enabled(session: Session, name: str, scope_type: str = "global", scope_id: int = 0) -> bool:
    """Whether `name` is on for the scope: its own row, else (scoped flags) the global row, else off."""
    if scope_type != "global":
        own = _row(session, name, scope_type, int(scope_id))
        if own is not None:
            return own
    return bool(_row(session, name, "global", 0))


def enabled_flags(session: Session, wanted: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], bool]:
    """is_enabled for each (name, scope type, scope id) wanted, read in one query (a page listing many scopes, a login
    choosing its landing page): {(name, scope type, scope id): on}."""
    keys = list(dict.fromkeys((name, scope_type, int(scope_id)) for name, scope_type, scope_id in wanted))
    if not keys:
        return {}
    rows = session.execute(
        select(FeatureFlag.name, FeatureFlag.scope_type, FeatureFlag.scope_id, FeatureFlag.enabled).where(
            FeatureFlag.name.in_({name for name, _, _ in keys}),
            tuple_(FeatureFlag.scope_type, FeatureFlag.scope_id).in_(
                {("global", 0)} | {(scope_type, scope_id) for _, scope_type, scope_id in keys if scope_type != "global"}
            ),
        )
    ).all()
    found = {(name, scope_type, int(scope_id)): bool(enabled) for name, scope_type, scope_id, enabled in rows}
    answer = {}
    for name, scope_type, scope_id in keys:
        own = found.get((name, scope_type, scope_id)) if scope_type != "global" else None
        answer[(name, scope_type, scope_id)] = own if own is not None else found.get((name, "global", 0), False)
    return answer


def set_flag(session: Session, name: str, enabled: bool, scope_type: str = "global", scope_id: int = 0) -> FlagState:
    """Switch a flag on or off for a scope (creating its row); checks the name, the scope and that the scope exists."""
    check_flag(name, scope_type)
    scope_id = 0 if scope_type == "global" else int(scope_id)
    if scope_type == "section" and session.get(Section, scope_id) is None:
        raise FlagError(f"no section with id {scope_id}")
    if scope_type == "project" and session.get(Project, scope_id) is None:
        raise FlagError(f"no project with id {scope_id}")
    statement = insert(FeatureFlag).values(name=name, scope_type=scope_type, scope_id=scope_id, enabled=enabled)
    session.execute(
        statement.on_conflict_do_update(
            constraint="uq_feature_flag", set_={"enabled": enabled, "updated_at": func.now()}
        )
    )
    session.flush()
    return FlagState(name, scope_type, scope_id, enabled)


def clear_flag(session: Session, name: str, scope_type: str, scope_id: int) -> bool:
    """Remove a scoped row so the scope follows the global setting again; True when a row was removed."""
    row = session.execute(
        select(FeatureFlag).where(
            FeatureFlag.name == name, FeatureFlag.scope_type == scope_type, FeatureFlag.scope_id == int(scope_id)
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_flags(session: Session) -> list[FlagState]:
    """Every flag row, plus an 'off' line for each known global flag without a row."""
    rows = session.execute(
        select(FeatureFlag).order_by(FeatureFlag.name, FeatureFlag.scope_type, FeatureFlag.scope_id)
    ).scalars()
    states = [FlagState(r.name, r.scope_type, int(r.scope_id), bool(r.enabled)) for r in rows]
    present = {(s.name, s.scope_type) for s in states}
    for name in KNOWN_FLAGS:
        if (name, "global") not in present:
            states.append(FlagState(name, "global", 0, False))
    return sorted(states, key=lambda s: (s.name, SCOPE_TYPES.index(s.scope_type), s.scope_id))
