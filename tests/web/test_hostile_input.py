"""Hostile input never gives a 5xx: EVERY route of the app (found in app.routes, so new routes are fuzzed too) is
called over real HTTP with hostile strings in each path parameter and each query parameter, as anonymous, as an
instructor and as an admin (all feature flags on, so scoped routes run their handlers)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from web.test_authz import ALL_FLAGS_ON, PROJECT_P, SECTION_A, all_routes, set_flags, world  # noqa: F401 - fixture

HOSTILE = [
    "\x00",
    "a\x00b",
    "%00",
    "\x01\x08\x1b\x7f",
    "\r\nX-Injected: 1",
    "\t",
    " ",
    "x" * 10_000,
    "ünïcødé-日本語-🙂",
    "\u202egnp.exe\u200f",
    "\ufeff",
    "../../etc/passwd",
    "..",
    "'; DROP TABLE users; --",
    '"\\`',
    "{{7*7}}",
    "-1",
    "0",
    "-99999999999999999999",
    "9223372036854775808",
    "1" + "0" * 40,
    "1e309",
    "NaN",
]
NUMERIC_HOSTILE = [
    "\x00",
    "%00",
    "x" * 10_000,
    "../..",
    "'",
    "-1",
    "0",
    "-99999999999999999999",
    "2147483648",
    "9223372036854775808",
    "1" + "0" * 40,
    "1e309",
    "NaN",
    "\u0661\u0662",
]  # for int parameters
RAW_SEGMENTS = ["%FF%FE", "%C0%AF", "%ED%A0%80"]  # invalid UTF-8 sent as-is (no further quoting)
ROLES = ["anonymous", "instructor-A", "admin"]
NORMAL = {"slug": None, "kind": "manual", "action": "pause", "key": "progress", "tag": "t1", "format": "csv"}


def _params(dependant, attribute: str) -> dict[str, list[str]]:
    """Each parameter's name and the hostile values for its type (int parameters get the numeric list)."""
    found: dict[str, list[str]] = {}
    for param in getattr(dependant, attribute):
        annotation = getattr(param.field_info, "annotation", None)
        found.setdefault(param.name, NUMERIC_HOSTILE if annotation in (int, int | None) else HOSTILE)
    for sub in dependant.dependencies:
        for name, values in _params(sub, attribute).items():
            found.setdefault(name, values)
    return found


def _route_table(app) -> list[tuple[str, str, dict[str, list[str]], dict[str, list[str]]]]:
    """(method, path template, path parameters, query parameters) of every API route."""
    from fastapi.routing import iter_route_contexts

    table = []
    for context in iter_route_contexts(app.routes):
        route = context.route
        if not isinstance(route, APIRoute):
            continue
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"}):
            table.append(
                (
                    method,
                    context.path,
                    _params(route.dependant, "path_params"),
                    _params(route.dependant, "query_params"),
                )
            )
    return table


def _fill(path: str, name: str, value: str) -> str:
    return path.replace("{" + name + "}", value)


def _normal(path: str, name: str) -> str:
    if name == "slug":
        return SECTION_A if "/sections/" in path else PROJECT_P
    return NORMAL.get(name) or "1"


def calls_for(table) -> list[tuple[str, str, dict]]:
    """(method, url, query) with one hostile value in one parameter at a time, the others normal."""
    calls = []
    for method, template, path_names, query_names in table:

        def base(skip: str | None = None, template=template, path_names=path_names) -> str:
            path = template
            for name in path_names:
                if name != skip:
                    path = _fill(path, name, quote(_normal(template, name), safe=""))
            return path

        for name, values in path_names.items():
            for value in values:
                calls.append((method, _fill(base(name), name, quote(value, safe="")), {}))
            for raw in RAW_SEGMENTS:
                calls.append((method, _fill(base(name), name, raw), {}))
        for name, values in query_names.items():
            for value in values:
                calls.append((method, base(), {name: value}))
    return calls


def test_the_fuzz_covers_every_parameterized_route(runtime):
    from xolap.web.app import create_app

    table = _route_table(create_app(runtime))
    assert len(table) == sum(
        len((m or set()) - {"HEAD", "OPTIONS"})
        for p, m in all_routes(create_app(runtime))
        if not p.startswith(("/openapi", "/docs", "/redoc", "/static"))
    )
    with_params = [row for row in table if row[2] or row[3]]
    assert len(with_params) >= 50
    calls = calls_for(table)
    assert any("%00" in url for _m, url, _q in calls) and any(q.get("next") == "\x00" for _m, _u, q in calls)


