"""Admin pages: users (add, roles, tokens, passwords), feature flags, and the ClickHouse console (health, metrics,
Postgres and jobs, migrations with a confirmation step for down, sample queries). Each page also answers JSON.

Users and flags need an admin but no feature flag (else nobody could switch the first flag on);
/admin/clickhouse needs the `clickhouse-olap` flag too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select

from xolap.counted import counted
from xolap.runtime import Runtime
from xolap.store import accounts, flags
from xolap.store import sessions as session_records
from xolap.store.models import ApiToken, Membership, Project, Section, User
from xolap.web.auth import Principal, require_admin, require_site_admin
from xolap.web.negotiation import redirect, render

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])


@router.get("/admin")
def admin_index(request: Request, principal: Principal = Depends(require_site_admin)):
    return redirect(
        request,
        "/admin/users",
        json_data={
            "pages": [
                "/admin/users",
                "/admin/flags",
                "/admin/scopes",
                "/admin/clickhouse",
                "/admin/console",
                "/admin/maintenance",
                "/admin/clickhouse/backfill",
            ]
        },
    )


# ---------- users ----------


def _scope_names(session, model, ids) -> list[dict]:
    """[{id, slug, title}] of the sections or projects with these ids, by title (admin pages show names, not ids)."""
    if not ids:
        return []
    rows = session.execute(select(model).where(model.id.in_(sorted(ids)))).scalars()
    return sorted(({"id": r.id, "slug": r.slug, "title": r.title or r.slug} for r in rows), key=lambda r: r["title"])


def _user_rows(session) -> list[dict]:
    rows = []
    for user in accounts.list_users(session):
        roles = accounts.roles(session, user)
        rows.append(
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "is_admin": user.is_admin,
                "has_password": user.password_hash is not None,
                "instructor_section_ids": sorted(roles.section_ids),
                "author_project_ids": sorted(roles.project_ids),
                "tokens": len(accounts.tokens(session, user)),
                "instructor_of": _scope_names(session, Section, roles.section_ids),
                "author_of": _scope_names(session, Project, roles.project_ids),
                "created_at": user.created_at,
                "disabled": user.disabled_at is not None,
            }
        )
    return rows


def _users_page(request: Request, *, errors: dict | None = None, form: dict | None = None, status_code: int = 200):
    with request.app.state.runtime.sessions() as session:
        users = _user_rows(session)
    return render(
        request,
        "admin/users.html",
        {"users": users, "errors": errors or {}, "form": form or {}},
        json_data={"users": users, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/admin/users")
def users_page(request: Request, principal: Principal = Depends(require_site_admin)):
    return _users_page(request)


@router.post("/admin/users")
def add_user(
    request: Request,
    email: str = Form(""),  # an empty field is named on the form, not refused by FastAPI with the form lost
    name: str = Form(""),
    password: str = Form(""),
    is_admin: bool = Form(False),
    principal: Principal = Depends(require_site_admin),
):
    with request.app.state.runtime.sessions() as session:
        errors = accounts.new_user_problems(session, email, password)  # the store's rules, shown by field
        if not email.strip():
            errors["email"] = "required: the new user's email address"
        if "password" in errors:
            errors["password"] += " (or leave empty: API tokens only)"
        if errors:
            return _users_page(
                request, errors=errors, form={"email": email, "name": name, "is_admin": is_admin}, status_code=400
            )
        user = accounts.create_user(session, email, password=password or None, is_admin=is_admin, name=name)
        session.commit()
        user_id = user.id
    return redirect(
        request,
        f"/admin/users/{user_id}",
        f"User {email.strip().lower()} created.",
        "success",
        json_data={"id": user_id, "email": email.strip().lower()},
    )


def _load_user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    return user


def _user_detail(session, user: User) -> dict:
    memberships = []
    for m in session.execute(select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)).scalars():
        scope = session.get(Section, m.section_id) if m.section_id else session.get(Project, m.project_id)
        memberships.append(
            {
                "id": m.id,
                "role": m.role,
                "section_id": m.section_id,
                "project_id": m.project_id,
                "slug": scope.slug if scope else None,
                "title": scope.title if scope else None,
            }
        )
    tokens = [
        {"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at}
        for t in accounts.tokens(session, user)
    ]
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_admin": user.is_admin,
        "has_password": user.password_hash is not None,
        "memberships": memberships,
        "tokens": tokens,
        "disabled": user.disabled_at is not None,
        "sessions": len(session_records.list_live(session, user.id)),
    }


def _user_page(
    request: Request,
    user_id: int,
    *,
    new_token: str | None = None,
    errors: dict | None = None,
    form: dict | None = None,
    status_code: int = 200,
):
    with request.app.state.runtime.sessions() as session:
        detail = _user_detail(session, _load_user(session, user_id))
        sections = [
            {"id": s.id, "slug": s.slug, "title": s.title}
            for s in session.execute(select(Section).order_by(Section.slug).limit(1000)).scalars()
        ]
        projects = [
            {"id": p.id, "slug": p.slug, "title": p.title}
            for p in session.execute(select(Project).order_by(Project.slug).limit(1000)).scalars()
        ]
    body = dict(detail, **({"token": new_token} if new_token else {}))
    return render(
        request,
        "admin/user.html",
        {
            "user": detail,
            "sections": sections,
            "projects": projects,
            "new_token": new_token,
            "errors": errors or {},
            "form": form or {},
        },
        json_data=body,
        status_code=status_code,
    )


@router.get("/admin/users/{user_id}")
def user_page(user_id: int, request: Request, principal: Principal = Depends(require_site_admin)):
    return _user_page(request, user_id)


@router.post("/admin/users/{user_id}/grant")
def grant_role(
    user_id: int,
    request: Request,
    kind: str = Form("section"),
    ref: str = Form(""),
    principal: Principal = Depends(require_site_admin),
):
    with request.app.state.runtime.sessions() as session:
        user = _load_user(session, user_id)
        try:
            target: Section | Project
            if not ref.strip():
                raise accounts.AccountError("required: the section or project (id or slug) to grant")
            if kind == "section":
                target = accounts.resolve_section(session, ref)
                accounts.grant(session, user, section=target)
            elif kind == "project":
                target = accounts.resolve_project(session, ref)
                accounts.grant(session, user, project=target)
            else:
                raise accounts.AccountError(f"kind must be 'section' or 'project' (got {kind!r})")
        except accounts.AccountError as exc:
            form = {"kind": kind, "ref": ref}
            return _user_page(request, user_id, errors={"grant": str(exc)}, form=form, status_code=400)
        session.commit()
        message = f"{user.email} is now {'instructor' if kind == 'section' else 'author'} of {kind} {target.slug}."
    return redirect(request, f"/admin/users/{user_id}", message, "success", json_data={"ok": True, "message": message})


@router.post("/admin/users/{user_id}/memberships/{membership_id}/delete")
def revoke_role(user_id: int, membership_id: int, request: Request, principal: Principal = Depends(require_site_admin)):
    with request.app.state.runtime.sessions() as session:
        try:
            accounts.revoke(session, _load_user(session, user_id), membership_id)
        except accounts.AccountError as exc:
            raise HTTPException(404, str(exc)) from None
        session.commit()
    return redirect(request, f"/admin/users/{user_id}", "Role removed.", "success", json_data={"ok": True})


@router.post("/admin/users/{user_id}/tokens")
def create_token(
    user_id: int, request: Request, name: str = Form(""), principal: Principal = Depends(require_site_admin)
):
    with request.app.state.runtime.sessions() as session:
        _row, plaintext = accounts.create_token(session, _load_user(session, user_id), name)
        session.commit()
    return _user_page(request, user_id, new_token=plaintext, status_code=201)


@router.post("/admin/users/{user_id}/tokens/{token_id}/delete")
def delete_token(user_id: int, token_id: int, request: Request, principal: Principal = Depends(require_site_admin)):
    with request.app.state.runtime.sessions() as session:
        try:
            accounts.delete_token(session, _load_user(session, user_id), token_id)
        except accounts.AccountError as exc:
            raise HTTPException(404, str(exc)) from None
        session.commit()
    return redirect(request, f"/admin/users/{user_id}", "Token deleted.", "success", json_data={"ok": True})


@router.post("/admin/users/{user_id}/admin")
def set_admin(
    user_id: int, request: Request, is_admin: bool = Form(...), principal: Principal = Depends(require_site_admin)
):
    with request.app.state.runtime.sessions() as session:
        user = _load_user(session, user_id)
        if principal.user is not None and principal.user.id == user.id and not is_admin:
            return _user_page(
                request, user_id, errors={"admin": "you cannot remove your own admin rights"}, status_code=400
            )
        user.is_admin = is_admin
        session.commit()
    return redirect(
        request,
        f"/admin/users/{user_id}",
        "Admin rights " + ("given." if is_admin else "removed."),
        "success",
        json_data={"ok": True, "is_admin": is_admin},
    )


@router.post("/admin/users/{user_id}/disabled")
def set_disabled(
    user_id: int, request: Request, disabled: bool = Form(...), principal: Principal = Depends(require_site_admin)
):
    """Disable (no login; sessions and API tokens stop at once) or enable a user."""
    with request.app.state.runtime.sessions() as session:
        user = _load_user(session, user_id)
        if principal.user is not None and principal.user.id == user.id and disabled:
            return _user_page(request, user_id, errors={"disabled": "you cannot disable yourself"}, status_code=400)
        accounts.set_disabled(session, user, disabled)
        if disabled:
            session_records.revoke_all(session, user.id, "user disabled")
        session.commit()
    return redirect(
        request,
        f"/admin/users/{user_id}",
        "User " + ("disabled; their sessions are signed out." if disabled else "enabled."),
        "success",
        json_data={"ok": True, "disabled": disabled},
    )


@router.post("/admin/users/{user_id}/sessions/revoke")
def end_user_sessions(user_id: int, request: Request, principal: Principal = Depends(require_site_admin)):
    """Sign a user out of every browser (their API tokens keep working)."""
    with request.app.state.runtime.sessions() as session:
        ended = session_records.revoke_all(session, _load_user(session, user_id).id, "signed out by an admin")
        session.commit()
    return redirect(
        request,
        f"/admin/users/{user_id}",
        f"{counted(ended, 'session')} signed out.",
        "success",
        json_data={"ok": True, "ended": ended},
    )


@router.post("/admin/users/{user_id}/password")
def set_password(
    user_id: int, request: Request, password: str = Form(""), principal: Principal = Depends(require_site_admin)
):
    with request.app.state.runtime.sessions() as session:
        user = _load_user(session, user_id)
        try:
            if not password:
                raise accounts.AccountError(
                    f"new password: required, at least {accounts.MIN_PASSWORD_LENGTH} characters"
                )
            accounts.set_password(session, user, password)
        except accounts.AccountError as exc:
            return _user_page(request, user_id, errors={"password": str(exc)}, status_code=400)
        session.commit()
    return redirect(
        request,
        f"/admin/users/{user_id}",
        "Password set; the user's sessions are signed out.",
        "success",
        json_data={"ok": True},
    )


@router.post("/admin/users/{user_id}/delete")
def delete_user(user_id: int, request: Request, principal: Principal = Depends(require_site_admin)):
    with request.app.state.runtime.sessions() as session:
        user = _load_user(session, user_id)
        if principal.user is not None and principal.user.id == user.id:
            return _user_page(request, user_id, errors={"delete": "you cannot delete yourself"}, status_code=400)
        session.query(ApiToken).filter(ApiToken.user_id == user.id).delete()
        session.delete(user)
        session.commit()
    return redirect(request, "/admin/users", "User deleted.", "success", json_data={"ok": True})


# ---------- feature flags ----------


def _flags_page(request: Request, *, error: str | None = None, status_code: int = 200):
    with request.app.state.runtime.sessions() as session:
        states = [
            s.__dict__ | {"meaning": flags.KNOWN_FLAGS.get(s.name, ((), ""))[1]} for s in flags.list_flags(session)
        ]
        labels = {("section", s.id): s.slug for s in session.execute(select(Section)).scalars()}
        labels |= {("project", p.id): p.slug for p in session.execute(select(Project)).scalars()}
    for state in states:
        state["scope_label"] = labels.get((state["scope_type"], state["scope_id"]), "")
    known = [{"name": n, "scopes": list(s), "meaning": m} for n, (s, m) in flags.KNOWN_FLAGS.items()]
    return render(
        request,
        "admin/flags.html",
        {"flags": states, "known": known, "error": error},
        json_data={"flags": states, "known": known, **({"error": error} if error else {})},
        status_code=status_code,
    )


@router.get("/admin/flags")
def flags_page(request: Request, principal: Principal = Depends(require_site_admin)):
    return _flags_page(request)


@router.post("/admin/flags")
def set_flag(
    request: Request,
    name: str = Form(...),
    enabled: bool = Form(...),
    scope_type: str = Form("global"),
    scope: str = Form(""),
    clear: bool = Form(False),
    principal: Principal = Depends(require_site_admin),
):
    with request.app.state.runtime.sessions() as session:
        try:
            scope_id = 0
            if scope_type == "section":
                scope_id = accounts.resolve_section(session, scope).id
            elif scope_type == "project":
                scope_id = accounts.resolve_project(session, scope).id
            elif scope_type != "global":
                raise flags.FlagError(f"scope must be global, section or project (got {scope_type!r})")
            if clear:
                flags.check_flag(name, scope_type)
                flags.clear_flag(session, name, scope_type, scope_id)
                message = f"{name} for {scope_type} {scope} follows the global setting again."
            else:
                flags.set_flag(session, name, enabled, scope_type, scope_id)
                where = "globally" if scope_type == "global" else f"for {scope_type} {scope}"
                message = f"{name} {'enabled' if enabled else 'disabled'} {where}."
        except (flags.FlagError, accounts.AccountError) as exc:
            return _flags_page(request, error=str(exc), status_code=400)
        session.commit()
    log.info("flag change by admin: %s", message)
    return redirect(request, "/admin/flags", message, "success", json_data={"ok": True, "message": message})


# ---------- ClickHouse console ----------


def console_data(runtime: Runtime) -> dict:
    """Health and metrics (analytics engine), Postgres status and job counts, migration status."""
    from xolap.jobs import job_counts
    from xolap.store.db import postgres_status

    postgres = postgres_status(runtime.settings)
    jobs: dict[str, Any]
    try:
        with runtime.sessions() as session:
            jobs = dict(job_counts(session))
    except Exception as exc:  # noqa: BLE001 - shown on the page
        jobs = {"error": str(exc).splitlines()[0]}
    data: dict = {}
    try:
        from xolap.analytics.health import health_summary

        data = health_summary(runtime.clickhouse(), runtime.settings, extra={"postgres": postgres, "jobs": jobs})
        data["ok"] = True
    except Exception as exc:  # noqa: BLE001 - ClickHouse down still shows the rest
        from xolap.web.app import health

        data = {
            "ok": False,
            "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            "basic": health(runtime),
            "postgres": postgres,
            "jobs": jobs,
            "sample_queries": [],
        }
    try:  # ClickHouse, Postgres, S3 and the workers: state, since when, last error (xolap.analytics.health)
        from xolap.analytics.health import component_health

        overall = component_health(runtime)
        data["components"], data["components_status"] = overall["components"], overall["status"]
    except Exception as exc:  # noqa: BLE001 - the rest of the page still shows
        data["components"], data["components_status"] = {}, f"unknown ({type(exc).__name__})"
    try:
        data["migrations"] = [s.__dict__ for s in runtime.migrator().status()]
    except Exception as exc:  # noqa: BLE001
        data["migrations_error"] = str(exc).splitlines()[0]
        data["migrations"] = []
    data["pending_migrations"] = sum(1 for m in data["migrations"] if not m["applied"])
    return data


@router.get("/admin/clickhouse")
def clickhouse_console(request: Request, principal: Principal = Depends(require_admin)):
    from xolap.web.pages_console import samples

    data = console_data(request.app.state.runtime)
    runnable = samples(request.app.state.runtime.settings) if data.get("sample_queries") else []
    return render(request, "admin/clickhouse.html", {"data": data, "samples": runnable}, json_data=data)


@router.get("/admin/maintenance")
def maintenance_page(request: Request, principal: Principal = Depends(require_admin)):
    """Migrations (setup, up, and down behind a confirmation): kept off the health page."""
    runtime = request.app.state.runtime
    data: dict = {}
    try:
        data["migrations"] = [s.__dict__ for s in runtime.migrator().status()]
    except Exception as exc:  # noqa: BLE001 - shown on the page
        data["migrations_error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        data["migrations"] = []
    data["pending_migrations"] = sum(1 for m in data["migrations"] if not m["applied"])
    data["applied_migrations"] = sum(1 for m in data["migrations"] if m["applied"])
    return render(request, "admin/maintenance.html", {"data": data}, json_data=data)


@router.post("/admin/clickhouse/migrations")
def clickhouse_migrations(
    request: Request,
    action: str = Form(...),
    steps: int = Form(1),
    confirm: str = Form(""),
    principal: Principal = Depends(require_admin),
):
    from xolap.clickhouse.migrations import run_action

    if action not in ("setup", "up", "down"):
        return redirect(
            request, "/admin/maintenance", f"unknown migration action {action!r}: use setup, up or down", "error"
        )
    if steps < 1:
        return redirect(request, "/admin/maintenance", "steps must be at least 1", "error")
    runtime = request.app.state.runtime
    if action == "down" and confirm != "yes":
        applied = [s.__dict__ for s in runtime.migrator().status() if s.applied]
        reverted = list(reversed(applied))[:steps]
        return render(
            request,
            "admin/confirm_down.html",
            {"steps": steps, "reverted": reverted},
            json_data={"confirm_required": True, "would_revert": reverted, "hint": "repeat with confirm=yes"},
            status_code=409,
        )
    try:
        result = run_action(runtime.migrator(), action, steps=steps)
    except Exception as exc:  # noqa: BLE001 - shown to the admin
        return redirect(request, "/admin/maintenance", f"migration {action} failed: {exc}", "error")
    log.info("clickhouse migration %s by admin: %s", action, result["changed"])
    changed = ", ".join(result["changed"]) or "nothing to do"
    return redirect(request, "/admin/maintenance", f"{action}: {changed}", "success", json_data=result)
