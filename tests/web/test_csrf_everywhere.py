"""Every state-changing route (POST, PUT, PATCH, DELETE; found in app.routes, so new ones are covered) refuses a
browser session's call without the session's CSRF token with 403 and changes nothing, for a caller who may call it
otherwise (an admin, all flags on): a page of another site can make the browser send its cookie, never the token."""

from __future__ import annotations

from fastapi.testclient import TestClient

from web.test_authz import ALL_FLAGS_ON, LRS, SESSION_ENDING, set_flags, walk, world  # noqa: F401 - fixture

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def test_every_unsafe_route_refuses_a_session_without_its_csrf_token(runtime, world):
    app, _live, creds = world
    set_flags(runtime, ALL_FLAGS_ON)
    client = TestClient(app, raise_server_exceptions=False)
    calls = [(m, t, p) for m, t, p, rule in walk(app) if m in UNSAFE and rule != LRS]
    calls.sort(key=lambda call: (call[0], call[1]) in SESSION_ENDING)  # calls that could end the session last
    assert len(calls) >= 40
    failures = []
    for method, template, path in calls:
        for accept in ("application/json", "text/html"):
            headers = {"Cookie": f"xolap_session={creds['admin'].cookie}", "Accept": accept}
            response = client.request(method, path, headers=headers, follow_redirects=False)
            if response.status_code != 403:
                failures.append(f"{method} {template} ({accept}): {response.status_code} {response.text[:100]}")
    assert not failures, f"{len(failures)} of {2 * len(calls)} calls without the CSRF token:\n" + "\n".join(failures)
    assert client.get("/api/v1/me", headers={"Cookie": f"xolap_session={creds['admin'].cookie}"}).status_code == 200
