"""JSON API for accounts: who am I and what may I open; admin endpoints for users, roles, tokens, flags and
sections/projects (JSON bodies, for scripts holding an API token; the admin pages offer the same as forms).

    GET  /api/v1/me                              the caller, with visible sections and projects
    GET  /api/v1/sections, /api/v1/projects      the sections / projects the caller may open
    GET  /api/v1/admin/users                     users with roles          (admin)
    POST /api/v1/admin/users                     {email, password?, name?, is_admin?}
    POST /api/v1/admin/users/{user_id}/grants    {section: id|slug} or {project: id|slug}
    POST /api/v1/admin/users/{user_id}/tokens    {name?} -> {token} (shown once)
    GET  /api/v1/admin/flags                     every flag setting
    PUT  /api/v1/admin/flags                     {name, enabled, section?: id|slug, project?: id|slug}
    POST /api/v1/admin/scopes/sync               create sections/projects found in events
    POST /api/v1/admin/scopes/import             [{kind, id, slug?, title?, project_id?}, ...]
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel

from xolap.store import accounts, flags
from xolap.store.models import User
from xolap.store.scopes_sync import import_scopes, parse_scopes, sync_scopes
from xolap.web.auth import Principal, require_login, require_site_admin
from xolap.web.pages_account import visible_scopes

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me")
def me(request: Request, principal: Principal = Depends(require_login)) -> dict:
    sections, projects = visible_scopes(request, principal)
    return {**principal.as_json(), "sections": sections, "projects": projects}


@router.get("/sections")
def my_sections(request: Request, principal: Principal = Depends(require_login)) -> list:
    return visible_scopes(request, principal)[0]


@router.get("/projects")
def my_projects(request: Request, principal: Principal = Depends(require_login)) -> list:
    return visible_scopes(request, principal)[1]


class NewUser(BaseModel):
    email: str
    password: str | None = None
    name: str = ""
    is_admin: bool = False


class Grant(BaseModel):
    section: str | None = None
    project: str | None = None


class NewToken(BaseModel):
    name: str = ""


class FlagChange(BaseModel):
    name: str
    enabled: bool
    section: str | None = None
    project: str | None = None


def _bad_request(exc: Exception) -> HTTPException:
    return HTTPException(422, str(exc))


@router.get("/admin/users")
def list_users(request: Request, principal: Principal = Depends(require_site_admin)) -> list:
    from xolap.web.pages_admin import _user_rows

    with request.app.state.runtime.sessions() as session:
        return _user_rows(session)


@router.post("/admin/users", status_code=201)
def add_user(body: NewUser, request: Request, principal: Principal = Depends(require_site_admin)) -> dict:
    with request.app.state.runtime.sessions() as session:
        try:
            user = accounts.create_user(
                session, body.email, password=body.password, is_admin=body.is_admin, name=body.name
            )
        except accounts.AccountError as exc:
            raise _bad_request(exc) from None
        session.commit()
        return {"id": user.id, "email": user.email, "is_admin": user.is_admin}


def _user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    return user


@router.post("/admin/users/{user_id}/grants", status_code=201)
def grant(user_id: int, body: Grant, request: Request, principal: Principal = Depends(require_site_admin)) -> dict:
    with request.app.state.runtime.sessions() as session:
        user = _user(session, user_id)
        try:
            if body.section is not None and body.project is None:
                membership = accounts.grant(session, user, section=accounts.resolve_section(session, body.section))
            elif body.project is not None and body.section is None:
                membership = accounts.grant(session, user, project=accounts.resolve_project(session, body.project))
            else:
                raise accounts.AccountError("give exactly one of section or project")
        except accounts.AccountError as exc:
            raise _bad_request(exc) from None
        session.commit()
        return {
            "id": membership.id,
            "role": membership.role,
            "section_id": membership.section_id,
            "project_id": membership.project_id,
        }


@router.post("/admin/users/{user_id}/tokens", status_code=201)
def new_token(
    user_id: int, request: Request, body: NewToken = NewToken(), principal: Principal = Depends(require_site_admin)
) -> dict:
    with request.app.state.runtime.sessions() as session:
        row, plaintext = accounts.create_token(session, _user(session, user_id), body.name)
        session.commit()
        return {"id": row.id, "name": row.name, "token": plaintext}


@router.get("/admin/flags")
def list_flags(request: Request, principal: Principal = Depends(require_site_admin)) -> list:
    with request.app.state.runtime.sessions() as session:
        return [s.__dict__ for s in flags.list_flags(session)]


@router.put("/admin/flags")
def change_flag(body: FlagChange, request: Request, principal: Principal = Depends(require_site_admin)) -> dict:
    with request.app.state.runtime.sessions() as session:
        try:
            if body.section is not None and body.project is not None:
                raise flags.FlagError("give at most one of section or project")
            scope_type, scope_id = "global", 0
            if body.section is not None:
                scope_type, scope_id = "section", accounts.resolve_section(session, body.section).id
            elif body.project is not None:
                scope_type, scope_id = "project", accounts.resolve_project(session, body.project).id
            state = flags.set_flag(session, body.name, body.enabled, scope_type, scope_id)
        except (flags.FlagError, accounts.AccountError) as exc:
            raise _bad_request(exc) from None
        session.commit()
        return state.__dict__


@router.post("/admin/scopes/sync")
def sync(request: Request, principal: Principal = Depends(require_site_admin)) -> dict:
    return sync_scopes(request.app.state.runtime)


@router.post("/admin/scopes/import")
def import_json(
    request: Request, rows: list[dict] = Body(...), principal: Principal = Depends(require_site_admin)
) -> dict:
    parsed, errors = parse_scopes(json.dumps(rows), "request.json")
    with request.app.state.runtime.sessions() as session:
        result = import_scopes(session, parsed, "request.json")
        session.commit()
    return {**result.as_json(), "errors": errors + result.errors}
