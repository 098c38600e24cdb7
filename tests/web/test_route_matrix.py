"""Route matrix: every route of the app declares who may call it (a route with no declared rule fails), and every
caller of another scope is refused on every route with the ids of scope A in its path: no session, a signed-in user
with no grants, the instructor of section B, the author of project Q, their API tokens, a revoked token, an expired
session, LRS credentials. Routes that take object ids (saved visualizations, tokens, sessions) are also called by
members of another scope through their own scope with scope A's ids: 404, nothing changed, nothing of A shown.

Scope A is section 101 (physics-fall) of project P 1 (intro-physics); scope B is section 201 (chem-fall) of project
Q 2 (chem-basics); tests/dashboard_support.py seeds both. One app, one Postgres and warehouse for the module."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from dashboard_support import bearer, module_runtime
from lrs_support import V103, basic, new_credential
from xolap.store import accounts
from xolap.store.models import ApiToken, Membership, Project, SavedVisualization, Section, User
from xolap.web.app import create_app

PUBLIC, OWN_ACCOUNT, ADMIN, SECTION, PROJECT, LRS = "public", "own account", "admin", "section", "project", "lrs"

# Every route's declared access rule, by path template (all its methods share it). A route missing here fails
# test_every_route_declares_its_access_rule: decide who may call it before adding it.
#   PUBLIC       anyone (sign-in, health, static, the LRS's about)
#   OWN_ACCOUNT  any signed-in user or token, acting on their own account and the scopes they hold only
#   ADMIN        administrators only (whatever the feature flags add on top)
#   SECTION      admins, the section's instructors, authors of its project (and the section's flags)
#   PROJECT      admins and the project's authors (and the project's flags)
#   LRS          LRS Basic credentials only, each inside its own section or project when it is limited
DECLARED: dict[str, str] = {
    "/openapi.json": PUBLIC,
    "/healthz": PUBLIC,
    "/static": PUBLIC,
    "/login": PUBLIC,
    "/logout": PUBLIC,
    "/xAPI/about": PUBLIC,
    "/": OWN_ACCOUNT,
    "/account": OWN_ACCOUNT,
    "/account/tokens": OWN_ACCOUNT,
    "/account/tokens/{token_id}/delete": OWN_ACCOUNT,
    "/account/password": OWN_ACCOUNT,
    "/account/sessions/revoke-all": OWN_ACCOUNT,
    "/account/sessions/{session_id}/revoke": OWN_ACCOUNT,
    "/api/v1/me": OWN_ACCOUNT,
    "/api/v1/sections": OWN_ACCOUNT,
    "/api/v1/projects": OWN_ACCOUNT,
    "/api/v1/admin/clickhouse/migrations": ADMIN,
    "/api/v1/admin/query": ADMIN,
    "/api/v1/admin/query/{tag}/progress": ADMIN,
    "/api/v1/admin/query/{tag}/cancel": ADMIN,
    "/api/v1/admin/analytics/categories/{key}": ADMIN,
    "/api/v1/admin/analytics/health": ADMIN,
    "/api/v1/admin/analytics/titles": ADMIN,
    "/api/v1/statements": ADMIN,
    "/api/v1/ingest/paths": ADMIN,
    "/api/v1/backfill/runs": ADMIN,
    "/api/v1/backfill/runs/manual": ADMIN,
    "/api/v1/backfill/runs/inventory": ADMIN,
    "/api/v1/backfill/runs/{kind}/{run_id}": ADMIN,
    "/api/v1/backfill/runs/{kind}/{run_id}/{action}": ADMIN,
    "/api/v1/backfill/batches/{batch_id}/retry": ADMIN,
    "/api/v1/backfill/batches/{batch_id}/chunks": ADMIN,
    "/api/v1/backfill/runs/{kind}/{run_id}/events": ADMIN,
    "/api/v1/admin/users": ADMIN,
    "/api/v1/admin/users/{user_id}/grants": ADMIN,
    "/api/v1/admin/users/{user_id}/tokens": ADMIN,
    "/api/v1/admin/flags": ADMIN,
    "/api/v1/admin/scopes/sync": ADMIN,
    "/api/v1/admin/scopes/import": ADMIN,
    "/admin": ADMIN,
    "/admin/users": ADMIN,
    "/admin/users/{user_id}": ADMIN,
    "/admin/users/{user_id}/grant": ADMIN,
    "/admin/users/{user_id}/memberships/{membership_id}/delete": ADMIN,
    "/admin/users/{user_id}/tokens": ADMIN,
    "/admin/users/{user_id}/tokens/{token_id}/delete": ADMIN,
    "/admin/users/{user_id}/admin": ADMIN,
    "/admin/users/{user_id}/disabled": ADMIN,
    "/admin/users/{user_id}/sessions/revoke": ADMIN,
    "/admin/users/{user_id}/password": ADMIN,
    "/admin/users/{user_id}/delete": ADMIN,
    "/admin/flags": ADMIN,
    "/admin/clickhouse": ADMIN,
    "/admin/maintenance": ADMIN,
    "/admin/clickhouse/migrations": ADMIN,
    "/admin/console": ADMIN,
    "/admin/logins": ADMIN,
    "/admin/scopes": ADMIN,
    "/admin/scopes/sync": ADMIN,
    "/admin/scopes/import": ADMIN,
    "/admin/scopes/{kind}/{scope_id}": ADMIN,
    "/admin/clickhouse/backfill": ADMIN,
    "/admin/clickhouse/backfill/manual": ADMIN,
    "/admin/clickhouse/backfill/inventory": ADMIN,
    "/admin/clickhouse/backfill/runs/{kind}/{run_id}": ADMIN,
    "/admin/clickhouse/backfill/runs/{kind}/{run_id}/{action}": ADMIN,
    "/admin/clickhouse/backfill/batches/{batch_id}/retry": ADMIN,
    "/admin/clickhouse/backfill/batches/{batch_id}/chunks": ADMIN,
    "/admin/lrs": ADMIN,
    "/admin/lrs/credentials": ADMIN,
    "/admin/lrs/credentials/{key}/revoke": ADMIN,
    "/sections/{slug}/analytics": SECTION,
    "/sections/{slug}/analytics/summary": SECTION,
    "/projects/{slug}/analytics": PROJECT,
    "/projects/{slug}/analytics/summary": PROJECT,
    "/xAPI/statements": LRS,
    "/xAPI/activities/state": LRS,
    "/xAPI/activities/profile": LRS,
    "/xAPI/agents/profile": LRS,
    "/xAPI/activities": LRS,
    "/xAPI/agents": LRS,
}
for _kind, _rule in (("sections", SECTION), ("projects", PROJECT)):
    for _tail in (
        "",
        "/summary",
        "/categories",
        "/categories/{key}",
        "/categories/{key}/export",
        "/query",
        "/query/{tag}/progress",
        "/query/{tag}/cancel",
        "/export",
        "/schema",
        "/visualizations",
        "/visualizations/{viz_id}",
        "/visualizations/{viz_id}/copy",
        "/visualizations/{viz_id}/run",
        "/visualizations/{viz_id}/export",
    ):
        DECLARED[f"/api/v1/{_kind}/{{slug}}/analytics{_tail}"] = _rule

SECTION_A, PROJECT_P, SECTION_B, PROJECT_Q = "physics-fall", "intro-physics", "chem-fall", "chem-basics"
MARK = "zq-scope-a-secret"  # in every object of scope A: no answer to another scope may contain it
NAME_MARK = "zq-only-in-a-statement"  # A's statement's learner name and activity name, never in a request
SESSION_ENDING = {("POST", "/logout"), ("POST", "/account/sessions/revoke-all"), ("POST", "/account/password")}


def route_methods(app) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app, HEAD-only routes as HEAD, mounts as GET."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        pairs = [(route.path, getattr(route, "methods", None)) for route in app.routes]
    else:
        pairs = [(context.path, context.methods) for context in iter_route_contexts(app.routes)]
    table = set()
    for path, methods in pairs:
        wanted = set(methods or {"GET"}) - {"OPTIONS"}
        wanted = wanted - {"HEAD"} or wanted
        table.update((method, path) for method in wanted)
    return sorted(table, key=lambda pair: (pair[1], pair[0]))


@dataclass
class World:
    runtime: object
    client: TestClient
    ids: dict[str, str]  # path parameter -> an id of scope A
    attackers: dict[str, dict[str, str]]  # name -> headers (cookie + CSRF token, bearer token, Basic)
    lrs_b: dict[str, str] = field(default_factory=dict)
    lrs_a: dict[str, str] = field(default_factory=dict)
    statement_a: str = ""


def sign_in(client: TestClient, email: str, password: str) -> tuple[str, str]:
    """(session cookie value, CSRF token) of a fresh browser session."""
    client.cookies.clear()
    page = client.get("/login")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.status_code
    cookie = answer.cookies.get("xolap_session")
    client.cookies.clear()
    home = client.get("/account", headers={"Cookie": f"xolap_session={cookie}", "Accept": "text/html"})
    client.cookies.clear()
    return cookie, re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)


def browser(cookie: str, csrf: str) -> dict[str, str]:
    return {"Cookie": f"xolap_session={cookie}", "X-CSRF-Token": csrf}


@pytest.fixture(scope="module")
def world(base_settings, ch_engine, pg_template):
    for runtime, tokens in module_runtime(base_settings, ch_engine, pg_template, "routematrix"):
        with runtime.sessions() as session:
            nobody = accounts.create_user(session, "nobody@example.edu", password="nobody-pass-1")
            author_q = accounts.create_user(session, "author-q@example.edu", password="author-q-pass")
            accounts.grant(session, author_q, project=session.get(Project, 2))
            inst_a = session.execute(select(User).where(User.email == "a@example.edu")).scalar_one()
            author_p = session.execute(select(User).where(User.email == "author@example.edu")).scalar_one()
            nobody_token = accounts.create_token(session, nobody, "matrix")[1]
            author_q_token = accounts.create_token(session, author_q, "matrix")[1]
            revoked_row, revoked_token = accounts.create_token(session, inst_a, "revoked")
            vizzes = [
                SavedVisualization(
                    scope=scope,
                    scope_id=scope_id,
                    title=f"{MARK} {scope}",
                    sql=f"SELECT '{MARK}' AS m",
                    spec={},
                    created_by=owner.id,
                )
                for scope, scope_id, owner in (("section", 101, inst_a), ("project", 1, author_p))
            ]
            session.add_all(vizzes)
            session.flush()
            ids = {
                "section_viz": str(vizzes[0].id),
                "project_viz": str(vizzes[1].id),
                "user_id": str(inst_a.id),
                "token_id": str(
                    session.execute(
                        select(ApiToken.id).where(ApiToken.user_id == inst_a.id, ApiToken.name == "tests")
                    ).scalar_one()
                ),
                "membership_id": str(
                    session.execute(select(Membership.id).where(Membership.user_id == inst_a.id)).scalar_one()
                ),
            }
            accounts.delete_token(session, inst_a, revoked_row.id)
            session.commit()
        client = TestClient(create_app(runtime))
        client.__enter__()  # one event loop for the module's requests (a TestClient outside `with` starts one a call)
        inst_a_cookie, _ = sign_in(client, "a@example.edu", "teacher-pass-a")
        with runtime.sessions() as session:
            ids["session_id"] = str(
                session.execute(
                    text("SELECT max(id) FROM web_sessions WHERE user_id = :u"), {"u": int(ids["user_id"])}
                ).scalar_one()
            )
        expired_cookie, expired_csrf = sign_in(client, "a@example.edu", "teacher-pass-a")
        with runtime.sessions() as session:  # an expired session of a member of A (textual SQL clears access caches)
            session.execute(
                text(
                    "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE id = (SELECT max(id) "
                    "FROM web_sessions)"
                )
            )
            session.commit()
        cred_a, secret_a = new_credential(runtime, "matrix a", section="101")
        cred_b, secret_b = new_credential(runtime, "matrix b", section="201")
        revoked_cred, revoked_secret = new_credential(runtime, "matrix revoked", section="201")
        from xolap.lrs import credentials

        with runtime.sessions() as session:
            credentials.revoke(session, revoked_cred.key)
            session.commit()
        lrs_a = basic(cred_a.key, secret_a) | V103
        statement_a = str(uuid.uuid4())
        stored = client.put(
            "/xAPI/statements",
            params={"statementId": statement_a},
            headers=lrs_a,
            json={
                "actor": {"mbox": f"mailto:{MARK}@example.com", "name": NAME_MARK},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": f"http://example.com/{MARK}", "definition": {"name": {"en-US": NAME_MARK}}},
            },
        )
        assert stored.status_code == 204, stored.text
        ids["lrs_key"] = cred_a.key
        attackers = {
            "anonymous": {},
            "no grants": browser(*sign_in(client, "nobody@example.edu", "nobody-pass-1")),
            "no grants token": bearer(nobody_token),
            "instructor of B": browser(*sign_in(client, "b@example.edu", "teacher-pass-b")),
            "instructor of B token": bearer(tokens["inst_b"]),
            "author of Q": browser(*sign_in(client, "author-q@example.edu", "author-q-pass")),
            "author of Q token": bearer(author_q_token),
            "revoked token": bearer(revoked_token),
            "expired session": browser(expired_cookie, expired_csrf),
            "LRS credential of B": basic(cred_b.key, secret_b) | V103,
            "revoked LRS credential": basic(revoked_cred.key, revoked_secret) | V103,
            **former_members_of_a(runtime, client),
        }
        assert inst_a_cookie
        yield World(
            runtime,
            client,
            ids,
            attackers,
            lrs_b=basic(cred_b.key, secret_b) | V103,
            lrs_a=lrs_a,
            statement_a=statement_a,
        )
        client.__exit__(None, None, None)


def former_members_of_a(runtime, client: TestClient) -> dict[str, dict[str, str]]:
    """Two instructors of A whose session and token have just opened A's dashboard answers (kept warm in the access
    and result caches), then one loses the grant and the other is disabled."""
    found = {}
    for email, end in (
        ("former@example.edu", "former instructor of A"),
        ("disabled@example.edu", "disabled instructor of A"),
    ):
        with runtime.sessions() as session:
            user = accounts.create_user(session, email, password="member-pass-1")
            membership = accounts.grant(session, user, section=session.get(Section, 101))
            token = accounts.create_token(session, user, "matrix")[1]
            session.commit()
            user_id, membership_id = user.id, membership.id
        headers = {end: browser(*sign_in(client, email, "member-pass-1")), end + " token": bearer(token)}
        for sent in headers.values():
            for path in (f"/api/v1/sections/{SECTION_A}/analytics", f"/api/v1/sections/{SECTION_A}/analytics/summary"):
                client.cookies.clear()
                assert client.get(path, headers={**sent, "Accept": "application/json"}).status_code == 200
        with runtime.sessions() as session:
            user = session.get(User, user_id)
            if end.startswith("disabled"):
                accounts.set_disabled(session, user, True)
            else:
                accounts.revoke(session, user, membership_id)
            session.commit()
        found.update(headers)
    return found


def fill(path: str, ids: dict[str, str]) -> str:
    """The path with scope A's ids (sections and projects by slug, objects by id)."""
    values = {
        "slug": SECTION_A if path.startswith(("/sections/", "/api/v1/sections/")) else PROJECT_P,
        "viz_id": ids["project_viz"] if "/projects/" in path else ids["section_viz"],
        "token_id": ids["token_id"],
        "session_id": ids["session_id"],
        "user_id": ids["user_id"],
        "membership_id": ids["membership_id"],
        "key": ids["lrs_key"] if "/lrs/" in path else "video",
        "tag": "q-0123456789abcdef",
        "kind": "section" if "/scopes/" in path else "manual",
        "scope_id": "101",
        "run_id": "1",
        "batch_id": "1",
        "action": "pause",
    }
    for name in re.findall(r"\{(\w+)\}", path):
        path = path.replace("{" + name + "}", values[name])
    return path


