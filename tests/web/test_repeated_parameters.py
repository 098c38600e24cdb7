"""A query parameter given twice is a 400 naming it, on every route: the xAPI spec asks it of the LRS (`?verb=a&verb=b`
must not quietly mean one of them), and every other route (found in app.routes, so new ones are covered) answers the
same instead of using the first or the last value. The LRS's alternate request syntax refuses a form field given
twice (two `Authorization` fields must not mean the last one)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from lrs_support import V103, basic, new_credential
from web.test_authz import world  # noqa: F401 - fixture
from web.test_hostile_input import _normal, _route_table
from xolap.lrs.query import QUERY_PARAMETERS, SINGLE_PARAMETERS


def _repeated_calls(app) -> list[tuple[str, str, str]]:
    """(method, path, parameter) for each query parameter each route declares."""
    calls = []
    for method, template, path_names, query_names in _route_table(app):
        path = template
        for name in path_names:
            path = path.replace("{" + name + "}", _normal(template, name))
        calls.extend((method, path, name) for name in query_names)
    return calls


def _refused_for(response, name: str) -> bool:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    detail = body.get("detail") if isinstance(body, dict) else ""
    return response.status_code == 400 and name in str(detail) and "more than once" in str(detail)


def test_every_declared_query_parameter_given_twice_is_a_400_naming_it(runtime, world):
    app, _live, creds = world
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Cookie": f"xolap_session={creds['admin'].cookie}", "X-CSRF-Token": creds["admin"].csrf}
    headers["Accept"] = "application/json"
    calls = _repeated_calls(app)
    assert len(calls) >= 20 and any(name == "limit" for _m, _p, name in calls)
    failures = []
    for method, path, name in calls:
        response = client.request(method, path, params=[(name, "1"), (name, "2")], headers=headers)
        if not _refused_for(response, name):
            failures.append(f"{method} {path}?{name}=1&{name}=2: {response.status_code} {response.text[:120]}")
    assert not failures, f"{len(failures)} of {len(calls)}:\n" + "\n".join(failures)


@pytest.fixture()
def lrs(runtime, world):
    app, _live, _creds = world
    credential, secret = new_credential(runtime, "repeats")
    return TestClient(app, raise_server_exceptions=False), basic(credential.key, secret) | V103


@pytest.mark.parametrize("name", sorted(QUERY_PARAMETERS | SINGLE_PARAMETERS))
def test_an_lrs_statements_parameter_given_twice_is_a_400(lrs, name):
    client, headers = lrs
    response = client.get("/xAPI/statements", params=[(name, "a"), (name, "b")], headers=headers)
    assert _refused_for(response, name), (response.status_code, response.text)


def test_a_put_statement_id_given_twice_is_a_400_and_stores_nothing(lrs):
    client, headers = lrs
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    statement = {
        "actor": {"mbox": "mailto:x@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.org/a"},
    }
    response = client.put(
        "/xAPI/statements", params=[("statementId", first), ("statementId", second)], json=statement, headers=headers
    )
    assert _refused_for(response, "statementId"), (response.status_code, response.text)
    for statement_id in (first, second):
        assert client.get("/xAPI/statements", params={"statementId": statement_id}, headers=headers).status_code == 404


@pytest.mark.parametrize(
    "path, params",
    [
        ("/xAPI/activities/state", {"activityId": "http://example.org/a", "agent": '{"mbox":"mailto:x@example.org"}'}),
        ("/xAPI/activities/profile", {"activityId": "http://example.org/a"}),
        ("/xAPI/agents/profile", {"agent": '{"mbox":"mailto:x@example.org"}'}),
        ("/xAPI/activities", {"activityId": "http://example.org/a"}),
        ("/xAPI/agents", {"agent": '{"mbox":"mailto:x@example.org"}'}),
    ],
)
def test_a_document_parameter_given_twice_is_a_400(lrs, path, params):
    client, headers = lrs
    name, value = next(iter(params.items()))
    pairs = [*params.items(), (name, value)]
    response = client.get(path, params=pairs, headers=headers)
    assert _refused_for(response, name), (response.status_code, response.text)


def test_an_alternate_request_field_given_twice_is_a_400(runtime, world):
    app, _live, _creds = world
    client = TestClient(app, raise_server_exceptions=False)
    credential, secret = new_credential(runtime, "alternate")
    good = basic(credential.key, secret)["Authorization"]
    body = [
        ("Authorization", "Basic bm9ib2R5Om5vdGhpbmc="),
        ("Authorization", good),
        ("X-Experience-API-Version", "1.0.3"),
    ]
    response = client.post(
        "/xAPI/statements",
        params={"method": "GET"},
        content=urlencode(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and "Authorization" in response.json()["detail"], response.text
    assert "more than once" in response.json()["detail"]
