"""JSON API of the section and project dashboards: categories, event summary, guarded custom SQL with progress and
cancel, saved visualizations (CRUD + copy + rerun) and exports (CSV, JSON, PNG, SVG rendered by vl-convert in a
limited child process, see xolap.analytics.chart_render).

Every Vega-Lite spec passes xolap.analytics.vega_safety when it is saved, run, exported or copied. A saved
visualization is changed or deleted only by its owner or an admin; other members of the scope view and copy it.

Every route sits under /api/v1/{sections|projects}/{slug}/analytics and is authorized by the accounts module's
require_section_access / require_project_access (which also check CSRF on unsafe cookie-authenticated requests). Custom SQL always passes the guard with the route's scope and runs
with that scope's id bound as xolap_scope_id; a saved visualization is only visible and runnable in its own scope.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from xolap.analytics import chart_render, custom_sql, executor, query_waits, result_cache, title_generations
from xolap.analytics.categories import CategoryError, event_summary, list_categories, run_category, section_comparison
from xolap.analytics.executor import QueryError, QueryResult
from xolap.analytics.guard import GuardedQuery, GuardError
from xolap.analytics.result_formats import csv_value, json_value, spreadsheet_text, to_json
from xolap.analytics.schema_catalog import catalog
from xolap.analytics.vega_safety import SpecRefused, check_spec, refusal
from xolap.analytics.vega_vocabulary import spec_mistake
from xolap.runtime import Runtime
from xolap.store.models import SavedVisualization, Section
from xolap.web import auth, query_slots
from xolap.web.analytics_scope import (
    AnalyticsScope,
    DashboardError,
    check_range,
    check_tag,
    parse_date,
    project_scope,
    running_queries,
    section_scope,
)

router = APIRouter(tags=["analytics"])

EXPORT_FORMATS = ("csv", "json", "png", "svg")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "png": "image/png", "svg": "image/svg+xml"}
_RENDER_ERROR_STATUS = {"spec": 400, "too_large": 400, "timeout": 422, "crashed": 422, "busy": 503}
_QUERY_ERROR_STATUS = {
    "cancelled": 409,
    "timeout": 422,
    "too_many_rows": 422,
    "too_many_rows_read": 422,
    "too_many_bytes_read": 422,
    "memory": 422,
    "too_large": 422,
    "unavailable": 503,
}


# ---------------------------------------------------------------- scope dependencies


async def section_dependency(section=Depends(auth.require_section_access)) -> AnalyticsScope:
    return section_scope(section)  # async: no I/O here, so no threadpool hop


async def project_dependency(project=Depends(auth.require_project_access)) -> AnalyticsScope:
    return project_scope(project)


SCOPE_DEPENDENCIES: dict[str, Callable[..., Awaitable[AnalyticsScope]]] = {
    "section": section_dependency,
    "project": project_dependency,
}


# ---------------------------------------------------------------- errors


def error_response(exc: Exception) -> JSONResponse:
    """The JSON error body {"error": {"kind", "message"}} with a status that fits the failure."""
    if isinstance(exc, DashboardError):
        return JSONResponse(exc.body(), status_code=exc.status)
    if isinstance(exc, custom_sql.EmptyQuery):
        return JSONResponse({"error": {"kind": "invalid", "message": str(exc)}}, status_code=400)
    if isinstance(exc, GuardError):
        return JSONResponse({"error": {"kind": "guard", "message": str(exc)}}, status_code=400)
    if isinstance(exc, QueryError):  # a curated chart's failure (CategoryFailure) adds the technical `detail`
        technical = getattr(exc, "detail", None)
        detail = {"detail": technical} if technical else {}
        return JSONResponse(
            {"error": {"kind": exc.kind, "message": exc.message, **detail}},
            status_code=_QUERY_ERROR_STATUS.get(exc.kind, 400),
        )
    if isinstance(exc, CategoryError):
        status = 404 if str(exc).startswith("unknown category") else 400
        return JSONResponse({"error": {"kind": "invalid", "message": str(exc)}}, status_code=status)
    if isinstance(exc, SpecRefused):
        return JSONResponse(
            {
                "error": {
                    "kind": "spec",
                    "path": exc.path,
                    "message": f"the Vega-Lite spec is refused at {exc.path}: {exc.reason}",
                }
            },
            status_code=400,
        )
    if isinstance(exc, chart_render.ChartRenderError):
        return JSONResponse(
            {"error": {"kind": exc.kind, "message": exc.message}}, status_code=_RENDER_ERROR_STATUS.get(exc.kind, 422)
        )
    raise exc


def answer(produce: Callable[[], Any]) -> Any:
    try:
        return produce()
    except (
        DashboardError,
        custom_sql.EmptyQuery,
        GuardError,
        QueryError,
        CategoryError,
        SpecRefused,
        chart_render.ChartRenderError,
    ) as exc:
        return error_response(exc)


# ---------------------------------------------------------------- running things


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def user_sql_client(runtime: Runtime):
    """The client user SQL runs on (xolap.analytics.custom_sql.user_sql_client)."""
    return custom_sql.user_sql_client(runtime)


def guarded_query(sql: str, scope: AnalyticsScope, database: str) -> GuardedQuery:
    """User SQL rewritten by the guard for this scope (xolap.analytics.custom_sql.guarded_sql)."""
    return custom_sql.guarded_sql(sql, scope.kind, database)


def run_custom_sql(
    runtime: Runtime,
    scope: AnalyticsScope,
    sql: str,
    *,
    tag: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QueryResult:
    """This route's scope's custom SQL, run by xolap.analytics.custom_sql.run_custom_sql (start..end: the page's
    dates, inclusive, when the user applies them)."""
    return custom_sql.run_custom_sql(
        user_sql_client(runtime),
        runtime.settings,
        sql,
        scope=scope.kind,
        scope_id=scope.id,
        tag=tag,
        start=start,
        end=end,
    )


CACHE_HEADER = "X-Xolap-Cache"


def kept_custom_answer(
    request: Request, scope: AnalyticsScope, sql: str, start: str | None, end: str | None
) -> QueryResult | None:
    """A kept answer to this custom query small enough to serve from the event loop (custom_sql.kept_answer), or
    None: then the worker thread's path runs it, or says what is wrong with the request."""
    try:
        first, last = request_dates(start, end)
    except DashboardError:
        return None
    settings = _runtime(request).settings
    return custom_sql.kept_answer(settings, sql, scope=scope.kind, scope_id=scope.id, start=first, end=last)


