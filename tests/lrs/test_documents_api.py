"""/xAPI document resources over HTTP: State, Activity Profile, Agent Profile, Agents; concurrency headers, merge,
parameter errors naming the parameter (never the learner), credentials, versions."""

from __future__ import annotations

import hashlib
import json
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import pytest

from lrs_support import V103, basic, lrs_client, new_credential

STATE = "/xAPI/activities/state"
ACTIVITY_PROFILE = "/xAPI/activities/profile"
AGENT_PROFILE = "/xAPI/agents/profile"
ACTIVITY = "http://www.example.com/activityId/hashset"
AGENT = {"objectType": "Agent", "account": {"homePage": "http://www.example.com/agentId/1", "name": "Rick James"}}
REGISTRATION = "9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11"


def q(**params) -> str:
    return "?" + urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()})


def state(state_id="s1", **extra) -> str:
    return STATE + q(activityId=ACTIVITY, agent=AGENT, stateId=state_id, **extra)


@pytest.fixture()
def lrs(runtime):
    client, auth, _cred = lrs_client(runtime)
    return client, auth


def test_state_round_trip_with_etag_last_modified_head_list_and_delete(lrs):
    client, auth = lrs
    body = b'{"progress": 0.5}'
    put = client.put(state(), content=body, headers=auth | {"Content-Type": "application/json"})
    assert put.status_code == 204 and put.content == b""
    got = client.get(state(), headers=auth)
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["ETag"] == f'"{hashlib.sha1(body).hexdigest()}"'
    assert parsedate_to_datetime(got.headers["Last-Modified"]).tzinfo is not None
    assert got.headers["X-Experience-API-Version"] == "1.0.3" and got.headers["X-Frame-Options"] == "DENY"
    head = client.head(state(), headers=auth)
    assert head.status_code == 200 and head.content == b"" and head.headers["ETag"] == got.headers["ETag"]
    client.put(state("s2", registration=REGISTRATION), content=b"other", headers=auth | {"Content-Type": "text/plain"})
    listing = STATE + q(activityId=ACTIVITY, agent=AGENT)
    assert client.get(listing, headers=auth).json() == ["s1", "s2"]
    assert client.get(listing + "&" + urlencode({"registration": REGISTRATION}), headers=auth).json() == ["s2"]
    assert client.get(listing + "&since=2999-01-01T00:00:00Z", headers=auth).json() == []
    assert client.get(listing + "&since=2000-01-01T00:00:00.000Z", headers=auth).json() == ["s1", "s2"]
    assert client.delete(state(), headers=auth).status_code == 204
    assert client.get(state(), headers=auth).status_code == 404
    assert client.delete(state("never-there"), headers=auth).status_code == 204
    assert client.delete(listing, headers=auth).status_code == 204
    assert client.get(listing, headers=auth).json() == []


def test_post_merges_json_and_refuses_other_documents_without_changing_them(lrs):
    client, auth = lrs
    json_type = auth | {"Content-Type": "application/json"}
    assert client.post(state(), json={"car": {"make": "Ford"}, "driver": "Dale"}, headers=auth).status_code == 204
    assert client.post(state(), json={"car": {"make": "Dodge"}, "series": 1}, headers=auth).status_code == 204
    assert client.get(state(), headers=auth).json() == {"car": {"make": "Dodge"}, "driver": "Dale", "series": 1}
    for headers, content in (
        (auth | {"Content-Type": "not/json"}, b"abcdefg"),
        (auth | {"Content-Type": "application/x-www-form-urlencoded"}, b"abc"),
        (json_type, b'{"a": 1}{'),
        (json_type, b"[1]"),
    ):
        refused = client.post(state(), content=content, headers=headers)
        assert refused.status_code == 400 and "merge" in refused.json()["detail"]
    assert client.get(state(), headers=auth).json() == {"car": {"make": "Dodge"}, "driver": "Dale", "series": 1}
    client.put(state("bin"), content=b"/ asdf / undefined", headers=auth | {"Content-Type": "application/octet-stream"})
    assert client.post(state("bin"), json={"a": 1}, headers=auth).status_code == 400
    assert client.get(state("bin"), headers=auth).content == b"/ asdf / undefined"
    assert client.post(state("new"), content=b'{"a": 1}[', headers=json_type).status_code == 400
    assert client.get(state("new"), headers=auth).status_code == 404


