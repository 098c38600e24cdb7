"""Dashboard pages: /sections/{slug}/analytics (instructors) and /projects/{slug}/analytics (authors), each also JSON.

The pages hold the layout (summary cards, category tabs, the custom SQL tab); charts and queries come from the JSON
API in xolap.web.api_analytics, under the same authorization.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from xolap.analytics.categories import list_categories
from xolap.analytics.vega_vocabulary import vocabulary
from xolap.store import flags
from xolap.web.analytics_scope import AnalyticsScope, DashboardError, check_range, parse_date, project_scope
from xolap.web.api_analytics import (
    EXPORT_FORMATS,
    error_response,
    overview_json,
    project_dependency,
    section_dependency,
    summary_json,
)
from xolap.web.api_analytics import (
    router as api_router,
)
from xolap.web.auth import flags_enabled_async, lookup_scope_async, resolve_principal
from xolap.web.negotiation import render, templates, wants_json

router = APIRouter(tags=["dashboards"])
router.include_router(api_router)  # the dashboards' JSON API comes with the pages

VENDOR_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "vega-interpreter.js", "editor.js")

DEFAULT_SQL = """SELECT event_type, count() AS events, uniqExact(user_id) AS learners
FROM raw_events
GROUP BY event_type
ORDER BY events DESC"""

DEFAULT_SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "title": "Events by type",
    "width": "container",
    "mark": {"type": "bar", "tooltip": True},
    "encoding": {
        "x": {"field": "event_type", "type": "nominal", "sort": "-y", "title": "Event type"},
        "y": {"field": "events", "type": "quantitative", "title": "Events"},
        "color": {"field": "learners", "type": "quantitative", "title": "Learners"},
    },
}


DEFAULT_SPEC_TEXT = json.dumps(DEFAULT_SPEC, indent=2)

_assets_seen = False


def assets_present() -> bool:
    """Whether `npm run build` has put the chart and editor bundles into static/vendor (once they are there, the
    process stops looking: a page load costs no file checks)."""
    global _assets_seen
    if not _assets_seen:
        vendor = resources.files("xolap.web").joinpath("static", "vendor")
        _assets_seen = all(vendor.joinpath(name).is_file() for name in VENDOR_FILES)
    return _assets_seen


@lru_cache(maxsize=2)
def static_panels(kind: str) -> Markup:
    """The tabs and panels of a section's (or a project's) dashboard, the same on every such page (categories of the
    kind, export formats, the custom tab's starting SQL and spec): rendered once per kind and process, which keeps
    most of the page's template work off each load."""
    fragment = (
        templates()
        .get_template("dashboards/_panels.html")
        .render(
            scope_kind=kind,
            categories=list_categories(kind),
            export_formats=EXPORT_FORMATS,
            default_sql=DEFAULT_SQL,
            default_spec=DEFAULT_SPEC_TEXT,
            vega_vocabulary=vocabulary(),
        )
    )
    return Markup(fragment.strip())


def _dates(start: str | None, end: str | None):
    first, last = parse_date("start", start), parse_date("end", end)
    check_range(first, last)
    return first, last


async def parent_project(request: Request, scope: AnalyticsScope) -> dict | None:
    """The section's project: its scope, and whether the caller may open its dashboard (only then is it a link).
    Access facts come from the process's cache without a thread hop (a lookup it lacks runs in the threadpool)."""
    if scope.kind != "section" or scope.project_id is None:
        return None
    principal = resolve_principal(request)
    project_id = int(scope.project_id)
    lookup = lookup_scope_async(request, "project", str(project_id))
    if not (principal.is_admin or project_id in principal.author_project_ids):
        # the caller may not open the project whatever its flags say (Principal.can_see_project): no flag lookup
        project = await lookup
        return None if project is None else {"scope": project_scope(project), "may_open": False}
    # both facts at once: when the process lacks them (each at most MAX_AGE_S old) they are looked up side by side
    project, enabled = await asyncio.gather(
        lookup,
        flags_enabled_async(request, (flags.ANALYTICS, "global", 0), (flags.PROJECT_DASHBOARD, "project", project_id)),
    )
    if project is None:
        return None
    return {"scope": project_scope(project), "may_open": principal.can_see_project(project) and all(enabled)}


async def dashboard_answer(request: Request, scope: AnalyticsScope, start: str | None, end: str | None):
    """The HTML page is CPU work once its access facts are at hand, so it renders here without a thread hop; the
    JSON form asks ClickHouse for the summary, so it runs in the threadpool."""
    project = await parent_project(request, scope)
    if wants_json(request):
        return await run_in_threadpool(dashboard_page, request, scope, start, end, project)
    return dashboard_page(request, scope, start, end, project)


def dashboard_page(request: Request, scope: AnalyticsScope, start: str | None, end: str | None, project: dict | None):
    date_error = None
    try:
        first, last = _dates(start, end)
    except DashboardError as exc:
        if wants_json(request):
            return error_response(exc)
        # a browser gets the page with every date cleared and the reason next to the date fields, not a JSON body
        first, last, date_error = None, None, exc.message
    runtime = request.app.state.runtime
    context = {
        "date_error": date_error,
        "scope": scope,
        "project": project,
        "start": first.isoformat() if first else "",
        "end": last.isoformat() if last else "",
        "assets_ok": assets_present(),
        "panels": static_panels(scope.kind),
    }
    if wants_json(request):
        return render(request, "dashboards/dashboard.html", context, overview_json(runtime, scope, first, last))
    return render(request, "dashboards/dashboard.html", context, None)


def summary_fragment(request: Request, scope: AnalyticsScope, start: str | None, end: str | None):
    try:
        first, last = _dates(start, end)
    except DashboardError as exc:
        return error_response(exc)
    summary = summary_json(request.app.state.runtime, scope, first, last)
    return render(request, "dashboards/_summary.html", {"scope": scope, "summary": summary}, summary)


@router.get("/sections/{slug}/analytics", name="section_dashboard")
async def section_dashboard(
    request: Request,
    scope: AnalyticsScope = Depends(section_dependency),
    start: str | None = None,
    end: str | None = None,
):
    return await dashboard_answer(request, scope, start, end)


@router.get("/sections/{slug}/analytics/summary", name="section_dashboard_summary")
def section_summary(
    request: Request,
    scope: AnalyticsScope = Depends(section_dependency),
    start: str | None = None,
    end: str | None = None,
):
    return summary_fragment(request, scope, start, end)


@router.get("/projects/{slug}/analytics", name="project_dashboard")
async def project_dashboard(
    request: Request,
    scope: AnalyticsScope = Depends(project_dependency),
    start: str | None = None,
    end: str | None = None,
):
    return await dashboard_answer(request, scope, start, end)


@router.get("/projects/{slug}/analytics/summary", name="project_dashboard_summary")
def project_summary(
    request: Request,
    scope: AnalyticsScope = Depends(project_dependency),
    start: str | None = None,
    end: str | None = None,
):
    return summary_fragment(request, scope, start, end)