# Callers without a live session or token: the web answers them as it answers nobody (401, or a page's 303 to /login).
AS_NOBODY = {
    "anonymous",
    "expired session",
    "disabled instructor of A",
    "LRS credential of B",
    "revoked LRS credential",
}
# Tokens that name nobody any more: 403 'invalid or revoked API token' everywhere.
DEAD_TOKENS = {"revoked token", "disabled instructor of A token"}


# Browsers asking for a page or an htmx fragment (refused in their own words); the others ask as JSON clients.
BROWSER_MODES = {"anonymous", "expired session", "instructor of B", "author of Q", "former instructor of A"}


def refusals(rule: str, attacker: str, mode: str) -> set[int]:
    """The statuses the rule allows as a refusal of this attacker (303 means a redirect to the login page)."""
    if rule == LRS:
        return {401}
    if attacker in AS_NOBODY:
        return {303} if mode == "html" else {401}
    return {403}


def signed_in(attacker: str) -> bool:
    """A live account of another scope (session or token): its own account's routes are open to it."""
    return attacker not in AS_NOBODY and attacker not in DEAD_TOKENS


def ask(world: World, method: str, path: str, headers: dict[str, str]):
    world.client.cookies.clear()
    return world.client.request(method, path, headers=headers, follow_redirects=False)


