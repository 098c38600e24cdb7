"""Signing in and out, the home page (the sections and projects you may open) and your own account (API tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select

from xolap.store import accounts, flags
from xolap.store.models import Project, Section, User
from xolap.web import sessions
from xolap.web.auth import Principal, csrf_protect, require_login, resolve_principal
from xolap.web.login_throttle import LoginThrottle
from xolap.web.negotiation import redirect, render, wants_json

router = APIRouter(tags=["account"])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    principal = resolve_principal(request)
    if principal.authenticated and not wants_json(request):
        return redirect(request, _safe_next(next))
    return render(request, "login.html", {"next": _safe_next(next), "email": ""},
                  json_data={"authenticated": principal.authenticated, "login": "POST /login with email, password, csrf_token"})


def _throttle(request: Request) -> LoginThrottle:
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle()
    return throttle


@router.post("/login", dependencies=[Depends(csrf_protect)])
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/")):
    runtime = request.app.state.runtime
    throttle = _throttle(request)
    address = request.client.host if request.client else "?"
    wait = throttle.retry_after(email, address)
    if wait:
        message = f"Too many failed logins: try again in {(wait + 59) // 60} minute(s)."
        return render(request, "login.html", {"next": _safe_next(next), "email": email, "error": message},
                      json_data={"ok": False, "error": message}, status_code=429)
    with runtime.sessions() as session:
        user = accounts.authenticate(session, email, password)
        session.commit()
        if user is not None:
            sessions.start_session(request, user.id, accounts.password_fingerprint(user))
    if user is None:
        throttle.failed(email, address)
    else:
        throttle.succeeded(email)
    if user is None:
        return render(request, "login.html", {"next": _safe_next(next), "email": email, "error": "Wrong email or password."},
                      json_data={"ok": False, "error": "wrong email or password"}, status_code=400)
    return redirect(request, _safe_next(next), json_data={"ok": True, "email": user.email})


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request):
    sessions.end_session(request)
    return redirect(request, "/login", "You are logged out.", json_data={"ok": True})


def visible_scopes(request: Request, principal: Principal) -> tuple[list[dict], list[dict]]:
    """The sections and projects the principal may open, with whether their dashboard is switched on."""
    with request.app.state.runtime.sessions() as session:
        section_query = select(Section).order_by(Section.title, Section.id)
        project_query = select(Project).order_by(Project.title, Project.id)
        if not principal.is_admin:
            section_query = section_query.where(Section.id.in_(principal.instructor_section_ids or [-1]))
            project_query = project_query.where(Project.id.in_(principal.author_project_ids or [-1]))
        analytics = flags.is_enabled(session, flags.ANALYTICS)
        section_rows = [
            {"id": s.id, "slug": s.slug, "title": s.title or s.slug, "project_id": s.project_id,
             "url": f"/sections/{s.slug}/analytics",
             "enabled": analytics and flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", s.id)}
            for s in session.execute(section_query.limit(500)).scalars()
        ]
        project_rows = [
            {"id": p.id, "slug": p.slug, "title": p.title or p.slug, "url": f"/projects/{p.slug}/analytics",
             "enabled": analytics and flags.is_enabled(session, flags.PROJECT_DASHBOARD, "project", p.id)}
            for p in session.execute(project_query.limit(500)).scalars()
        ]
    return section_rows, project_rows


@router.get("/")
def home(request: Request, principal: Principal = Depends(require_login)):
    section_rows, project_rows = visible_scopes(request, principal)
    return render(request, "home.html", {"sections": section_rows, "projects": project_rows},
                  json_data={"me": principal.as_json(), "sections": section_rows, "projects": project_rows})


def _token_rows(session, user: User) -> list[dict]:
    return [{"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at}
            for t in accounts.tokens(session, user)]


@router.get("/account")
def account(request: Request, principal: Principal = Depends(require_login)):
    token_rows: list[dict] = []
    if principal.user is not None:
        with request.app.state.runtime.sessions() as session:
            token_rows = _token_rows(session, principal.user)
    return render(request, "account.html", {"tokens": token_rows},
                  json_data={"me": principal.as_json(), "tokens": token_rows})


def _own_user(principal: Principal) -> User:
    if principal.user is None:
        raise HTTPException(400, "the admin bearer token has no account")
    return principal.user


@router.post("/account/tokens")
def create_own_token(request: Request, name: str = Form(""), principal: Principal = Depends(require_login)):
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        row, plaintext = accounts.create_token(session, session.get(User, user.id), name)
        session.commit()
        token_rows = _token_rows(session, user)
    # Shown once, in this response only (never stored in plain text, never put in a cookie).
    return render(request, "account.html", {"tokens": token_rows, "new_token": plaintext},
                  json_data={"id": row.id, "name": row.name, "token": plaintext}, status_code=201)


@router.post("/account/tokens/{token_id}/delete")
def delete_own_token(token_id: int, request: Request, principal: Principal = Depends(require_login)):
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        try:
            accounts.delete_token(session, session.get(User, user.id), token_id)
        except accounts.AccountError as exc:
            raise HTTPException(404, str(exc)) from None
        session.commit()
    return redirect(request, "/account", "Token deleted.", json_data={"ok": True})


@router.post("/account/password")
def change_password(request: Request, current: str = Form(""), new: str = Form(""),
                    principal: Principal = Depends(require_login)):
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        row = session.get(User, user.id)
        if not accounts.verify_password(row.password_hash, current):
            return redirect(request, "/account", "Current password is wrong.", "error")
        try:
            accounts.set_password(session, row, new)
        except accounts.AccountError as exc:
            return redirect(request, "/account", str(exc), "error")
        session.commit()
        sessions.start_session(request, row.id, accounts.password_fingerprint(row))
    return redirect(request, "/account", "Password changed; other sessions are signed out.", "success", json_data={"ok": True})