def test_no_route_answers_5xx_to_hostile_input(runtime, world):
    app, live, creds = world
    set_flags(runtime, ALL_FLAGS_ON)
    calls = calls_for(_route_table(app))

    def call(args):
        role, (method, url, query) = args
        cred = creds[role]
        headers = {"Accept": "application/json"}
        if cred.cookie:
            headers.update({"Cookie": f"xolap_session={cred.cookie}", "X-CSRF-Token": cred.csrf})
        client = live._thread_client()
        client.cookies.clear()
        try:
            with client.stream(method, url, params=query, headers=headers) as response:
                return response.status_code, (response.read()[:300] if response.status_code >= 500 else b"")
        except httpx.TransportError as exc:  # the server dropped the connection: as bad as a 500
            return 599, repr(exc).encode()

    work = [(role, c) for role in ROLES for c in calls]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(call, work))
    failures = [
        f"{role} {method} {url[:160]} {query and {k: v[:40] for k, v in query.items()}}: {status} {body!r}"
        for (role, (method, url, query)), (status, body) in zip(work, answers, strict=False)
        if status >= 500
    ]
    print(f"\n{len(work)} hostile calls")
    assert not failures, f"{len(failures)} of {len(work)} hostile calls answered 5xx:\n" + "\n".join(failures[:60])


def test_a_nul_in_a_slug_is_a_clear_400(runtime, world):
    app, _live, creds = world
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Cookie": f"xolap_session={creds['admin'].cookie}", "Accept": "application/json"}
    for url in ("/api/v1/sections/a%00b/analytics", "/sections/%00/analytics", "/login?next=%00"):
        response = client.get(url, headers=headers)
        assert response.status_code == 400, (url, response.status_code, response.text)
        assert "control character" in response.json()["detail"]


def test_numbers_the_database_cannot_hold_are_a_clear_400(runtime, world):
    app, _live, creds = world
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Cookie": f"xolap_session={creds['admin'].cookie}", "Accept": "application/json"}
    response = client.get("/admin/users/99999999999999999999", headers=headers)
    assert response.status_code in (400, 404, 422), response.text
    assert re.search(r"out of range|not found|no user|valid integer", response.text, re.I)


def test_a_nul_in_a_form_or_json_body_is_a_clear_400_and_keeps_the_data_around_it(runtime, world):
    app, _live, creds = world
    client = TestClient(app, raise_server_exceptions=False)
    cookie = {"Cookie": f"xolap_session={creds['admin'].cookie}", "X-CSRF-Token": creds["admin"].csrf}
    as_json = client.post("/api/v1/admin/users", json={"email": "eve\x00@example.org"}, headers=cookie)
    as_form = client.post(
        "/admin/users",
        data={"email": "eve\x00@example.org", "name": "Eve"},
        headers={**cookie, "Accept": "application/json"},
    )
    for response in (as_json, as_form):
        assert response.status_code in (400, 422), response.text
        assert "NUL" in response.text or "invalid" in response.text
    users = client.get("/api/v1/admin/users", headers=cookie).json()
    assert {"ia@example.org", "root@example.org"} <= {u["email"] for u in users}


HOSTILE_HEADERS = [
    {"X-CSRF-Token": "é" * 40},
    {"X-CSRF-Token": "x" * 10_000},
    {"X-CSRF-Token": ""},
    {"Authorization": "Bearer é"},
    {"Authorization": "Bearer " + "x" * 10_000},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic Zm9vOmJhcg=="},
    {"Cookie": "xolap_session=" + "é" * 20},
    {"Cookie": "xolap_session="},
    {"Cookie": "xolap_session=a.b.c; xolap_flash=é"},
    {"User-Agent": "ü" * 5000},
    {"Accept": "é/*;q=x"},
    {"Content-Type": "multipart/form-data; boundary=é"},
    {"Last-Event-ID": "-99999999999999999999"},
]


def test_no_route_answers_5xx_to_hostile_headers(runtime, world):
    """Headers as sent by a hostile client (latin-1 bytes, huge values), alone or on an admin's session."""
    app, live, creds = world
    set_flags(runtime, ALL_FLAGS_ON)
    table = _route_table(app)
    admin = {"Cookie": f"xolap_session={creds['admin'].cookie}", "X-CSRF-Token": creds["admin"].csrf}

    def call(args):
        method, template, path_names, _q = args[0]
        path = template
        for name in path_names:
            path = _fill(path, name, quote(_normal(template, name), safe=""))
        headers = {k: v.encode("utf-8") for k, v in {**args[1], **args[2]}.items()}  # raw bytes on the wire
        client = live._thread_client()
        client.cookies.clear()
        try:
            with client.stream(method, path, headers=headers) as response:
                return response.status_code
        except httpx.TransportError:
            return 599

    work = [(row, base, hostile) for row in table for base in ({}, admin) for hostile in HOSTILE_HEADERS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(call, work))
    failures = [
        f"{row[0]} {row[1]} {'admin' if base else 'anonymous'} {list(hostile)[0]}: {status}"
        for (row, base, hostile), status in zip(work, answers, strict=False)
        if status >= 500
    ]
    assert not failures, f"{len(failures)} of {len(work)} calls answered 5xx:\n" + "\n".join(failures[:60])


def test_a_non_ascii_csrf_token_in_a_form_is_a_403_not_a_500(runtime, world):
    app, _live, creds = world
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set("xolap_session", creds["admin"].cookie)
    for token in ("日本語", "é" * 43, "\x00"):
        response = client.post(
            "/account/tokens", data={"name": "x", "csrf_token": token}, headers={"Accept": "application/json"}
        )
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]
