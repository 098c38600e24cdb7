"""Who is asking and what they may see: the request's Principal and the FastAPI dependencies that guard routes.

How a request is authenticated (first match wins):
  1. `Authorization: Bearer <token>`: the admin token (runtime.admin_token) → an admin principal without a user;
     or a user's API token (sha256 looked up in api_tokens) → that user. An unknown token is refused with 403.
  2. The session cookie set by POST /login (xolap.web.sessions): a random id whose live record is in Postgres
     (xolap.store.sessions: revocable, idle and absolute expiry, ends when the password changes).
  3. Otherwise anonymous.
Who a session or token is, flags and scope lookups are kept per process (xolap.store.access_cache): a warm request
makes no Postgres round trip, and any write to accounts, roles, flags or scopes clears them; a sign-out or a revoked
token forgets only the facts filed under that secret's hash (the principal's key: access_cache.SESSION_FACT or
TOKEN_FACT and the sha256 that web_sessions.id_hash / api_tokens.token_hash hold).

Dependencies (use with `Depends(...)`; each returns what it guards):
  current_principal(request) -> Principal             never refuses (anonymous allowed)
  require_login -> Principal                          any signed-in user or token
  require_site_admin -> Principal                     admin (users, flags, scopes pages; no feature flag needed)
  require_admin -> Principal                          admin + global flag `clickhouse-olap` (/admin/clickhouse)
  require_bulk_ingest -> Principal                    admin + `clickhouse-olap` + `clickhouse-olap-bulk-ingest`
  require_section_access(slug) -> Section             admin, instructor of that section or author of its project, and
                                                      flags `clickhouse-olap`
                                                      + `instructor_dashboard_analytics` for that section
  require_project_access(slug) -> Project             admin or author of that project, and flags `clickhouse-olap`
                                                      + `project_dashboard_analytics` for that project
  The path parameter must be named `slug`: `@router.get("/sections/{slug}/analytics")`.
  Refusals: anonymous → 401 for JSON clients (path under /api/ or `Accept: application/json`), else 303 to
  /login?next=<path>; signed in but not allowed (or flag off) → 403 with a reason in `detail`. A section the
  user may not see answers 403 whether or not it exists (no probing); admins get 404 for unknown slugs.

CSRF: every require_* dependency checks unsafe methods (POST/PUT/PATCH/DELETE) of cookie-authenticated requests:
the form field `csrf_token` or header `X-CSRF-Token` must equal the session's token. Bearer-token requests are
exempt. Templates get `csrf_token` (hidden field) and base.html puts it in <meta name="csrf-token"> and sets
htmx's header for every htmx request. `csrf_protect` alone guards forms open to anonymous users (login).

Pages answer JSON too: use xolap.web.negotiation.render(request, template, context, json_data).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from xolap.runtime import Runtime
from xolap.store import access_cache, accounts, flags
from xolap.store import sessions as session_records
from xolap.store.models import Project, Section, User
from xolap.web import sessions
from xolap.web.accepts import wants_json

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    """The caller: a user (or None for the admin token / anonymous) and what they may see."""

    user: User | None = None
    is_admin: bool = False
    instructor_section_ids: frozenset[int] = field(default_factory=frozenset)
    author_project_ids: frozenset[int] = field(default_factory=frozenset)
    via: str = "anonymous"  # anonymous | session | api_token | admin_token | invalid_token
    session_record_id: int | None = None  # the browser session's record (via == "session")
    live_until: float | None = None  # time.monotonic() at which the browser session expires unless touched

    @property
    def expired(self) -> bool:
        """A browser session kept by the process that its own deadlines (idle timeout, lifetime) have ended."""
        return self.live_until is not None and time.monotonic() >= self.live_until

    @property
    def authenticated(self) -> bool:
        return self.via in ("session", "api_token", "admin_token")

    @property
    def label(self) -> str:
        return (
            self.user.email if self.user is not None else ("admin token" if self.via == "admin_token" else "anonymous")
        )

    def can_see_section(self, section: Section) -> bool:
        """Admins, the section's instructors, and the authors of the project it is taught from."""
        return (
            self.is_admin
            or int(section.id) in self.instructor_section_ids
            or (section.project_id is not None and int(section.project_id) in self.author_project_ids)
        )

    def can_see_project(self, project: Project) -> bool:
        return self.is_admin or int(project.id) in self.author_project_ids

    def as_json(self) -> dict:
        return {
            "email": self.user.email if self.user else None,
            "name": self.user.name if self.user else None,
            "is_admin": self.is_admin,
            "instructor_section_ids": sorted(self.instructor_section_ids),
            "author_project_ids": sorted(self.author_project_ids),
            "via": self.via,
        }


ANONYMOUS = Principal()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _for_user(session, user: User, via: str, session_record_id: int | None = None) -> Principal:
    roles = accounts.roles(session, user)
    session.expunge(user)
    return Principal(user, roles.is_admin, roles.section_ids, roles.project_ids, via, session_record_id)


