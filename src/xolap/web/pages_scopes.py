"""Admin page for sections and projects: list, rename (slug and title), import CSV/JSON, sync from events now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from sqlalchemy import func, select

from xolap.counted import counted
from xolap.store.models import Membership, Project, Section
from xolap.store.scopes_sync import COLUMNS, import_scopes, parse_scopes, rename_scope, sync_scopes
from xolap.web.auth import Principal, require_site_admin
from xolap.web.negotiation import redirect, render

router = APIRouter(tags=["admin"])
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _scopes_page(
    request: Request,
    *,
    import_errors: list[str] | None = None,
    errors: dict | None = None,
    status_code: int = 200,
    q: str = "",
):
    with request.app.state.runtime.sessions() as session:
        counts = dict(
            session.execute(
                select(Membership.section_id, func.count())
                .where(Membership.section_id.is_not(None))
                .group_by(Membership.section_id)
            ).all()
        )
        section_query = select(Section).order_by(Section.id).limit(1000)
        project_query = select(Project).order_by(Project.id).limit(1000)
        if q:
            like = f"%{q.lower()}%"
            section_query = section_query.where(func.lower(Section.slug + " " + Section.title).like(like))
            project_query = project_query.where(func.lower(Project.slug + " " + Project.title).like(like))
        project_titles = dict(session.execute(select(Project.id, func.coalesce(Project.title, Project.slug))).all())
        sections = [
            {
                "id": s.id,
                "slug": s.slug,
                "title": s.title,
                "project_id": s.project_id,
                "project_title": project_titles.get(s.project_id) if s.project_id is not None else None,
                "instructors": counts.get(s.id, 0),
            }
            for s in session.execute(section_query).scalars()
        ]
        projects = [{"id": p.id, "slug": p.slug, "title": p.title} for p in session.execute(project_query).scalars()]
    body: dict[str, Any] = {"sections": sections, "projects": projects}
    if import_errors:
        body["import_errors"] = import_errors
    return render(
        request,
        "admin/scopes.html",
        {**body, "import_errors": import_errors or [], "errors": errors or {}, "columns": COLUMNS, "q": q},
        json_data=body,
        status_code=status_code,
    )


@router.get("/admin/scopes")
def scopes_page(request: Request, q: str = "", principal: Principal = Depends(require_site_admin)):
    return _scopes_page(request, q=q)


@router.post("/admin/scopes/sync")
def sync_now(request: Request, principal: Principal = Depends(require_site_admin)):
    try:
        counts = sync_scopes(request.app.state.runtime)
    except Exception as exc:  # noqa: BLE001 - ClickHouse unavailable etc.
        return redirect(request, "/admin/scopes", f"sync failed: {str(exc).splitlines()[0]}", "error")
    message = (
        f"Synced from events: {counted(counts['sections_created'], 'new section')}, "
        f"{counted(counts['projects_created'], 'new project')}."
    )
    return redirect(request, "/admin/scopes", message, "success", json_data=counts)


@router.post("/admin/scopes/import")
async def import_file(
    request: Request, file: UploadFile = File(...), principal: Principal = Depends(require_site_admin)
):
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"file larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    name = file.filename or "upload.csv"
    try:
        rows, errors = parse_scopes(data, name)
    except UnicodeDecodeError:
        rows, errors = [], [f"{name}: not UTF-8 text"]
    with request.app.state.runtime.sessions() as session:
        result = import_scopes(session, rows, name)
        session.commit()
    errors += result.errors
    if errors:
        return _scopes_page(
            request,
            import_errors=[f"{result.created} created, {result.updated} updated; skipped:"] + errors,
            status_code=400 if not (result.created or result.updated) else 200,
        )
    return redirect(
        request,
        "/admin/scopes",
        f"Imported {name}: {result.created} created, {result.updated} updated.",
        "success",
        json_data=result.as_json(),
    )


@router.post("/admin/scopes/{kind}/{scope_id}")
def rename(
    kind: str,
    scope_id: int,
    request: Request,
    slug: str = Form(""),  # empty: named on the scopes page, not FastAPI's bare 'Field required' page
    title: str = Form(""),
    principal: Principal = Depends(require_site_admin),
):
    if kind not in ("section", "project"):
        raise HTTPException(404, f"unknown kind {kind!r}: section or project")
    if not slug.strip():
        error = f"{kind} {scope_id}: slug: required (lowercase letters, digits, '-' or '_')"
        return _scopes_page(request, errors={f"{kind}-{scope_id}": error}, status_code=400)
    with request.app.state.runtime.sessions() as session:
        try:
            rename_scope(session, kind, scope_id, slug=slug, title=title)
        except ValueError as exc:
            session.rollback()
            if str(exc).startswith("no "):
                raise HTTPException(404, str(exc)) from None
            return _scopes_page(request, errors={f"{kind}-{scope_id}": str(exc)}, status_code=400)
        session.commit()
    return redirect(
        request, "/admin/scopes", f"{kind.capitalize()} {scope_id} saved.", "success", json_data={"ok": True}
    )