def leaks(answer) -> bool:
    return MARK in answer.text or "Physics · Fall cohort" in answer.text


def test_every_route_declares_its_access_rule(world):
    paths = {path for _method, path in route_methods(world.client.app)}
    undeclared = sorted(paths - DECLARED.keys())
    assert not undeclared, f"routes with no declared access rule in {__name__}.DECLARED: {undeclared}"
    assert not sorted(DECLARED.keys() - paths), "declared rules for routes the app no longer has"


def refusal_violations(world: World, routes: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Call each (method, path template) with scope A's ids as every attacker in every mode (JSON, HTML page, htmx
    fragment for browsers); (calls made, the calls that were not refused as the route's rule says)."""
    failures: list[str] = []
    calls = 0
    for method, template in routes:
        rule = DECLARED.get(template)
        if rule in (None, PUBLIC) or (method, template) in SESSION_ENDING:
            continue
        path = fill(template, world.ids)
        for attacker, headers in world.attackers.items():
            if rule == OWN_ACCOUNT and signed_in(attacker):
                continue  # their own account: test_own_account_routes_take_no_id_of_another_user
            if rule == LRS and attacker == "LRS credential of B":
                continue  # its own scope: test_an_lrs_credential_of_b_gets_nothing_of_a
            modes = ["json"]
            if attacker in BROWSER_MODES and not path.startswith("/api/"):
                modes += ["html", "htmx"]
            for mode in modes:
                sent = dict(headers)
                if "Authorization" not in sent or sent["Authorization"].startswith("Basic"):
                    sent["Accept"] = "text/html" if mode in ("html", "htmx") else "application/json"
                if mode == "htmx":
                    sent["HX-Request"] = "true"
                answer = ask(world, method, path, sent)
                calls += 1
                want = refusals(rule, attacker, mode)
                to_login = answer.headers.get("location", "").startswith("/login?next=")
                if answer.status_code not in want or (answer.status_code == 303 and not to_login) or leaks(answer):
                    failures.append(
                        f"{method} {path} [{rule}] as {attacker} ({mode}): {answer.status_code} "
                        f"{answer.text[:120]!r}, want {sorted(want)}"
                    )
    return calls, failures


def test_every_caller_of_another_scope_is_refused_on_every_route(world):
    calls, failures = refusal_violations(world, route_methods(world.client.app))
    print(f"{calls} calls")
    assert calls > 500
    assert not failures, f"{len(failures)} of {calls} calls not refused:\n" + "\n".join(failures[:60])


def test_the_matrix_catches_a_route_that_checks_the_wrong_thing(world):
    """The checker is able to fail: a section route guarded by login alone answers instructor B and the author of Q
    with A's data, and a route nobody declared is named."""
    from xolap.web.auth import require_login

    app = world.client.app
    leak = "/api/v1/sections/{slug}/analytics/matrix-leak"
    app.get(leak)(lambda slug, _who=Depends(require_login): {"title": "Physics · Fall cohort"})
    try:
        DECLARED[leak] = SECTION
        _calls, failures = refusal_violations(world, [("GET", leak)])
        assert any("as instructor of B" in f for f in failures) and any("as author of Q token" in f for f in failures)
        assert not any("as anonymous" in f for f in failures)  # login alone does refuse those
        del DECLARED[leak]
        with pytest.raises(AssertionError, match="no declared access rule"):
            test_every_route_declares_its_access_rule(world)
    finally:
        DECLARED.pop(leak, None)
        app.router.routes.pop()


def viz_calls(base: str, viz_id: str) -> list[tuple[str, str, dict | None]]:
    """Every saved-visualization route of a scope's API named with this id (method, path, JSON body)."""
    one = f"{base}/visualizations/{viz_id}"
    return [
        ("GET", one, None),
        ("PUT", one, {"title": "taken over", "sql": "SELECT 1 AS n", "spec": {}}),
        ("POST", one + "/copy", {"title": "copied"}),
        ("POST", one + "/run", None),
        ("GET", one + "/export?format=csv", None),
        ("GET", one + "/export?format=json", None),
        ("DELETE", one, None),
    ]


def test_members_of_another_scope_name_scope_a_objects_through_their_own_scope(world):
    """Instructor of B and author of Q open their own section (or project) and put A's saved visualization ids in the
    path: 404 on every route (the id is not revealed to exist), nothing of A shown, A's objects unchanged."""
    failures = []
    own_bases = {
        "instructor of B": [f"/api/v1/sections/{SECTION_B}/analytics"],
        "author of Q": [f"/api/v1/sections/{SECTION_B}/analytics", f"/api/v1/projects/{PROJECT_Q}/analytics"],
    }
    calls = 0
    for member, bases in own_bases.items():
        for headers in (world.attackers[member], world.attackers[member + " token"]):
            sent = {**headers, "Accept": "application/json"}
            for base in bases:
                assert ask(world, "GET", base + "/visualizations", sent).status_code == 200  # their own scope opens
                for viz_id in (world.ids["section_viz"], world.ids["project_viz"]):
                    for method, path, body in viz_calls(base, viz_id):
                        world.client.cookies.clear()
                        answer = world.client.request(method, path, headers=sent, json=body, follow_redirects=False)
                        calls += 1
                        if answer.status_code != 404 or leaks(answer):
                            failures.append(f"{method} {path} as {member}: {answer.status_code} {answer.text[:160]!r}")
    assert calls >= 50
    assert not failures, "\n".join(failures)
    with world.runtime.sessions() as session:
        kept = session.execute(select(SavedVisualization).order_by(SavedVisualization.id)).scalars().all()
        assert [(v.title, v.sql) for v in kept] == [
            (f"{MARK} section", f"SELECT '{MARK}' AS m"),
            (f"{MARK} project", f"SELECT '{MARK}' AS m"),
        ]


def test_own_account_routes_take_no_id_of_another_user(world):
    """A signed-in user of another scope (session or token) names A's instructor's token and session ids on their own
    account routes: 404, and both still work; their home, account page and lists name nothing of A."""
    failures = []
    for attacker in ("no grants", "instructor of B", "author of Q"):
        for headers in (world.attackers[attacker], world.attackers[attacker + " token"]):
            for path in (
                f"/account/tokens/{world.ids['token_id']}/delete",
                f"/account/sessions/{world.ids['session_id']}/revoke",
            ):
                answer = ask(world, "POST", path, {**headers, "Accept": "application/json"})
                if answer.status_code != 404:
                    failures.append(f"POST {path} as {attacker}: {answer.status_code} {answer.text[:160]!r}")
            for path in ("/", "/account", "/api/v1/me", "/api/v1/sections", "/api/v1/projects"):
                for accept in ("application/json", "text/html"):
                    answer = ask(world, "GET", path, {**headers, "Accept": accept})
                    if answer.status_code != 200 or leaks(answer) or SECTION_A in answer.text:
                        failures.append(f"GET {path} as {attacker} ({accept}): {answer.status_code} A shown")
    assert not failures, "\n".join(failures)
    with world.runtime.sessions() as session:
        assert session.get(ApiToken, int(world.ids["token_id"])) is not None
        alive = session.execute(
            text("SELECT revoked_at IS NULL FROM web_sessions WHERE id = :i"), {"i": int(world.ids["session_id"])}
        ).scalar_one()
        assert alive


def test_an_lrs_credential_of_b_gets_nothing_of_a(world):
    """The LRS credential of section B asks for A's statement by id, lists, and looks up A's agent and activity: 404
    or empty, never A's content."""
    auth = world.lrs_b
    agent = f'{{"mbox": "mailto:{MARK}@example.com"}}'
    answers = {
        "by id": world.client.get("/xAPI/statements", headers=auth, params={"statementId": world.statement_a}),
        "voided by id": world.client.get(
            "/xAPI/statements", headers=auth, params={"voidedStatementId": world.statement_a}
        ),
        "list": world.client.get("/xAPI/statements", headers=auth),
        "by agent": world.client.get("/xAPI/statements", headers=auth, params={"agent": agent}),
        "agents": world.client.get("/xAPI/agents", headers=auth, params={"agent": agent}),
        "activity": world.client.get(
            "/xAPI/activities", headers=auth, params={"activityId": f"http://example.com/{MARK}"}
        ),
    }
    assert answers["by id"].status_code == 404 and answers["voided by id"].status_code == 404
    asked = ("agents", "activity")  # these echo the agent or activity id they were asked for, never what A stored
    shown = {
        name: a.status_code
        for name, a in answers.items()
        if a.status_code >= 500 or NAME_MARK in a.text or (name not in asked and MARK in a.text)
    }
    assert not shown, shown
    mine = world.client.get("/xAPI/statements", headers=world.lrs_a, params={"statementId": world.statement_a})
    assert mine.status_code == 200 and NAME_MARK in mine.text  # the control: A's own credential reads it


def test_a_warm_answer_of_a_is_never_served_to_another_scope(world):
    """A's overview, a category and a custom query are warm in the result cache for A: another scope's members are
    refused them by URL, get their own scope's answer for the same question, and no answer carries an ETag a
    conditional request of another scope could match (If-None-Match never turns a scoped answer into a 304)."""
    inst_a = {**bearer(_token(world, "a@example.edu", "tests")), "Accept": "application/json"}
    a_base, b_base = f"/api/v1/sections/{SECTION_A}/analytics", f"/api/v1/sections/{SECTION_B}/analytics"
    query = {"sql": "SELECT count() AS n FROM raw_events"}
    for _ in range(2):  # the second is a hit
        overview = ask(world, "GET", a_base, inst_a)
        category = ask(world, "GET", a_base + "/categories/video", inst_a)
        counted = world.client.post(a_base + "/query", headers=inst_a, json=query)
    assert category.headers["x-xolap-cache"] == "hit" and counted.headers["x-xolap-cache"] == "hit"
    for answer in (overview, category, counted):
        assert answer.status_code == 200 and "etag" not in answer.headers
    for member in ("instructor of B", "instructor of B token", "author of Q", "author of Q token"):
        headers = {**world.attackers[member], "Accept": "application/json", "If-None-Match": "*"}
        for path in (a_base, a_base + "/categories/video"):
            assert ask(world, "GET", path, headers).status_code == 403, (member, path)
        assert world.client.post(a_base + "/query", headers=headers, json=query).status_code == 403
        theirs = world.client.post(b_base + "/query", headers=headers, json=query)
        assert theirs.status_code == 200 and theirs.json()["rows"] != counted.json()["rows"], member
        own = ask(world, "GET", b_base + "/categories/video", headers)
        assert own.status_code == 200 and own.content != category.content, member


def _token(world: World, email: str, name: str) -> str:
    """A fresh API token of this user (tokens are stored hashed, so the seeded ones cannot be read back)."""
    with world.runtime.sessions() as session:
        user = session.execute(select(User).where(User.email == email)).scalar_one()
        plaintext = accounts.create_token(session, user, name)[1]
        session.commit()
    return plaintext


def test_every_answer_of_a_scope_of_b_holds_nothing_of_a(world):
    """Members of B (section chem-fall of project Q) open every answer of their own scopes (overview, summary, schema,
    saved list, every category, CSV exports, the pages and a few custom queries over every table they may read):
    none names a learner, section or saved visualization of project P."""
    foreign = ("learner-101-", "learner-102-", "Physics", MARK)
    sweeps = (
        ("instructor of B token", f"/api/v1/sections/{SECTION_B}/analytics"),
        ("author of Q token", f"/api/v1/projects/{PROJECT_Q}/analytics"),
        ("author of Q token", f"/api/v1/sections/{SECTION_B}/analytics"),
    )
    shown = []
    answers = 0
    for member, base in sweeps:
        headers = world.attackers[member]
        keys = [c["key"] for c in ask(world, "GET", base + "/categories", headers).json()]
        assert "video" in keys
        paths = [base, base + "/summary", base + "/schema", base + "/visualizations"]
        paths += [f"{base}/categories/{key}" for key in keys]
        paths += [f"{base}/categories/{key}/export" for key in ("learners_at_risk", "engagement")]  # CSV of each
        page = base.removeprefix("/api/v1")
        asked = [("GET", p, headers, None) for p in paths]
        asked += [("GET", p, {**headers, "Accept": "text/html"}, None) for p in (page, page + "/summary")]
        for sql in (
            "SELECT DISTINCT user_id, section_id, project_id FROM raw_events",
            "SELECT * FROM content_titles",
            "SELECT name FROM system.tables",
        ):
            asked.append(("POST", base + "/query", headers, {"sql": sql}))
        for method, path, sent, body in asked:
            world.client.cookies.clear()
            answer = world.client.request(method, path, headers=sent, json=body)
            answers += 1
            if answer.status_code >= 500 or any(word in answer.text for word in foreign):
                shown.append(f"{method} {path} {body or ''} as {member}: {answer.status_code}")
            if "no-store" not in answer.headers.get("cache-control", ""):  # a shared cache would hand it on
                shown.append(f"{method} {path} as {member}: Cache-Control {answer.headers.get('cache-control')!r}")
            if body and "raw_events" in body["sql"]:
                assert answer.status_code == 200 and answer.json()["rows"], (path, answer.text[:200])
    assert answers > 60
    assert not shown, "\n".join(shown)
    inst_a = bearer(_token(world, "a@example.edu", "sweep control"))
    control = ask(world, "GET", f"/api/v1/sections/{SECTION_A}/analytics/categories/learners_at_risk", inst_a)
    assert "learner-101-" in control.text  # the words looked for are what A's own answers show


DOCUMENTS = {  # each document resource: (the parameters naming one document, the parameter naming the document)
    "/xAPI/activities/state": (
        {"activityId": "http://example.com/matrix", "agent": '{"mbox": "mailto:matrix@example.com"}'},
        "stateId",
    ),
    "/xAPI/activities/profile": ({"activityId": "http://example.com/matrix"}, "profileId"),
    "/xAPI/agents/profile": ({"agent": '{"mbox": "mailto:matrix@example.com"}'}, "profileId"),
}


def test_an_lrs_credential_of_b_neither_sees_nor_moves_a_document_of_a(world):
    """A's credential stores one document in each document resource; B's credential, at exactly A's parameters, reads
    nothing (404, an empty list), cannot tell it exists (If-Match with A's ETag is 412 as with any ETag, If-None-Match
    * creates its own), writes and deletes only its own, and A's documents keep their content and ETag."""
    client, a, b = world.client, world.lrs_a, world.lrs_b
    kept = {}
    for path, (listing, name) in DOCUMENTS.items():
        one = {**listing, name: "matrix-doc"}
        assert client.put(path, headers=a | {"If-None-Match": "*"}, params=one, json={"m": MARK}).status_code == 204
        kept[path] = client.get(path, headers=a, params=one).headers["etag"]
    for path, (listing, name) in DOCUMENTS.items():
        one = {**listing, name: "matrix-doc"}
        answers = {
            "get": client.get(path, headers=b, params=one),
            "head": client.head(path, headers=b, params=one),
            "list": client.get(path, headers=b, params=listing),
            "if-match A": client.put(path, headers=b | {"If-Match": kept[path]}, params=one, json={"m": "b"}),
            "if-match other": client.put(path, headers=b | {"If-Match": '"0123"'}, params=one, json={"m": "b"}),
        }
        statuses = {what: answer.status_code for what, answer in answers.items()}
        assert statuses == {"get": 404, "head": 404, "list": 200, "if-match A": 412, "if-match other": 412}, path
        assert answers["list"].json() == [] and answers["if-match A"].text == answers["if-match other"].text
        created = client.put(path, headers=b | {"If-None-Match": "*"}, params=one, json={"m": "b"})
        assert created.status_code == 204, (path, created.text)
        assert client.post(path, headers=b, params=one, json={"n": 1}).status_code == 204
        assert client.get(path, headers=b, params=one).json() == {"m": "b", "n": 1}
        assert client.delete(path, headers=b, params=one).status_code == 204
        if path == "/xAPI/activities/state":
            assert client.delete(path, headers=b, params=listing).status_code == 204
    for path, (listing, name) in DOCUMENTS.items():
        mine = client.get(path, headers=a, params={**listing, name: "matrix-doc"})
        assert mine.status_code == 200 and mine.json() == {"m": MARK} and mine.headers["etag"] == kept[path], path


SPELLINGS_OF_A = (
    "101",
    "+101",
    "0101",
    " 101",
    "101 ",
    "101.0",
    "1e2",
    "１０１",  # full-width digits, which int() reads as 101
    "PHYSICS-FALL",
    "Physics-Fall",
    "%70hysics-fall",
    "physics-fall%20",
    "physics-fall%00",
    "physics-fall%2F",
)


def test_no_spelling_of_a_scope_of_a_opens_it_to_another_scope(world):
    """Section A asked for by B's members under any spelling of its id or slug, with HEAD, a trailing slash or a
    doubled slash (followed where the server redirects): refused or unknown, never a 2xx, never A's data; the LRS
    credential of B gets A's statement under no spelling of its id."""
    shown = []
    for member in ("instructor of B token", "instructor of B", "author of Q token"):
        headers = {**world.attackers[member], "Accept": "application/json"}
        for ref in SPELLINGS_OF_A:
            for method, path in (
                ("GET", f"/api/v1/sections/{ref}/analytics/categories/learners_at_risk"),
                ("HEAD", f"/api/v1/sections/{ref}/analytics"),
                ("GET", f"/api/v1/sections/{ref}/analytics/"),
                ("GET", f"//api/v1/sections/{ref}/analytics"),
                ("GET", f"/sections/{ref}/analytics"),
            ):
                world.client.cookies.clear()
                answer = world.client.request(method, path, headers=headers, follow_redirects=True)
                if answer.status_code < 300 or answer.status_code >= 500 or "learner-101-" in answer.text:
                    shown.append(f"{method} {path!r} as {member}: {answer.status_code}")
    sid = world.statement_a
    for spelling in (sid.upper(), "{" + sid + "}", "urn:uuid:" + sid, sid.replace("-", ""), " " + sid):
        answer = world.client.get("/xAPI/statements", headers=world.lrs_b, params={"statementId": spelling})
        if answer.status_code not in (400, 404) or NAME_MARK in answer.text:
            shown.append(f"statementId {spelling!r} as the LRS credential of B: {answer.status_code}")
    assert not shown, "\n".join(shown)