def access_database(request: Request) -> str:
    """Which database this app's access facts come from (xolap.store.access_cache keys by it; computed once)."""
    key = getattr(request.app.state, "access_database", None)
    if key is None:
        key = request.app.state.access_database = access_cache.database_key(request.app.state.runtime.sessions)
    return key


def _token_principal(runtime: Runtime, token: str) -> Principal:
    with runtime.sessions() as session:
        user = accounts.user_for_token(session, token)
        principal = _for_user(session, user, "api_token") if user is not None else Principal(via="invalid_token")
        session.commit()
    return principal


def _session_principal(runtime: Runtime, sid: str) -> Principal:
    with runtime.sessions() as session:
        live = session_records.find_live(session, sid)
        principal = ANONYMOUS
        if live is not None:
            record, user = live
            principal = _for_user(session, user, "session", record.id)
            left = session_records.seconds_left(session, record.id)
            principal = replace(principal, live_until=time.monotonic() + left)
        session.commit()
    return principal


def _principal_source(request: Request) -> tuple[Principal | None, tuple | None, Callable[[], Principal] | None]:
    """(the principal when known without a lookup, else None; the access-cache key and loader of the lookup)."""
    runtime = request.app.state.runtime
    token = bearer_token(request)
    if token is not None:
        if hmac.compare_digest(token.encode(), runtime.admin_token.encode()):
            return Principal(None, True, frozenset(), frozenset(), "admin_token"), None, None
        key = (access_cache.TOKEN_FACT, accounts.hash_token(token))  # a revoke forgets its facts by this key
        return None, key, lambda: _token_principal(runtime, token)
    sid = sessions.session_id(request)
    if not sid:
        return ANONYMOUS, None, None
    key = (access_cache.SESSION_FACT, session_records.hash_session_id(sid))  # a sign-out forgets its facts by this key
    return None, key, lambda: _session_principal(runtime, sid)


def resolve_principal(request: Request) -> Principal:
    """The request's principal (computed once per request, cached on request.state; across requests the process
    keeps it in xolap.store.access_cache, which every write to accounts or roles clears, and a sign-out or revoke of
    this secret)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal, key, load = _principal_source(request)
    if principal is None:
        assert key is not None and load is not None  # _principal_source names a lookup whenever it has no principal
        principal = access_cache.cached(access_database(request), key, load)
        if principal.expired:  # its session ended since it was kept: look again (and get it refused)
            access_cache.discard(access_database(request), key)
            principal = access_cache.cached(access_database(request), key, load)
    request.state.principal = principal
    return principal


async def _access_fact(request: Request, key: tuple, load: Callable[[], Any]) -> Any:
    """An access fact on the event loop when the process has it (no thread hop), else looked up on threads of
    their own (_ACCESS_LOOKUPS)."""
    database = getattr(request.app.state, "access_database", None)
    if database is not None:
        found = access_cache.peek(database, key)
        if found is not access_cache.MISSING:
            return found
    lookup = partial(_cached_fact, request, key, load)
    return await asyncio.get_running_loop().run_in_executor(_ACCESS_LOOKUPS, lookup)


def _cached_fact(request: Request, key: tuple, load: Callable[[], Any]) -> Any:
    return access_cache.cached(access_database(request), key, load)


# Threads of their own for access lookups, so a request never waits for a threadpool token behind slow analytics
# work (custom queries, exports) to learn who is asking.
_ACCESS_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="xolap-access")


async def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal, key, load = _principal_source(request)
    if principal is None:
        assert key is not None and load is not None  # _principal_source names a lookup whenever it has no principal
        principal = await _access_fact(request, key, load)
        if principal.expired:  # its session ended since it was kept: look again (and get it refused)
            access_cache.discard(access_database(request), key)
            principal = await _access_fact(request, key, load)
    request.state.principal = principal
    return principal


def is_json_client(request: Request) -> bool:
    return request.url.path.startswith("/api/") or wants_json(request)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="/")


SIGNED_OUT = "you are signed out (the session ended, or you logged out in another tab)"


def refuse(request: Request, principal: Principal, reason: str) -> HTTPException:
    """401 (JSON) or a redirect to the login page for anonymous callers; 403 with the reason for the others."""
    if principal.via == "invalid_token":
        return HTTPException(403, "invalid or revoked API token")
    if not principal.authenticated:
        if is_json_client(request):
            return HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
        if request.headers.get("hx-request") == "true":  # a part of a page: htmx would put the login page inside it
            return HTTPException(401, SIGNED_OUT, headers={"WWW-Authenticate": "Bearer"})
        return HTTPException(303, "login required", headers={"Location": login_url(request)})
    return HTTPException(403, reason)


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe cookie-authenticated request whose CSRF token (form field or header) does not match."""
    if request.method not in UNSAFE_METHODS or bearer_token(request) is not None:
        return
    expected = sessions.expected_csrf(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    # bytes: compare_digest refuses non-ASCII str, and a hostile token may be anything
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode("utf-8", "surrogatepass")):
        raise HTTPException(403, "CSRF token missing or invalid: reload the page and try again")


