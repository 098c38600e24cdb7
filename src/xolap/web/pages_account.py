"""Signing in and out, the home page (the sections and projects you may open) and your own account (API tokens,
signed-in sessions, password)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from xolap.analytics import rollup_maintenance
from xolap.store import accounts, flags, login_attempts
from xolap.store import sessions as session_records
from xolap.store.models import Project, Section, User
from xolap.web import login_slots, login_throttle, sessions
from xolap.web.auth import Principal, csrf_protect, require_login, resolve_principal
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
    return render(
        request,
        "login.html",
        {"next": _safe_next(next), "email": ""},
        json_data={"authenticated": principal.authenticated, "login": "POST /login with email, password, csrf_token"},
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _refuse_login(request: Request, next: str, email: str, message: str, status_code: int, retry_after: int = 0):
    response = render(
        request,
        "login.html",
        {"next": _safe_next(next), "email": login_attempts.clean_email(email), "error": message},
        json_data={"ok": False, "error": message},
        status_code=status_code,
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/login", dependencies=[Depends(csrf_protect)])
async def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/")):
    """Sign in: throttled per (email, address) and per address; every refusal is recorded (never the password). A
    login takes a login slot before a thread and a Postgres connection (login_slots)."""
    return await login_slots.run_login(sign_in, request, email, password, next)


def sign_in(request: Request, email: str, password: str, next: str):
    """The login's work, on a worker thread: one transaction (throttle, password, session row, roles, dashboards)."""
    runtime = request.app.state.runtime
    address = client_address(request)
    with runtime.sessions() as session:
        if not login_attempts.claim_attempt(session, email, address):
            login_attempts.record_failure(session, email, address, login_attempts.THROTTLED)
            session.commit()
            return _refuse_login(
                request,
                next,
                email,
                "Another login for this account from this address is in progress: try again in a moment.",
                429,
                1,
            )
        verdict = login_throttle.check(session, email, address)
        if not verdict.allowed:
            login_attempts.record_failure(session, email, address, login_attempts.THROTTLED)
            session.commit()
            return _refuse_login(request, next, email, verdict.message, 429, verdict.retry_after)
        typed = (email or "").strip().lower()
        if login_attempts.clean_email(email) != typed or not typed:
            user, reason = None, "invalid email"  # control characters or too long: never reaches a query
        else:
            user = accounts.authenticate(session, email, password)
            reason = (
                ""
                if user is not None
                else ("wrong password" if accounts.find_user(session, email) is not None else "unknown email")
            )
            if user is not None and user.disabled_at is not None:
                user, reason = None, "account disabled"
        if user is None:
            login_attempts.record_failure(session, email, address, reason)
            session.commit()
            return _refuse_login(request, next, email, "Wrong email or password.", 400)
        _record, sid = session_records.create(
            session, user, user_agent=request.headers.get("user-agent", ""), client_address=address
        )
        user_email = user.email
        roles = accounts.roles(session, user)
        signed_in = Principal(user, roles.is_admin, roles.section_ids, roles.project_ids, "session")
        dashboards = own_dashboards(request, signed_in, session)  # in the same transaction: one connection, one commit
        session.commit()
    sessions.start_session(request, sid)
    # the rollups of the dashboards this user is about to open are checked (and built when stale) in the background
    scopes = [(kind, scope_id) for kind, scope_id, _url in dashboards[:DASHBOARDS_CHECKED_AHEAD]]
    rollup_maintenance.expect_reads(runtime.settings.clickhouse_database, scopes)
    target = _safe_next(next)
    if target == "/":  # the one dashboard a user may open, when there is exactly one, else the home page
        target = dashboards[0][2] if len(dashboards) == 1 else "/"
    return redirect(request, target, json_data={"ok": True, "email": user_email})


DASHBOARDS_CHECKED_AHEAD = 4  # a login has the rollups of at most this many of its dashboards checked ahead


def own_dashboards(
    request: Request, principal: Principal, session: Session | None = None
) -> list[tuple[str, int, str]]:
    """The dashboards switched on among the sections a user teaches or whose project they author and the projects they
    author, as (kind, id, url), sections first; none for admins (they land on the home page, which lists them all)."""
    if principal.is_admin or not principal.authenticated:
        return []
    section_rows, project_rows = visible_scopes(request, principal, session)
    return [("section", row["id"], row["url"]) for row in section_rows if row["enabled"]] + [
        ("project", row["id"], row["url"]) for row in project_rows if row["enabled"]
    ]


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request):
    """Sign out: the session record is revoked (a copy of the cookie stops working too)."""
    principal = resolve_principal(request)
    if principal.session_record_id is not None and principal.user is not None:
        with request.app.state.runtime.sessions() as session:
            session_records.revoke(session, principal.user.id, principal.session_record_id, "logout")
            session.commit()
    sessions.end_session(request)
    return redirect(request, "/login", "You are logged out.", json_data={"ok": True})


def visible_scopes(
    request: Request, principal: Principal, session: Session | None = None
) -> tuple[list[dict], list[dict]]:
    """The sections and projects the principal may open, with whether their dashboard is switched on (read in
    `session` when given, else in a session of its own; the flags in one query)."""
    if session is None:
        with request.app.state.runtime.sessions() as own:
            return _visible_scopes(own, principal)
    return _visible_scopes(session, principal)