def cache_state(result: QueryResult) -> str:
    """X-Xolap-Cache of a custom query's answer: hit when it came from the result cache, else miss."""
    return "hit" if result.cached else "miss"


def result_records(result: QueryResult) -> list[dict[str, Any]]:
    return [{name: json_value(value) for name, value in zip(result.columns, row, strict=False)} for row in result.rows]


def query_result_json(result: QueryResult) -> dict[str, Any]:
    body = to_json(result)
    body.pop("tag", None)
    body["tag"] = result.tag
    return body


def category_json(
    runtime: Runtime, scope: AnalyticsScope, key: str, start: date | None, end: date | None
) -> dict[str, Any]:
    result = run_category(
        runtime.clickhouse(), runtime.settings, key, scope=scope.kind, scope_id=scope.id, start=start, end=end
    )
    rows = result.rows
    if key == "section_comparison":
        rows = label_sections(runtime, rows)
    spec = copy.deepcopy(result.spec)
    spec["data"] = {"values": rows}
    return {
        "key": result.key,
        "title": result.title,
        "columns": list(result.columns),
        "rows": rows,
        "spec": spec,
        "sql": result.sql,
        "parameters": result.parameters,
        "elapsed_ms": round(result.elapsed_ms, 1),
        "enough_data": result.enough_data,
        "truncated": result.truncated,
        **result.extra,
    }