@pytest.mark.parametrize("path", [ACTIVITY_PROFILE, AGENT_PROFILE])
def test_profiles_need_concurrency_headers_on_put(lrs, path):
    client, auth = lrs
    where = path + (
        q(activityId=ACTIVITY, profileId="p1") if path == ACTIVITY_PROFILE else q(agent=AGENT, profileId="p1")
    )
    first = {"name": "one"}
    missing = client.put(where, json=first, headers=auth)
    assert missing.status_code == 400 and "If-None-Match" in missing.json()["detail"]
    assert client.get(where, headers=auth).status_code == 404
    assert client.put(where, json=first, headers=auth | {"If-None-Match": "*"}).status_code == 204
    assert client.put(where, json={"name": "two"}, headers=auth | {"If-None-Match": "*"}).status_code == 412
    conflict = client.put(where, json={"name": "two"}, headers=auth)
    assert conflict.status_code == 409 and "If-Match" in conflict.json()["detail"]
    etag = client.get(where, headers=auth).headers["ETag"]
    assert (
        client.put(
            where, json={"name": "two"}, headers=auth | {"If-Match": '"1111111111111111111111111111111111111111"'}
        ).status_code
        == 412
    )
    assert client.delete(where, headers=auth | {"If-Match": '"1234"'}).status_code == 412
    assert client.get(where, headers=auth).json() == first
    assert client.put(where, json={"name": "two"}, headers=auth | {"If-Match": etag}).status_code == 204
    assert client.post(where, json={"extra": 1}, headers=auth).status_code == 204
    assert client.get(where, headers=auth).json() == {"name": "two", "extra": 1}
    listing = where.split("&profileId=")[0]
    assert client.get(listing, headers=auth).json() == ["p1"]
    assert client.delete(listing, headers=auth).status_code == 400  # a profile is deleted one at a time
    assert client.delete(where, headers=auth).status_code == 204
    assert client.delete(where, headers=auth).status_code == 204


def test_state_put_without_headers_overwrites_in_1_0_but_conflicts_in_2_0(lrs):
    client, auth = lrs
    assert client.put(state(), json={"v": 1}, headers=auth).status_code == 204
    assert client.put(state(), json={"v": 2}, headers=auth).status_code == 204
    v2 = auth | {"X-Experience-API-Version": "2.0.0"}
    assert client.put(state("fresh"), json={"v": 1}, headers=v2).status_code == 204
    assert client.put(state("fresh"), json={"v": 2}, headers=v2).status_code == 409
    assert client.get(state("fresh"), headers=v2).json() == {"v": 1}
    assert client.get(state("fresh"), headers=v2).headers["X-Experience-API-Version"] == "2.0.0"


BAD_STATE_PARAMETERS = [
    (dict(agent=AGENT, stateId="s"), "activityId is required"),
    (dict(activityId="true", agent=AGENT, stateId="s"), "activityId must be an IRI"),
    (dict(activityId=ACTIVITY, stateId="s"), "agent is required"),
    (dict(activityId=ACTIVITY, agent="true", stateId="s"), "agent: must be a JSON object"),
    (
        dict(
            activityId=ACTIVITY,
            agent='{"mbox": "mailto:rick@example.org", "openid": "http://id.example/rick"}',
            stateId="s",
        ),
        "exactly one of",
    ),
    (
        dict(activityId=ACTIVITY, agent={"objectType": "Group", "mbox": "mailto:rick@example.org"}, stateId="s"),
        "not a Group",
    ),
    (dict(activityId=ACTIVITY, agent='{"account": {"homePage"%22 "x"}}', stateId="s"), "agent: must be JSON"),
    (dict(activityId=ACTIVITY, agent=AGENT, stateId="s", registration="not-a-uuid"), "registration must be a UUID"),
    (dict(activityId=ACTIVITY, agent=AGENT, stateId="s", foo="bar"), "unknown parameter(s) foo"),
]


def test_state_parameter_errors_name_the_parameter_for_every_method(lrs):
    client, auth = lrs
    for params, named in BAD_STATE_PARAMETERS:
        for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            response = client.request(
                method,
                STATE + q(**params),
                headers=auth | {"If-None-Match": "*"},
                content=b"{}" if method in ("PUT", "POST") else None,
            )
            assert response.status_code == 400, (method, named)
            if method != "HEAD":
                assert named in response.json()["detail"], (method, response.text)
                assert "rick@example.org" not in response.text and "Rick James" not in response.text
    assert client.get(STATE + q(activityId=ACTIVITY, agent=AGENT), headers=auth).json() == []


