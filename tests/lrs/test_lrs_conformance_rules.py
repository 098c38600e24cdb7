"""Rules the ADL conformance suite found missing on its first run: alternate request syntax, contextActivities as
arrays, statements targeting a matching (even voided) statement, Consistent-Through on errors, strict formats."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import orjson
import pytest

from lrs_support import lrs_client

VERB = "http://adlnet.gov/expapi/verbs/experienced"


def stmt(**extra) -> dict:
    return {
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": VERB},
        "object": {"id": "http://example.com/a"},
        **extra,
    }


def test_alternate_request_syntax(runtime):
    client, auth, _ = lrs_client(runtime)
    form = {"content-type": "application/x-www-form-urlencoded"}
    sid = str(uuid.uuid4())
    body = urlencode(
        {
            "statementId": sid,
            "content": orjson.dumps(stmt()).decode(),
            "Authorization": auth["Authorization"],
            "X-Experience-API-Version": "1.0.3",
        }
    )
    assert client.post("/xAPI/statements?method=PUT", content=body, headers=form).status_code == 204
    got = client.post("/xAPI/statements?method=GET", content=urlencode({"statementId": sid}), headers=auth | form)
    assert got.status_code == 200 and got.json()["id"] == sid
    listed = client.post("/xAPI/statements?method=GET", content=urlencode({"limit": 1}), headers=auth | form)
    assert set(listed.json()) == {"statements", "more"}
    old_version = urlencode(
        {"statementId": str(uuid.uuid4()), "content": orjson.dumps(stmt()).decode(), "X-Experience-API-Version": "0.8"}
    )
    assert client.post("/xAPI/statements?method=PUT", content=old_version, headers=auth | form).status_code == 400
    assert client.put("/xAPI/statements?method=POST", content=body, headers=auth | form).status_code == 400
    assert (
        client.post(f"/xAPI/statements?method=PUT&statementId={sid}", content=body, headers=auth | form).status_code
        == 400
    )
    assert client.post("/xAPI/statements?method=PUT", content=b"", headers=auth | form).status_code == 400
    as_json = orjson.dumps({"statementId": str(uuid.uuid4()), "content": "{}"})
    assert client.post("/xAPI/statements?method=PUT", content=as_json, headers=auth | form).status_code == 400


def test_context_activities_come_back_as_arrays_and_ids_format_keeps_only_ids(runtime):
    client, auth, _ = lrs_client(runtime)
    parent = {"objectType": "Activity", "id": "http://example.com/parent", "definition": {"name": {"en-US": "P"}}}
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:b@example.com"},
        "verb": {"id": VERB},
        "object": {"objectType": "Activity", "id": "http://example.com/sub"},
        "context": {"contextActivities": {"grouping": parent}},
    }
    [sid] = client.post(
        "/xAPI/statements", headers=auth, json=stmt(object=sub, context={"contextActivities": {"parent": parent}})
    ).json()
    exact = client.get("/xAPI/statements", headers=auth, params={"statementId": sid}).json()
    assert exact["context"]["contextActivities"]["parent"] == [parent]
    assert exact["object"]["context"]["contextActivities"]["grouping"] == [parent]
    ids = client.get("/xAPI/statements", headers=auth, params={"statementId": sid, "format": "ids"}).json()
    assert ids["object"]["object"] == {"id": "http://example.com/sub"}


def test_statements_targeting_a_matching_voided_statement_are_returned(runtime):
    client, auth, _ = lrs_client(runtime)
    verb = "http://example.com/verbs/special"
    [target] = client.post("/xAPI/statements", headers=auth, json=stmt(verb={"id": verb})).json()
    [voider] = client.post(
        "/xAPI/statements",
        headers=auth,
        json={
            "actor": {"mbox": "mailto:admin@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        },
    ).json()
    [ref] = client.post(
        "/xAPI/statements",
        headers=auth,
        json=stmt(verb={"id": verb}, object={"objectType": "StatementRef", "id": target}),
    ).json()
    client.post("/xAPI/statements", headers=auth, json=stmt())
    found = {s["id"] for s in client.get("/xAPI/statements", headers=auth, params={"verb": verb}).json()["statements"]}
    assert found == {voider, ref}


def test_consistent_through_on_every_statements_answer(runtime):
    client, auth, _ = lrs_client(runtime)
    for params in ({"statementId": str(uuid.uuid4())}, {"statementId": str(uuid.uuid4()), "verb": VERB}, {}):
        assert client.get("/xAPI/statements", headers=auth, params=params).headers[
            "X-Experience-API-Consistent-Through"
        ]


@pytest.mark.parametrize(
    "broken",
    [
        {"timestamp": "2025-01-01T00:00:00-00"},
        {"timestamp": "2025-01-01T00:00:00-0000"},
        {"result": {"duration": "P4W1D"}},
        {"object": {"id": "http://example.com/a", "definition": {"interactionType": {"a": 1}}}},
        {"authority": {"objectType": "Group", "mbox": "mailto:g@example.com"}},
        {
            "authority": {
                "objectType": "Group",
                "member": [{"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}],
            }
        },
    ],
)
def test_stricter_rules(runtime, broken):
    client, auth, _ = lrs_client(runtime)
    response = client.post("/xAPI/statements", headers=auth, json=stmt(**broken))
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    "context",
    [
        {"contextAgents": [{"objectType": "agent", "agent": {"mbox": "mailto:p@example.com"}}]},
        {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "p@example.com"}}]},
        {
            "contextAgents": [
                {"objectType": "contextAgent", "agent": {"mbox": "mailto:p@example.com"}, "relevantTypes": []}
            ]
        },
        {
            "contextGroups": [
                {
                    "objectType": "contextGroup",
                    "group": {"objectType": "Group", "mbox": "mailto:g@example.com"},
                    "relevantTypes": ["not an iri"],
                }
            ]
        },
    ],
)
def test_context_agents_and_groups_of_xapi_2(runtime, context):
    client, auth, _ = lrs_client(runtime)
    two = auth | {"X-Experience-API-Version": "2.0.0"}
    assert client.post("/xAPI/statements", headers=two, json=stmt(context=context)).status_code == 400
    good = {
        "contextAgents": [
            {
                "objectType": "contextAgent",
                "agent": {"mbox": "mailto:p@example.com"},
                "relevantTypes": ["https://example.com/types/player"],
            }
        ]
    }
    assert client.post("/xAPI/statements", headers=two, json=stmt(context=good)).status_code == 200


def test_xapi_2_has_no_alternate_request_syntax(runtime):
    client, auth, _ = lrs_client(runtime)
    body = urlencode({"statementId": str(uuid.uuid4()), "content": orjson.dumps(stmt()).decode()})
    headers = auth | {"X-Experience-API-Version": "2.0.0", "content-type": "application/x-www-form-urlencoded"}
    assert client.post("/xAPI/statements?method=PUT", content=body, headers=headers).status_code == 400


def test_signature_compares_durations_to_the_hundredth():
    import base64

    from xolap.lrs import signatures

    statement = stmt(result={"duration": "P1DT12H36M0.1237S"})
    payload = {**statement, "result": {"duration": "P1DT12H36M0.12S"}}
    jws = (
        ".".join(
            base64.urlsafe_b64encode(orjson.dumps(part)).decode().rstrip("=") for part in ({"alg": "RS256"}, payload)
        )
        + ".c2ln"
    )
    attachment = {"contentType": "application/octet-stream"}
    signatures.check(statement, attachment, jws.encode())
    with pytest.raises(signatures.SignatureError):
        signatures.check(stmt(result={"duration": "P1DT12H36M0.13S"}), attachment, jws.encode())