def _visible_scopes(session: Session, principal: Principal) -> tuple[list[dict], list[dict]]:
    section_query = select(Section).order_by(Section.title, Section.id)
    project_query = select(Project).order_by(Project.title, Project.id)
    if not principal.is_admin:
        section_query = section_query.where(
            Section.id.in_(principal.instructor_section_ids or [-1])
            | Section.project_id.in_(principal.author_project_ids or [-1])
        )
        project_query = project_query.where(Project.id.in_(principal.author_project_ids or [-1]))
    sections = list(session.execute(section_query.limit(500)).scalars())
    may_see_projects = principal.is_admin or bool(principal.author_project_ids)  # else the query finds none
    projects = list(session.execute(project_query.limit(500)).scalars()) if may_see_projects else []
    on = flags.enabled_flags(
        session,
        [(flags.ANALYTICS, "global", 0)]
        + [(flags.SECTION_DASHBOARD, "section", s.id) for s in sections]
        + [(flags.PROJECT_DASHBOARD, "project", p.id) for p in projects],
    )
    analytics = on[(flags.ANALYTICS, "global", 0)]
    section_rows = [
        {
            "id": s.id,
            "slug": s.slug,
            "title": s.title or s.slug,
            "project_id": s.project_id,
            "url": f"/sections/{s.slug}/analytics",
            "enabled": analytics and on[(flags.SECTION_DASHBOARD, "section", s.id)],
        }
        for s in sections
    ]
    project_rows = [
        {
            "id": p.id,
            "slug": p.slug,
            "title": p.title or p.slug,
            "url": f"/projects/{p.slug}/analytics",
            "enabled": analytics and on[(flags.PROJECT_DASHBOARD, "project", p.id)],
        }
        for p in projects
    ]
    return section_rows, project_rows


@router.get("/")
def home(request: Request, principal: Principal = Depends(require_login)):
    section_rows, project_rows = visible_scopes(request, principal)
    return render(
        request,
        "home.html",
        {"sections": section_rows, "projects": project_rows},
        json_data={"me": principal.as_json(), "sections": section_rows, "projects": project_rows},
    )


def _token_rows(session, user: User) -> list[dict]:
    return [
        {"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at}
        for t in accounts.tokens(session, user)
    ]


def _session_rows(session, principal: Principal) -> list[dict]:
    if principal.user is None:
        return []
    return [
        {
            "id": r.id,
            "created_at": r.created_at,
            "last_seen_at": r.last_seen_at,
            "user_agent": r.user_agent,
            "client_address": r.client_address,
            "expires_at": r.expires_at,
            "current": r.id == principal.session_record_id,
        }
        for r in session_records.list_live(session, principal.user.id)
    ]


def _account_page(
    request: Request, principal: Principal, *, new_token: str | None = None, json_data=None, status_code: int = 200
):
    token_rows: list[dict] = []
    session_rows: list[dict] = []
    if principal.user is not None:
        with request.app.state.runtime.sessions() as session:
            token_rows = _token_rows(session, principal.user)
            session_rows = _session_rows(session, principal)
    if json_data is None:
        json_data = {"me": principal.as_json(), "tokens": token_rows, "sessions": session_rows}
    return render(
        request,
        "account.html",
        {"tokens": token_rows, "sessions": session_rows, "new_token": new_token},
        json_data=json_data,
        status_code=status_code,
    )


@router.get("/account")
def account(request: Request, principal: Principal = Depends(require_login)):
    return _account_page(request, principal)


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
    # Shown once, in this response only (never stored in plain text, never put in a cookie).
    return _account_page(
        request,
        principal,
        new_token=plaintext,
        json_data={"id": row.id, "name": row.name, "token": plaintext},
        status_code=201,
    )


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
def change_password(
    request: Request, current: str = Form(""), new: str = Form(""), principal: Principal = Depends(require_login)
):
    """A new password ends every session of the user; the browser that changed it gets a fresh one."""
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        row = session.get(User, user.id)
        if not accounts.verify_password(row.password_hash, current):
            return redirect(request, "/account", "Current password is wrong.", "error")
        try:
            accounts.set_password(session, row, new)
        except accounts.AccountError as exc:
            return redirect(request, "/account", str(exc), "error")
        session_records.revoke_all(session, row.id, "password changed")
        sid = None
        if principal.via == "session":
            _record, sid = session_records.create(
                session, row, user_agent=request.headers.get("user-agent", ""), client_address=client_address(request)
            )
        session.commit()
    if sid is not None:
        sessions.start_session(request, sid)
    return redirect(
        request, "/account", "Password changed; other sessions are signed out.", "success", json_data={"ok": True}
    )


@router.post("/account/sessions/revoke-all")
def sign_out_everywhere(request: Request, principal: Principal = Depends(require_login)):
    """End every browser session of this user, this one included (API tokens keep working)."""
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        ended = session_records.revoke_all(session, user.id, "signed out everywhere")
        session.commit()
    if principal.via == "session":
        sessions.end_session(request)
        return redirect(request, "/login", "Signed out everywhere.", "success", json_data={"ok": True, "ended": ended})
    return redirect(request, "/account", "Signed out everywhere.", "success", json_data={"ok": True, "ended": ended})


@router.post("/account/sessions/{session_id}/revoke")
def sign_out_session(session_id: int, request: Request, principal: Principal = Depends(require_login)):
    """End one of this user's browser sessions."""
    user = _own_user(principal)
    with request.app.state.runtime.sessions() as session:
        ended = session_records.revoke(session, user.id, session_id, "signed out")
        session.commit()
    if not ended:
        raise HTTPException(404, f"you have no signed-in session {session_id}")
    if session_id == principal.session_record_id:
        sessions.end_session(request)
        return redirect(request, "/login", "Signed out.", "success", json_data={"ok": True})
    return redirect(request, "/account", "Session signed out.", "success", json_data={"ok": True})