def test_missing_ids_and_bad_since(lrs):
    client, auth = lrs
    for method in ("PUT", "POST"):
        response = client.request(method, STATE + q(activityId=ACTIVITY, agent=AGENT), content=b"{}", headers=auth)
        assert response.status_code == 400 and "stateId is required" in response.json()["detail"]
        response = client.request(method, ACTIVITY_PROFILE + q(activityId=ACTIVITY), content=b"{}", headers=auth)
        assert response.status_code == 400 and "profileId is required" in response.json()["detail"]
    for url in (
        STATE + q(activityId=ACTIVITY, agent=AGENT, since="not a timestamp"),
        ACTIVITY_PROFILE + q(activityId=ACTIVITY, since="yesterday"),
        AGENT_PROFILE + q(agent=AGENT, since="2026-13-45T00:00:00Z"),
    ):
        response = client.get(url, headers=auth)
        assert response.status_code == 400 and "since" in response.json()["detail"]
    assert client.get(AGENT_PROFILE + q(profileId="p"), headers=auth).status_code == 400
    assert client.get(ACTIVITY_PROFILE + q(profileId="p"), headers=auth).status_code == 400


def test_credentials_read_write_and_ownership(runtime):
    client, writer_auth, _writer = lrs_client(runtime, scopes=("write",))
    reader, reader_secret = new_credential(runtime, "reader", scopes=("read-all",))
    own, own_secret = new_credential(runtime, "own", scopes=("read-own",))
    reader_auth, own_auth = basic(reader.key, reader_secret) | V103, basic(own.key, own_secret) | V103
    assert client.get(state(), headers=V103).status_code == 401
    assert client.put(state(), content=b"x", headers=writer_auth).status_code == 204
    assert client.get(state(), headers=writer_auth).content == b"x"  # a writer reads back its own documents
    assert client.get(state(), headers=reader_auth).content == b"x"
    assert client.get(state(), headers=own_auth).status_code == 404
    assert client.get(STATE + q(activityId=ACTIVITY, agent=AGENT), headers=own_auth).json() == []
    for method in ("PUT", "POST", "DELETE"):
        assert client.request(method, state(), content=b"y", headers=reader_auth).status_code == 403
    assert client.get(state(), headers=writer_auth).content == b"x"


def test_oversized_document_is_refused_with_413(lrs, monkeypatch):
    from xolap.web import lrs_documents

    client, auth = lrs
    monkeypatch.setattr(lrs_documents, "MAX_DOCUMENT_BYTES", 1024)
    assert client.put(state(), content=b"x" * 1025, headers=auth).status_code == 413
    assert client.get(state(), headers=auth).status_code == 404
    assert client.put(state(), content=b"x" * 1024, headers=auth).status_code == 204


def test_agents_resource_returns_a_person(lrs):
    client, auth = lrs
    named = {"objectType": "Agent", "name": "xAPI mbox", "mbox": "mailto:xapi@adlnet.gov"}
    response = client.get("/xAPI/agents" + q(agent=named), headers=auth)
    assert response.status_code == 200
    assert response.json() == {"objectType": "Person", "name": ["xAPI mbox"], "mbox": ["mailto:xapi@adlnet.gov"]}
    assert client.head("/xAPI/agents" + q(agent=named), headers=auth).status_code == 200
    assert (
        client.get("/xAPI/agents" + q(agent={"objectType": "Agent", "name": "no id"}), headers=auth).status_code == 400
    )
    assert client.get("/xAPI/agents", headers=auth).status_code == 400
    assert client.get("/xAPI/agents" + q(agent=named), headers=V103).status_code == 401