def label_sections(runtime: Runtime, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give section-comparison rows the section titles known in Postgres (ids without a title keep their label)."""
    ids = {int(row["section_id"]) for row in rows if row.get("section_id") is not None}
    if not ids:
        return rows
    title_generations.note_scope_names()  # a cached answer with these names is not served after a rename
    with runtime.sessions() as session:
        titles = {
            sid: title for sid, title in session.execute(select(Section.id, Section.title).where(Section.id.in_(ids)))
        }
    named = [{**row, "section": titles.get(int(row["section_id"])) or row.get("section")} for row in rows]
    return section_comparison.label_sections(named)


def summary_json(runtime: Runtime, scope: AnalyticsScope, start: date | None, end: date | None) -> dict[str, Any]:
    rows = event_summary(runtime.clickhouse(), runtime.settings, scope.kind, scope.id, start, end)
    return {
        "event_types": rows,
        "total_events": sum(int(row.get("events") or 0) for row in rows),
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }


def overview_json(runtime: Runtime, scope: AnalyticsScope, start: date | None, end: date | None) -> dict[str, Any]:
    """What a dashboard page shows, as JSON: the scope, its categories, the event summary, the API links."""
    return {
        "scope": scope.as_json(),
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "categories": [info.__dict__ | {"scopes": list(info.scopes)} for info in list_categories(scope.kind)],
        "summary": summary_json(runtime, scope, start, end),
        "links": {
            "categories": f"{scope.api_base}/categories/{{key}}",
            "query": f"{scope.api_base}/query",
            "visualizations": f"{scope.api_base}/visualizations",
            "export": f"{scope.api_base}/export",
        },
    }


# ---------------------------------------------------------------- warm answers


def warm_json(runtime: Runtime, scope: AnalyticsScope, question: tuple, produce: Callable[[], Any]) -> Response:
    """The JSON answer to `question` about this (already authorized) scope from the per-process result cache while
    the scope's data is unchanged, else produce() (xolap.analytics.result_cache); X-Xolap-Cache says which and
    Server-Timing how long the answer took (ms, after authorization)."""
    started = time.perf_counter()
    body, hit = result_cache.cached_json(runtime.settings, scope.kind, scope.id, question, produce)
    return json_answer(body, hit, started)


def json_answer(body: bytes, hit: bool, started: float) -> Response:
    elapsed = (time.perf_counter() - started) * 1000
    return Response(
        body,
        media_type="application/json",
        headers={"X-Xolap-Cache": "hit" if hit else "miss", "Server-Timing": f"answer;dur={elapsed:.3f}"},
    )


async def answer_warm(request: Request, scope: AnalyticsScope, question: Callable[[], tuple], produce) -> Any:
    """A warm answer straight from the event loop (no thread hop; xolap.analytics.result_cache.stored_json never
    computes); anything else (a miss, bad dates) through answer(produce) in the threadpool, as before."""
    started = time.perf_counter()
    try:
        asked = question()
    except DashboardError:
        asked = None
    if asked is not None:
        body = result_cache.stored_json(_runtime(request).settings, scope.kind, scope.id, asked)
        if body is not None:
            return json_answer(body, True, started)
    return await run_in_threadpool(answer, produce)


def scope_identity(scope: AnalyticsScope) -> bytes:
    """What the overview shows of the scope itself (slug, title), so a renamed scope is not answered from the cache."""
    return orjson.dumps(scope.as_json(), default=str)


# ---------------------------------------------------------------- exports


def with_data(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The spec, once the sanitizer accepts it (SpecRefused otherwise), with the rows as its inline data (any data
    it named is replaced)."""
    out = copy.deepcopy(check_spec(spec))
    out["data"] = {"values": rows}
    return out


def render_chart(spec: dict[str, Any], fmt: str) -> bytes:
    """SVG or PNG of a Vega-Lite spec: sanitized, then drawn in a child process with no network, a wall time limit
    and a memory limit (SpecRefused or ChartRenderError say why not; a mark or type Vega-Lite does not know is a
    DashboardError naming it, where Vega-Lite's own message would not)."""
    checked = check_spec(spec)
    mistake = spec_mistake(checked)
    if mistake:
        raise DashboardError(400, "spec", f"the Vega-Lite spec cannot be drawn: {mistake}")
    return chart_render.render_chart(checked, fmt, scale=2.0)


def export_response(
    fmt: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    spec: dict[str, Any] | None,
    filename: str,
    *,
    truncated: bool = False,
) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise DashboardError(400, "invalid", f"format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([spreadsheet_text(column) for column in columns])
        for row in rows:
            writer.writerow([csv_value(row.get(column)) for column in columns])
        content: bytes = buffer.getvalue().encode()
    elif fmt == "json":
        content = orjson.dumps(rows, default=json_value)
    else:
        if not spec:
            raise DashboardError(400, "invalid", f"a Vega-Lite spec is needed to export {fmt.upper()}")
        if not rows:
            raise DashboardError(400, "no_data", "not enough data: the query returned no rows to chart")
        content = render_chart(with_data(spec, rows), fmt)
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'}
    if truncated:
        headers["X-Xolap-Truncated"] = "true"
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)


# ---------------------------------------------------------------- saved visualizations


class VisualizationIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    sql: str = Field(min_length=1, max_length=100_000)
    spec: dict[str, Any] = Field(default_factory=dict)


class QueryIn(BaseModel):
    sql: str = Field(max_length=100_000)
    tag: str | None = None
    start: str | None = None  # the page's dates, when the user applies them to the query (YYYY-MM-DD, inclusive)
    end: str | None = None


class ExportIn(BaseModel):
    sql: str = Field(max_length=100_000)
    spec: dict[str, Any] | None = None
    start: str | None = None
    end: str | None = None


def request_dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """The optional date range of a request, checked (DashboardError 400 on a bad date or a reversed range)."""
    first, last = parse_date("start", start), parse_date("end", end)
    check_range(first, last)
    return first, last


def export_name(scope: AnalyticsScope, what: str, start: date | None, end: date | None) -> str:
    """`<scope>-<category>-<from>-<to>` (no extension): `first`/`latest` stand for an open end of the range."""
    return f"{scope.slug}-{what}-{start.isoformat() if start else 'first'}-{end.isoformat() if end else 'latest'}"


class CopyIn(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)


def viz_json(viz: SavedVisualization, request: Request | None = None) -> dict[str, Any]:
    """A saved visualization as JSON; `spec_refusal` says why a spec stored before the sanitizer may not be drawn,
    `can_edit` whether the caller may change or delete it (else they may copy it)."""
    return {
        "id": viz.id,
        "scope": viz.scope,
        "scope_id": viz.scope_id,
        "title": viz.title,
        "sql": viz.sql,
        "spec": viz.spec,
        "spec_refusal": refusal(viz.spec),
        "created_by": viz.created_by,
        "can_edit": may_edit(request, viz) if request is not None else False,
        "created_at": json_value(viz.created_at),
        "updated_at": json_value(viz.updated_at),
    }


def scoped_viz(session, scope: AnalyticsScope, viz_id: int) -> SavedVisualization:
    """The saved visualization if it belongs to this scope; 404 otherwise (another scope's id is not revealed)."""
    viz = session.get(SavedVisualization, viz_id)
    if viz is None or viz.scope != scope.kind or int(viz.scope_id) != scope.id:
        raise DashboardError(404, "not_found", f"no saved visualization {viz_id} in this {scope.kind}")
    return viz


def principal_user_id(request: Request) -> int | None:
    principal = getattr(request.state, "principal", None)
    user = getattr(principal, "user", None)
    value = getattr(user, "id", None) if user is not None else getattr(principal, "user_id", None)
    return int(value) if isinstance(value, int) else None


def may_edit(request: Request, viz: SavedVisualization) -> bool:
    """Only the owner (the user who saved it) or an admin changes or deletes a saved visualization."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.is_admin:
        return True
    owner = principal_user_id(request)
    return owner is not None and viz.created_by is not None and int(viz.created_by) == owner


def owned_viz(session, request: Request, scope: AnalyticsScope, viz_id: int) -> SavedVisualization:
    """The saved visualization if it is in this scope (404) and the caller may change it (403)."""
    viz = scoped_viz(session, scope, viz_id)
    if not may_edit(request, viz):
        raise DashboardError(
            403,
            "forbidden",
            f"saved visualization {viz_id} belongs to another user: only its owner "
            "or an admin may change or delete it (save a copy to edit your own)",
        )
    return viz


# ---------------------------------------------------------------- routes (registered once per scope kind)


def add_scope_routes(kind: str) -> None:
    scope_dep = SCOPE_DEPENDENCIES[kind]
    base = f"/api/v1/{kind}s/{{slug}}/analytics"

    @router.get(base, name=f"{kind}_analytics_overview")
    def overview(
        request: Request, scope: AnalyticsScope = Depends(scope_dep), start: str | None = None, end: str | None = None
    ):
        def produce():
            first, last = parse_date("start", start), parse_date("end", end)
            check_range(first, last)
            runtime = _runtime(request)
            return warm_json(
                runtime,
                scope,
                ("overview", first, last, scope_identity(scope)),
                lambda: overview_json(runtime, scope, first, last),
            )

        return answer(produce)

    @router.get(base + "/summary", name=f"{kind}_analytics_summary")
    async def summary(
        request: Request, scope: AnalyticsScope = Depends(scope_dep), start: str | None = None, end: str | None = None
    ):
        def question() -> tuple:
            first, last = parse_date("start", start), parse_date("end", end)
            check_range(first, last)
            return ("summary", first, last)

        def produce():
            _, first, last = asked = question()
            runtime = _runtime(request)
            return warm_json(runtime, scope, asked, lambda: summary_json(runtime, scope, first, last))

        return await answer_warm(request, scope, question, produce)

    @router.get(base + "/categories", name=f"{kind}_analytics_categories")
    def categories(scope: AnalyticsScope = Depends(scope_dep)):
        return [info.__dict__ | {"scopes": list(info.scopes)} for info in list_categories(scope.kind)]

    @router.get(base + "/categories/{key}", name=f"{kind}_analytics_category")
    async def category(
        key: str,
        request: Request,
        scope: AnalyticsScope = Depends(scope_dep),
        start: str | None = None,
        end: str | None = None,
    ):
        def question() -> tuple:
            first, last = parse_date("start", start), parse_date("end", end)
            check_range(first, last)
            return ("category", key, first, last)

        def produce():
            _, _, first, last = asked = question()
            runtime = _runtime(request)
            return warm_json(runtime, scope, asked, lambda: category_json(runtime, scope, key, first, last))

        return await answer_warm(request, scope, question, produce)

    @router.get(base + "/categories/{key}/export", name=f"{kind}_analytics_category_export")
    def category_export(
        key: str,
        request: Request,
        scope: AnalyticsScope = Depends(scope_dep),
        format: str = Query("csv"),
        start: str | None = None,
        end: str | None = None,
    ):
        def produce():
            first, last = parse_date("start", start), parse_date("end", end)
            check_range(first, last)
            data = category_json(_runtime(request), scope, key, first, last)
            return export_response(
                format,
                data["columns"],
                data["rows"],
                data["spec"],
                export_name(scope, key, first, last),
                truncated=data["truncated"],
            )

        return answer(produce)

    @router.post(base + "/query", name=f"{kind}_analytics_query")
    async def query(body: QueryIn, request: Request, response: Response, scope: AnalyticsScope = Depends(scope_dep)):
        registry = running_queries(request)

        def produce(kept: QueryResult | None = None):
            tag = check_tag(body.tag) if body.tag else executor.new_tag()
            first, last = request_dates(body.start, body.end)
            if not registry.start(tag, scope):
                raise QueryError("cancelled", "the query was cancelled", tag=tag)
            try:
                if kept is not None:
                    result = dataclasses.replace(kept, tag=tag)
                else:
                    result = run_custom_sql(_runtime(request), scope, body.sql, tag=tag, start=first, end=last)
            finally:
                registry.finish(tag)
            response.headers[CACHE_HEADER] = cache_state(result)
            return query_result_json(result)

        kept = kept_custom_answer(request, scope, body.sql, body.start, body.end)
        if kept is not None:  # the same steps on the event loop, without a query to run
            return answer(lambda: produce(kept))
        return await query_slots.run_user_sql(request, answer, produce)

    @router.get(base + "/query/{tag}/progress", name=f"{kind}_analytics_query_progress")
    def query_progress(tag: str, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            check_tag(tag)
            if not running_queries(request).is_running_in(tag, scope):
                return {"tag": tag, "running": False}
            progress = query_waits.progress(_runtime(request).clickhouse(), tag)  # also a wait for an identical one
            if progress is None:
                return {
                    "tag": tag,
                    "running": True,
                    "rows_read": 0,
                    "total_rows": 0,
                    "bytes_read": 0,
                    "elapsed_s": 0.0,
                    "fraction": None,
                }
            return {
                "tag": tag,
                "running": True,
                "rows_read": progress.rows_read,
                "total_rows": progress.total_rows,
                "bytes_read": progress.bytes_read,
                "elapsed_s": progress.elapsed_s,
                "fraction": progress.fraction,
            }

        return answer(produce)

    @router.post(base + "/query/{tag}/cancel", name=f"{kind}_analytics_query_cancel")
    def query_cancel(tag: str, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            check_tag(tag)
            registry = running_queries(request)
            if registry.is_running_in(tag, scope):
                return {"tag": tag, "cancelled": query_waits.cancel(_runtime(request).clickhouse(), tag)}
            registry.cancel_before_start(tag, scope)
            return {"tag": tag, "cancelled": 0}

        return answer(produce)

    @router.post(base + "/export", name=f"{kind}_analytics_export")
    async def export(
        body: ExportIn, request: Request, scope: AnalyticsScope = Depends(scope_dep), format: str = Query("csv")
    ):
        def produce(kept: QueryResult | None = None):
            if format not in EXPORT_FORMATS:
                raise DashboardError(
                    400, "invalid", f"format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}"
                )
            if format in ("png", "svg") and body.spec:
                check_spec(body.spec)
            first, last = request_dates(body.start, body.end)
            result = kept or run_custom_sql(_runtime(request), scope, body.sql, start=first, end=last)
            exported = export_response(
                format,
                result.columns,
                result_records(result),
                body.spec,
                export_name(scope, "custom", first, last),
                truncated=result.truncated,
            )
            exported.headers[CACHE_HEADER] = cache_state(result)
            return exported

        # CSV and JSON of a kept answer are written on the event loop; charts are drawn (and queries run) in a thread
        kept = kept_custom_answer(request, scope, body.sql, body.start, body.end) if format in ("csv", "json") else None
        if kept is not None:
            return answer(lambda: produce(kept))
        return await query_slots.run_user_sql(request, answer, produce)

    @router.get(base + "/schema", name=f"{kind}_analytics_schema")
    def schema(scope: AnalyticsScope = Depends(scope_dep)):
        """The tables custom SQL reads: columns, types and a one-line meaning each (the custom tab's browser)."""
        return {"tables": catalog()}

    @router.get(base + "/visualizations", name=f"{kind}_visualizations")
    def list_visualizations(request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        with _runtime(request).sessions() as session:
            rows = session.scalars(
                select(SavedVisualization)
                .where(SavedVisualization.scope == scope.kind, SavedVisualization.scope_id == scope.id)
                .order_by(SavedVisualization.title, SavedVisualization.id)
            ).all()
            return [viz_json(viz, request) for viz in rows]

    @router.post(base + "/visualizations", name=f"{kind}_visualization_create", status_code=201)
    def create_visualization(body: VisualizationIn, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            runtime = _runtime(request)
            guarded_query(body.sql, scope, runtime.settings.clickhouse_database)
            check_spec(body.spec)
            with runtime.sessions() as session:
                viz = SavedVisualization(
                    scope=scope.kind,
                    scope_id=scope.id,
                    title=body.title.strip(),
                    sql=body.sql,
                    spec=body.spec,
                    created_by=principal_user_id(request),
                )
                session.add(viz)
                session.commit()
                return JSONResponse(viz_json(viz, request), status_code=201)

        return answer(produce)

    @router.get(base + "/visualizations/{viz_id}", name=f"{kind}_visualization")
    def get_visualization(viz_id: int, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            with _runtime(request).sessions() as session:
                return viz_json(scoped_viz(session, scope, viz_id), request)

        return answer(produce)

    @router.put(base + "/visualizations/{viz_id}", name=f"{kind}_visualization_update")
    def update_visualization(
        viz_id: int, body: VisualizationIn, request: Request, scope: AnalyticsScope = Depends(scope_dep)
    ):
        def produce():
            runtime = _runtime(request)
            with runtime.sessions() as session:
                viz = owned_viz(session, request, scope, viz_id)
                guarded_query(body.sql, scope, runtime.settings.clickhouse_database)
                check_spec(body.spec)
                viz.title, viz.sql, viz.spec = body.title.strip(), body.sql, body.spec
                viz.updated_at = datetime.now(UTC)
                session.commit()
                return viz_json(viz, request)

        return answer(produce)

    @router.delete(base + "/visualizations/{viz_id}", name=f"{kind}_visualization_delete")
    def delete_visualization(viz_id: int, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            with _runtime(request).sessions() as session:
                session.delete(owned_viz(session, request, scope, viz_id))
                session.commit()
                return {"deleted": viz_id}

        return answer(produce)

    @router.post(base + "/visualizations/{viz_id}/copy", name=f"{kind}_visualization_copy", status_code=201)
    def copy_visualization(
        viz_id: int, request: Request, body: CopyIn | None = None, scope: AnalyticsScope = Depends(scope_dep)
    ):
        """Save another member's visualization as the caller's own (same scope, spec sanitized again)."""

        def produce():
            runtime = _runtime(request)
            with runtime.sessions() as session:
                original = scoped_viz(session, scope, viz_id)
                check_spec(original.spec)
                title = (body.title.strip() if body and body.title else f"{original.title} (copy)")[:300]
                viz = SavedVisualization(
                    scope=scope.kind,
                    scope_id=scope.id,
                    title=title,
                    sql=original.sql,
                    spec=copy.deepcopy(original.spec),
                    created_by=principal_user_id(request),
                )
                session.add(viz)
                session.commit()
                return JSONResponse(viz_json(viz, request), status_code=201)

        return answer(produce)

    @router.post(base + "/visualizations/{viz_id}/run", name=f"{kind}_visualization_run")
    async def run_visualization(viz_id: int, request: Request, scope: AnalyticsScope = Depends(scope_dep)):
        def produce():
            runtime = _runtime(request)
            with runtime.sessions() as session:
                viz = scoped_viz(session, scope, viz_id)
                sql, spec, title = viz.sql, viz.spec, viz.title
            if spec:
                check_spec(spec)
            result = run_custom_sql(runtime, scope, sql)
            body = query_result_json(result)
            body.update(
                {"id": viz_id, "title": title, "spec": with_data(spec, result_records(result)) if spec else None}
            )
            return body

        return await query_slots.run_user_sql(request, answer, produce)

    @router.get(base + "/visualizations/{viz_id}/export", name=f"{kind}_visualization_export")
    async def export_visualization(
        viz_id: int, request: Request, scope: AnalyticsScope = Depends(scope_dep), format: str = Query("csv")
    ):
        def produce():
            runtime = _runtime(request)
            with runtime.sessions() as session:
                viz = scoped_viz(session, scope, viz_id)
                sql, spec = viz.sql, viz.spec
            if format in ("png", "svg") and spec:
                check_spec(spec)
            result = run_custom_sql(runtime, scope, sql)
            return export_response(
                format,
                result.columns,
                result_records(result),
                spec or None,
                f"{scope.slug}-viz-{viz_id}",
                truncated=result.truncated,
            )

        return await query_slots.run_user_sql(request, answer, produce)


for _kind in ("section", "project"):
    add_scope_routes(_kind)
