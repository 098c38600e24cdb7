"""What the dashboards and their API act on: one section or one project, its SQL scope id, and the tag registry
that ties running custom queries to the scope that started them (so progress and cancel stay in that scope)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from fastapi import Request

Kind = Literal["section", "project"]
TAG_RE = re.compile(r"^q-[0-9a-f]{16}$")


class DashboardError(Exception):
    """A request the dashboards refuse; `status` is the HTTP status, `kind` a stable word, str() the reason."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"kind": self.kind, "message": self.message}}


@dataclass(frozen=True)
class AnalyticsScope:
    """A section or project as the dashboards see it; `id` is the producer's id bound as xolap_scope_id in SQL."""

    kind: Kind
    id: int
    slug: str
    title: str
    project_id: int | None = None

    @property
    def plural(self) -> str:
        return f"{self.kind}s"

    @property
    def page_url(self) -> str:
        return f"/{self.plural}/{self.slug}/analytics"

    @property
    def api_base(self) -> str:
        return f"/api/v1/{self.plural}/{self.slug}/analytics"

    @property
    def label(self) -> str:
        return self.title or self.slug

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "project_id": self.project_id,
            "page_url": self.page_url,
            "api_base": self.api_base,
        }


def section_scope(section: Any) -> AnalyticsScope:
    return AnalyticsScope("section", int(section.id), section.slug, section.title or "", section.project_id)


def project_scope(project: Any) -> AnalyticsScope:
    return AnalyticsScope("project", int(project.id), project.slug, project.title or "", int(project.id))


def parse_date(name: str, value: str | None) -> date | None:
    """An optional YYYY-MM-DD query parameter; DashboardError naming the parameter when it is not a date."""
    if value is None or value.strip() == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DashboardError(400, "invalid", f"{name}: expected a date as YYYY-MM-DD, got {value!r}") from None


def check_range(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise DashboardError(400, "invalid", f"start {start.isoformat()} is after end {end.isoformat()}")


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise DashboardError(400, "invalid", f"query tag must look like q- followed by 16 hex digits, got {tag!r}")
    return tag


class RunningQueries:
    """Which scope started each custom query tag; a cancel that arrives before its query starts is remembered. The
    admin SQL console's queries (the whole warehouse) are owned by scope None, which no dashboard scope matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, tuple[str, int]] = {}
        self._cancel_early: dict[str, tuple[str, int]] = {}

    @staticmethod
    def _key(scope: AnalyticsScope | None) -> tuple[str, int]:
        return ("admin", 0) if scope is None else (scope.kind, scope.id)

    def start(self, tag: str, scope: AnalyticsScope | None) -> bool:
        """Register a tag for a scope; False when it was cancelled before it started. DashboardError if taken."""
        with self._lock:
            if tag in self._owners:
                raise DashboardError(409, "conflict", f"query tag {tag} is already running; use a fresh tag")
            if self._cancel_early.pop(tag, None) == self._key(scope):
                return False
            self._owners[tag] = self._key(scope)
            return True

    def finish(self, tag: str) -> None:
        with self._lock:
            self._owners.pop(tag, None)

    def is_running_in(self, tag: str, scope: AnalyticsScope | None) -> bool:
        with self._lock:
            return self._owners.get(tag) == self._key(scope)

    def cancel_before_start(self, tag: str, scope: AnalyticsScope | None) -> bool:
        """Remember a cancel for a tag nobody runs yet; False when another scope runs it (never touched)."""
        with self._lock:
            if tag in self._owners:
                return False
            if len(self._cancel_early) > 1000:
                self._cancel_early.clear()
            self._cancel_early[tag] = self._key(scope)
            return True


def running_queries(request: Request) -> RunningQueries:
    state = request.app.state
    registry = getattr(state, "running_queries", None)
    if registry is None:
        registry = state.running_queries = RunningQueries()
    return registry