def test_alternate_request_syntax_reaches_the_documents(lrs):
    client, auth = lrs
    form = {
        "activityId": ACTIVITY,
        "agent": json.dumps(AGENT),
        "stateId": "alt",
        "content": '{"via": "form"}',
        "Content-Type": "application/json",
        "X-Experience-API-Version": "1.0.3",
        "Authorization": auth["Authorization"],
    }
    put = client.post(STATE + "?method=PUT", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert put.status_code == 204
    got = client.post(
        STATE + "?method=GET",
        data={k: v for k, v in form.items() if k != "content"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert got.status_code == 200 and got.json() == {"via": "form"} and got.headers["ETag"]
    gone = client.post(
        STATE + "?method=DELETE",
        data={k: v for k, v in form.items() if k != "content"} | {"If-Match": '"0"'},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert gone.status_code == 412 and client.get(state("alt"), headers=auth).json() == {"via": "form"}


def test_unusable_content_types_are_refused(lrs):
    client, auth = lrs
    for content_type in ("x" * 300, "text/\x85plain".encode("latin-1")):
        response = client.put(state(), content=b"x", headers=auth | {"Content-Type": content_type})
        assert response.status_code == 400 and "Content-Type" in response.json()["detail"]
    assert client.get(state(), headers=auth).status_code == 404


def test_a_stored_document_never_runs_as_a_page_of_this_origin(lrs):
    """Any writer picks a document's Content-Type; served back on the dashboards' origin, an HTML or script document
    must not run: it comes back byte for byte with its type, as an attachment, under a sandboxing CSP."""
    client, auth = lrs
    page = b"<html><script>fetch('/api/v1/me')</script></html>"
    for content_type, body in (
        ("text/html", page),
        ("application/javascript", b"alert(1)"),
        ("text/plain", b"\xff\xfe"),
    ):
        client.put(state(content_type), content=body, headers=auth | {"Content-Type": content_type})
        got = client.get(state(content_type), headers=auth)
        assert got.content == body and got.headers["content-type"] == content_type
        assert got.headers["Content-Disposition"] == "attachment"
        policy = got.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy and "script-src 'self'" not in policy


def test_a_merge_may_not_grow_past_the_size_limit(lrs, monkeypatch):
    from xolap.web import lrs_documents

    client, auth = lrs
    monkeypatch.setattr(lrs_documents, "MAX_DOCUMENT_BYTES", 200)
    assert client.post(state(), json={"a": "x" * 150}, headers=auth).status_code == 204
    too_big = client.post(state(), json={"b": "y" * 150}, headers=auth)
    assert too_big.status_code == 413 and "merged" in too_big.json()["detail"]
    assert client.get(state(), headers=auth).json() == {"a": "x" * 150}


HOSTILE_VALUES = [
    "",
    " ",
    "x" * 5000,
    "\u202e\ufeff",
    "💥" * 100,
    "%",
    "\\u0000",
    "'; DROP TABLE lrs_documents; --",
    "[" * 3000 + "]" * 3000,
    '{"mbox": "mailto:a\\u0000@b.c"}',
    '{"account": {"homePage": "x:y", "name": {}}}',
    "2026-11-30T25:61:00Z",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "null",
    "{}",
    "[]",
    "1e999",
]


def test_hostile_parameter_values_never_answer_5xx_or_store_anything(lrs):
    client, auth = lrs
    good = {"activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "s", "profileId": "p"}
    routes = {
        STATE: ("activityId", "agent", "stateId", "registration", "since"),
        ACTIVITY_PROFILE: ("activityId", "profileId", "since"),
        AGENT_PROFILE: ("agent", "profileId", "since"),
        "/xAPI/activities": ("activityId",),
        "/xAPI/agents": ("agent",),
    }
    stored = set()
    for path, names in routes.items():
        for name in names:
            for value in HOSTILE_VALUES:
                params = {n: good[n] for n in names if n in good} | {name: value}
                for method in ("GET", "PUT", "POST", "DELETE") if "/profile" in path or "/state" in path else ("GET",):
                    response = client.request(
                        method,
                        path + "?" + urlencode(params),
                        content=b'{"k": 1}',
                        headers=auth | {"Content-Type": "application/json", "If-None-Match": "*"},
                    )
                    assert response.status_code < 500, (path, name, value[:40], method, response.text[:200])
                    if method == "PUT" and response.status_code == 204:
                        stored.add((path, name, value))
    # Only values that are valid for their parameter were stored (ids are free text; since is ignored on writes; the
    # all-f UUID is a UUID); an identifier with a control character inside is not an Agent.
    valid = {("registration", "ffffffff-ffff-ffff-ffff-ffffffffffff")}
    unexpected = {
        (path, name, value[:40])
        for path, name, value in stored
        if name not in ("stateId", "profileId", "since") and (name, value) not in valid
    }
    assert not unexpected, unexpected