async def csrf_protect(request: Request) -> None:
    """Dependency for forms anonymous users may post (login)."""
    await check_csrf(request)


def _flag(request: Request, name: str, scope_type: str = "global", scope_id: int = 0) -> bool:
    return flags_enabled(request, (name, scope_type, scope_id))[0]


def _flags_fact(request: Request, wanted: tuple[tuple[str, str, int], ...]) -> tuple[tuple, Callable[[], tuple]]:
    runtime = request.app.state.runtime

    def load() -> tuple[bool, ...]:
        with runtime.sessions() as session:
            return tuple(flags.is_enabled(session, name, scope_type, scope_id) for name, scope_type, scope_id in wanted)

    return ("flags", wanted), load


def flags_enabled(request: Request, *wanted: tuple[str, str, int]) -> list[bool]:
    """Several flags (from the process's access cache, else in one Postgres session)."""
    key, load = _flags_fact(request, wanted)
    return list(access_cache.cached(access_database(request), key, load))


async def require_login(request: Request, principal: Principal = Depends(current_principal)) -> Principal:
    if not principal.authenticated:
        raise refuse(request, principal, "login required")
    await check_csrf(request)
    return principal


def require_site_admin(request: Request, principal: Principal = Depends(require_login)) -> Principal:
    if not principal.is_admin:
        raise refuse(request, principal, "administrators only")
    return principal


def require_admin(request: Request, principal: Principal = Depends(require_site_admin)) -> Principal:
    if not _flag(request, flags.ANALYTICS):
        raise refuse(request, principal, f"feature flag {flags.ANALYTICS!r} is off")
    return principal


def require_bulk_ingest(request: Request, principal: Principal = Depends(require_admin)) -> Principal:
    if not _flag(request, flags.BULK_INGEST):
        raise refuse(request, principal, f"feature flag {flags.BULK_INGEST!r} is off")
    return principal


def _scope_fact(request: Request, kind: str, slug: str) -> tuple[tuple, Callable[[], Any]]:
    runtime = request.app.state.runtime

    def load():
        with runtime.sessions() as session:
            row = accounts.find_scope(session, kind, slug)
            if row is not None:
                session.expunge(row)
            return row

    return ("scope", kind, slug), load


def lookup_scope(request: Request, kind: str, slug: str):
    """The section or project (kind) whose slug (or id) this is, or None; kept in the process's access cache, so
    callers only read it (detached from any session)."""
    key, load = _scope_fact(request, kind, slug)
    return access_cache.cached(access_database(request), key, load)


async def lookup_scope_async(request: Request, kind: str, slug: str):
    """lookup_scope for async code: no thread hop when the process holds the answer."""
    return await _access_fact(request, *_scope_fact(request, kind, slug))


async def flags_enabled_async(request: Request, *wanted: tuple[str, str, int]) -> list[bool]:
    """flags_enabled for async code: no thread hop when the process holds the answer."""
    return list(await _access_fact(request, *_flags_fact(request, wanted)))


@dataclass(frozen=True)
class _ScopeRule:
    """What it takes to see one kind of scope's analytics."""

    model: type
    kind: str  # section | project
    role: str  # the membership that grants it
    flag: str  # the per-scope feature flag


_SECTION_RULE = _ScopeRule(Section, "section", "an instructor of this section", flags.SECTION_DASHBOARD)
_PROJECT_RULE = _ScopeRule(Project, "project", "an author of this project", flags.PROJECT_DASHBOARD)


async def _require_scope(rule: _ScopeRule, slug: str, request: Request, principal: Principal):
    """Async, so a warm request is authorized on the event loop; lookups the process lacks run in the threadpool."""
    scope = await _access_fact(request, *_scope_fact(request, rule.kind, slug))
    allowed = scope is not None and (
        principal.can_see_section(scope) if rule.kind == "section" else principal.can_see_project(scope)
    )
    if not allowed:
        if scope is None and principal.is_admin:
            raise HTTPException(404, f"no {rule.kind} with id or slug {slug!r}")
        raise refuse(request, principal, f"you are not {rule.role}")
    wanted = ((flags.ANALYTICS, "global", 0), (rule.flag, rule.kind, int(scope.id)))
    analytics, dashboard = await _access_fact(request, *_flags_fact(request, wanted))
    if not analytics:
        raise refuse(request, principal, f"feature flag {flags.ANALYTICS!r} is off")
    if not dashboard:
        raise refuse(request, principal, f"feature flag {rule.flag!r} is off for this {rule.kind}")
    return scope


async def require_section_access(slug: str, request: Request, principal: Principal = Depends(require_login)) -> Section:
    """The section named by the `slug` path parameter, when the caller may see its analytics."""
    return await _require_scope(_SECTION_RULE, slug, request, principal)


async def require_project_access(slug: str, request: Request, principal: Principal = Depends(require_login)) -> Project:
    """The project named by the `slug` path parameter, when the caller may see its analytics."""
    return await _require_scope(_PROJECT_RULE, slug, request, principal)
