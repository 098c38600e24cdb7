"""Authorization of EVERY route × role, table-driven: each route is classified by path (a route nobody classified
fails the test), then every role calls it over real HTTP (uvicorn on 127.0.0.1) as an HTML page, as JSON and with
its API token, and the status must match the rule: allowed → not 401/403/login-redirect and not 5xx; denied →
anonymous 401 (JSON) or 303 to /login (HTML), everyone else 403.

Roles: anonymous, invalid token, instructor of A, instructor of B, author of P, admin; then the same with the global
flags off, and with the section/project flags off. Scoped routes are always called with section A's / project P's
slug, so instructor B asking for A is the "other section by URL or API" case; the author of P, the project A is
taught from, may open A (issue 11: authors see the sections of their own project).
Routes added later (dashboards, backfill, ...) are picked up from app.routes automatically.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from support import free_port
from xolap.store import accounts, flags
from xolap.store.models import Project, Section
from xolap.web.app import create_app

SECTION_A, SECTION_B, PROJECT_P = "sec-a", "sec-b", "proj-p"

# Rules: who may call a route, given the flags in force.
PUBLIC, PUBLIC_FORM, LOGIN, SITE_ADMIN, ADMIN_API, ADMIN_OLAP, BULK, SECTION, PROJECT = (
    "public",
    "public_form",
    "login",
    "site_admin",
    "admin_api",
    "admin_olap",
    "bulk",
    "section",
    "project",
)
# PUBLIC_FORM: a public POST (login, logout) that still needs the session's CSRF token: a caller without a
# session gets 403, everyone else gets through.
LRS = "lrs"  # the xAPI LRS: only its own HTTP Basic credentials open it; sessions and API tokens get 401

# (path regex, rule): first match wins. Keep specific prefixes before general ones.
ROUTE_RULES: list[tuple[str, str]] = [
    (r"^/(healthz|login|logout|openapi\.json|docs|docs/oauth2-redirect|redoc)$", PUBLIC),
    (r"^/static(/|$)", PUBLIC),
    (r"^/xAPI/about$", PUBLIC),
    (r"^/xAPI(/|$)", LRS),
    (r"^/$", LOGIN),
    (r"^/account(/|$)", LOGIN),
    (r"^/api/v1/(me|sections|projects)$", LOGIN),
    (r"^/admin/clickhouse/backfill(/|$)", BULK),
    (r"^/admin/clickhouse(/|$)", ADMIN_OLAP),
    (r"^/admin(/|$)", SITE_ADMIN),
    (r"^/api/v1/admin/clickhouse/backfill(/|$)", BULK),
    (r"^/api/v1/admin/clickhouse/migrations$", ADMIN_API),  # the CLI drives migrations on fresh installs: no flag
    (r"^/api/v1/admin(/|$)", SITE_ADMIN),
    (r"^/api/v1/backfill(/|$)", ADMIN_API),  # backfill CLI over HTTP with the admin token (pages need the flags)
    (r"^/api/v1/(statements|ingest/paths)$", SITE_ADMIN),  # HTTP ingest (statements; `xolap ingest` via the server)
    (r"^(/api/v1)?/sections/\{slug\}(/|$)", SECTION),
    (r"^(/api/v1)?/projects/\{slug\}(/|$)", PROJECT),
]


def classify(path: str) -> str:
    for pattern, rule in ROUTE_RULES:
        if re.search(pattern, path):
            return rule
    raise AssertionError(
        f"route {path} is not classified in tests/web/test_authz.py ROUTE_RULES: decide who may call it"
    )


@dataclass(frozen=True)
class Role:
    name: str
    email: str | None = None  # None: anonymous (or an invalid token)
    is_admin: bool = False
    section: str | None = None
    project: str | None = None
    invalid_token: bool = False


ROLES = [
    Role("anonymous"),
    Role("invalid-token", invalid_token=True),
    Role("instructor-A", "ia@example.org", section=SECTION_A),
    Role("instructor-B", "ib@example.org", section=SECTION_B),
    Role("author-P", "ap@example.org", project=PROJECT_P),
    Role("admin", "root@example.org", is_admin=True),
]
ALL_FLAGS_ON = {"global": True, "bulk": True, "section": True, "project": True}


def allowed(rule: str, role: Role, flag_state: dict[str, bool]) -> bool:
    """The policy under test, written out independently of xolap.web.auth."""
    signed_in = role.email is not None
    if rule in (PUBLIC, PUBLIC_FORM):
        return True
    if rule == LRS:
        return False
    if rule == LOGIN:
        return signed_in
    if rule in (SITE_ADMIN, ADMIN_API):
        return role.is_admin
    if rule == ADMIN_OLAP:
        return role.is_admin and flag_state["global"]
    if rule == BULK:
        return role.is_admin and flag_state["global"] and flag_state["bulk"]
    if rule == SECTION:
        return (
            (role.is_admin or role.section == SECTION_A or role.project == PROJECT_P)
            and flag_state["global"]
            and (flag_state["section"])
        )
    if rule == PROJECT:
        return (role.is_admin or role.project == PROJECT_P) and flag_state["global"] and flag_state["project"]
    raise AssertionError(rule)


def concrete_path(path: str) -> str:
    """Fill path parameters: scoped slugs name section A / project P; other ids name nothing (so allowed calls
    cannot change data: they end in 404/409/422)."""
    for name in re.findall(r"\{(\w+)(?::\w+)?\}", path):
        if name == "slug":
            value = SECTION_A if "/sections/" in path else PROJECT_P
        elif name == "kind":
            value = "manual"
        else:
            value = "999999"
        path = re.sub(r"\{" + name + r"(?::\w+)?\}", value, path)
    return path


def all_routes(app: FastAPI) -> list[tuple[str, set[str] | None]]:
    """(path, methods) of every route, including those of included routers (FastAPI's lazy includes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return [(route.path, getattr(route, "methods", None)) for route in app.routes]
    return [(context.path, context.methods) for context in iter_route_contexts(app.routes)]


def walk(app: FastAPI) -> list[tuple[str, str, str, str]]:
    """(method, template path, concrete path, rule) for every route; fails on an unclassified one."""
    table = []
    for path, methods in all_routes(app):
        assert path is not None, "a route without a path"
        rule = classify(path)
        for method in sorted((methods or set()) - {"HEAD", "OPTIONS"}):
            unsafe_public = rule == PUBLIC and method in ("POST", "PUT", "PATCH", "DELETE")
            table.append((method, path, concrete_path(path), PUBLIC_FORM if unsafe_public else rule))
    return table


SECONDS: dict[str, float] = {}  # time spent per route (printed by the walk test: `pytest -s` shows it)


class LiveServer:
    """The app on a real port (SSE streams need a real server); requests read only the status line."""

    def __init__(self, app: FastAPI):
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        assert self.server.started, "test server did not start"
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self.client = self._thread_client()
        return self

    def __exit__(self, *exc) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def _thread_client(self) -> httpx.Client:
        """One client per calling thread, so no cookie set by one response reaches another request."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(
                base_url=f"http://127.0.0.1:{self.port}", timeout=30, follow_redirects=False
            )
            self._clients.append(client)
        return client

    def status(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        client = self._thread_client()
        client.cookies.clear()
        started = time.perf_counter()
        with client.stream(method, path, headers=headers) as response:
            result = response.status_code, response.headers.get("location", "")
        SECONDS[f"{method} {path}"] = SECONDS.get(f"{method} {path}", 0.0) + time.perf_counter() - started
        return result


@dataclass
class Credentials:
    cookie: str | None = None
    csrf: str | None = None
    token: str | None = None


def login(live: LiveServer, email: str, password: str) -> Credentials:
    page = live.client.get("/login")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    response = live.client.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
    assert response.status_code == 303, (email, response.status_code, response.text)
    cookie = response.cookies.get("xolap_session")
    live.client.cookies.clear()
    home = live.client.get("/account", headers={"Cookie": f"xolap_session={cookie}"})
    return Credentials(cookie=cookie, csrf=re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1))


def set_flags(runtime, state: dict[str, bool]) -> None:
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, state["global"])
        flags.set_flag(session, flags.BULK_INGEST, state["bulk"])
        for section_id in (11, 12):
            flags.set_flag(session, flags.SECTION_DASHBOARD, state["section"], "section", section_id)
        flags.set_flag(session, flags.PROJECT_DASHBOARD, state["project"], "project", 7)
        session.commit()


@pytest.fixture()
def world(runtime):
    """Section A and B of project P (and project Q), one user per role with a session and an API token."""
    with runtime.sessions() as session:
        session.add_all(
            [
                Project(id=7, slug=PROJECT_P, title="P"),
                Project(id=8, slug="proj-q", title="Q"),
                Section(id=11, slug=SECTION_A, title="A", project_id=7),
                Section(id=12, slug=SECTION_B, title="B", project_id=7),
            ]
        )
        session.flush()
        tokens = {}
        for role in ROLES:
            if role.email is None:
                continue
            user = accounts.create_user(session, role.email, password="pass word 1", is_admin=role.is_admin)
            if role.section:
                accounts.grant(session, user, section=accounts.resolve_section(session, role.section))
            if role.project:
                accounts.grant(session, user, project=accounts.resolve_project(session, role.project))
            tokens[role.name] = accounts.create_token(session, user, "authz")[1]
        session.commit()
    app = create_app(runtime)
    with LiveServer(app) as live:
        creds = {"anonymous": Credentials(), "invalid-token": Credentials(token="xolap_not-a-real-token")}
        for role in ROLES:
            if role.email:
                creds[role.name] = login(live, role.email, "pass word 1")
                creds[role.name].token = tokens[role.name]
        yield app, live, creds


# Routes that end the caller's browser sessions server-side: called last, each with a fresh login, then every role
# signs in again (so the sessions the other calls use stay alive).
SESSION_ENDING = {("POST", "/logout"), ("POST", "/account/sessions/revoke-all")}


def _fresh_cookie(live: LiveServer, role: Role, headers: dict[str, str]) -> dict[str, str]:
    if role.email is None or "Cookie" not in headers:
        return headers
    fresh = login(live, role.email, "pass word 1")
    return {**headers, "Cookie": f"xolap_session={fresh.cookie}", "X-CSRF-Token": fresh.csrf}


def check(
    live: LiveServer,
    table,
    roles: list[Role],
    creds: dict[str, Credentials],
    flag_state: dict[str, bool],
    *,
    html: bool = True,
) -> list[str]:
    """Call every route as every role in every mode; returns the violations (empty when all rules hold)."""
    calls = []
    for method, _template, path, rule in table:
        for role in roles:
            cred = creds[role.name]
            if cred.token is None or role.email is not None:  # browser: cookie (or none) + CSRF token
                base = {"Cookie": f"xolap_session={cred.cookie}", "X-CSRF-Token": cred.csrf} if cred.cookie else {}
                if html and not path.startswith("/api/"):
                    calls.append((method, path, rule, role, "html", {**base, "Accept": "text/html"}))
                calls.append((method, path, rule, role, "json", {**base, "Accept": "application/json"}))
            if cred.token is not None:
                calls.append(
                    (
                        method,
                        path,
                        rule,
                        role,
                        "token",
                        {"Authorization": f"Bearer {cred.token}", "Accept": "application/json"},
                    )
                )
    ending = [call for call in calls if (call[0], call[1]) in SESSION_ENDING]
    calls = [call for call in calls if (call[0], call[1]) not in SESSION_ENDING]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda call: live.status(call[0], call[1], call[5]), calls))
    for method, path, rule, role, mode, headers in ending:
        calls.append((method, path, rule, role, mode, headers))
        answers.append(live.status(method, path, _fresh_cookie(live, role, headers)))
    if ending:
        for role in ROLES:
            if role.email and role.name in creds:
                token = creds[role.name].token
                creds[role.name] = login(live, role.email, "pass word 1")
                creds[role.name].token = token
    failures = []
    for (method, path, rule, role, mode, headers), (status, location) in zip(calls, answers, strict=False):
        expect_allowed = allowed(rule, role, flag_state) and not (
            role.invalid_token and rule not in (PUBLIC, PUBLIC_FORM)
        )
        # a refusal sends to /login?next=...; a plain /login is where sign-out routes go when they succeed
        to_login = status in (302, 303, 307) and location.startswith("/login?next=") and rule != PUBLIC_FORM
        where = f"{method} {path} [{rule}] as {role.name} ({mode}, flags {flag_state}): got {status}"
        if rule == LRS:
            if status != 401:
                failures.append(where + " but the LRS answers 401 to anyone without LRS Basic credentials")
        elif rule == PUBLIC_FORM and "Cookie" not in headers and "Authorization" not in headers:
            if status != 403:
                failures.append(where + " but a form post without a session must fail its CSRF check (403)")
        elif expect_allowed:
            if status in (401, 403) or to_login or status >= 500:
                failures.append(where + " but should be allowed")
        elif role.email is None and not role.invalid_token:
            want = 303 if mode == "html" else 401
            if status != want or (want == 303 and not to_login):
                failures.append(where + f" but anonymous should get {want}")
        elif status != 403:
            failures.append(where + " but should be 403")
    return failures


def test_every_route_is_classified(runtime):
    table = walk(create_app(runtime))
    paths = {template for _m, template, _p, _r in table}
    assert {"/admin/users", "/admin/flags", "/admin/clickhouse", "/login"} <= paths
    assert len(table) >= 20


def test_every_route_times_every_role(runtime, world):
    app, live, creds = world
    table = walk(app)
    set_flags(runtime, ALL_FLAGS_ON)
    failures = check(live, table, ROLES, creds, ALL_FLAGS_ON)
    gated = [row for row in table if row[3] in (ADMIN_OLAP, BULK, SECTION, PROJECT)]
    by_name = {role.name: role for role in ROLES}
    scoped_roles = [by_name[n] for n in ("admin", "instructor-A", "author-P")]
    for state in (
        {"global": False, "bulk": False, "section": True, "project": True},  # admin with flags off
        {"global": True, "bulk": False, "section": False, "project": False},
    ):  # scoped flags off
        set_flags(runtime, state)
        failures += check(live, gated, scoped_roles, creds, state, html=False)  # HTML vs JSON: phase 1
    slowest = sorted(SECONDS.items(), key=lambda item: -item[1])[:8]
    print(f"\n{sum(1 for _ in table)} route-methods; slowest: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
    assert not failures, f"{len(failures)} authorization violations:\n" + "\n".join(failures[:80])


def test_the_walk_catches_an_unprotected_route(runtime, world):
    """The checker is able to fail: a section route without the dependency leaks to instructor B and anonymous."""
    app, live, creds = world
    app.get("/sections/{slug}/leak")(lambda slug: {"rows": [1, 2, 3]})
    leak = [row for row in walk(app) if row[1] == "/sections/{slug}/leak"]
    set_flags(runtime, ALL_FLAGS_ON)
    failures = check(live, leak, ROLES, creds, ALL_FLAGS_ON)
    assert any("instructor-B" in f and "should be 403" in f for f in failures)
    assert any("anonymous" in f for f in failures)
    app.router.routes.pop()
    with pytest.raises(AssertionError, match="not classified"):
        classify("/reports/{id}")
