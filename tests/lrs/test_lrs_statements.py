"""/xAPI/statements: POST/PUT/GET/HEAD, LRS-filled fields, id conflicts, voiding, query filters and paging, formats,
validation errors naming the field, the raw_events mapping (non-Torus statements kept), scopes of credentials."""

from __future__ import annotations

import uuid

import pytest

from lrs_support import lrs_client

VERB = "http://adlnet.gov/expapi/verbs/experienced"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def stmt(i: int = 0, **extra) -> dict:
    return {
        "actor": {"mbox": f"mailto:learner{i}@example.com", "name": "Learner"},
        "verb": {"id": VERB, "display": {"en-US": "experienced", "fr-FR": "a vécu"}},
        "object": {"id": f"http://example.com/activity/{i}", "definition": {"name": {"en-US": "A", "de": "B"}}},
        **extra,
    }


def test_post_fills_lrs_fields_and_get_by_id(runtime):
    client, auth, cred = lrs_client(runtime)
    response = client.post("/xAPI/statements", headers=auth, json=stmt(1))
    assert response.status_code == 200
    [sid] = response.json()
    got = client.get("/xAPI/statements", headers=auth, params={"statementId": sid})
    assert got.status_code == 200 and got.headers["X-Experience-API-Consistent-Through"]
    body = got.json()
    assert body["id"] == sid and body["stored"] and body["timestamp"] and body["version"] == "1.0.0"
    assert body["authority"]["account"]["name"] == cred.key
    many = client.post("/xAPI/statements", headers=auth, json=[stmt(2), stmt(3)])
    assert len(many.json()) == 2
    head = client.head("/xAPI/statements", headers=auth, params={"statementId": sid})
    assert head.status_code == 200 and head.content == b""


def test_put_and_id_conflicts(runtime):
    client, auth, _ = lrs_client(runtime)
    sid = str(uuid.uuid4())
    assert client.put("/xAPI/statements", headers=auth, params={"statementId": sid}, json=stmt(1)).status_code == 204
    assert client.put("/xAPI/statements", headers=auth, params={"statementId": sid}, json=stmt(1)).status_code == 204
    assert client.post("/xAPI/statements", headers=auth, json=stmt(1, id=sid)).json() == [sid]
    conflict = client.put("/xAPI/statements", headers=auth, params={"statementId": sid}, json=stmt(2))
    assert conflict.status_code == 409
    assert client.post("/xAPI/statements", headers=auth, json=stmt(2, id=sid)).status_code == 409
    dup = str(uuid.uuid4())
    twice = client.post("/xAPI/statements", headers=auth, json=[stmt(1, id=dup), stmt(1, id=dup)])
    assert twice.status_code == 400 and "id" in twice.json()["message"]
    assert client.get("/xAPI/statements", headers=auth, params={"statementId": dup}).status_code == 404
    assert client.put("/xAPI/statements", headers=auth, json=stmt(1)).status_code == 400
    other = client.put(
        "/xAPI/statements", headers=auth, params={"statementId": str(uuid.uuid4())}, json=stmt(1, id=sid)
    )
    assert other.status_code == 400


@pytest.mark.parametrize(
    "broken, field",
    [
        ({"actor": {"mbox": "learner@example.com"}}, "actor.mbox"),
        ({"actor": {"mbox": "mailto:a@example.com", "openid": "http://a.example"}}, "actor"),
        ({"verb": {"id": "not an iri"}}, "verb.id"),
        ({"verb": {"id": VERB, "display": {"not a tag!": "x"}}}, "verb.display"),
        ({"object": {"id": "http://example.com/a", "objectType": "Thing"}}, "object.objectType"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2025-01-01T00:00:00-00:00"}, "timestamp"),
        ({"id": "not-a-uuid"}, "id"),
        ({"result": {"score": {"scaled": 1.5}}}, "result.score.scaled"),
        ({"result": {"duration": "5 minutes"}}, "result.duration"),
        ({"context": {"registration": "nope"}}, "context.registration"),
        ({"version": "0.95"}, "version"),
        ({"extra": 1}, "extra"),
        ({"result": {"success": None}}, "result.success"),
        ({"verb": {"id": VOIDED}}, "object"),
    ],
)
def test_invalid_statements_are_refused_naming_the_field(runtime, broken, field):
    client, auth, _ = lrs_client(runtime)
    good = stmt(9)
    response = client.post("/xAPI/statements", headers=auth, json=[good, {**stmt(1), **broken}])
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert "learner" not in response.json()["message"]
    assert client.get("/xAPI/statements", headers=auth).json()["statements"] == []


def test_voiding(runtime):
    client, auth, _ = lrs_client(runtime)
    [target] = client.post("/xAPI/statements", headers=auth, json=stmt(1)).json()
    voiding = {
        "actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": target},
    }
    [voider] = client.post("/xAPI/statements", headers=auth, json=voiding).json()
    assert client.get("/xAPI/statements", headers=auth, params={"statementId": target}).status_code == 404
    voided = client.get("/xAPI/statements", headers=auth, params={"voidedStatementId": target})
    assert voided.status_code == 200 and voided.json()["id"] == target
    assert client.get("/xAPI/statements", headers=auth, params={"voidedStatementId": voider}).status_code == 404
    ids = [s["id"] for s in client.get("/xAPI/statements", headers=auth).json()["statements"]]
    assert target not in ids and voider in ids
    again = {**voiding, "object": {"objectType": "StatementRef", "id": voider}}
    assert client.post("/xAPI/statements", headers=auth, json=again).status_code == 400


def test_query_filters_paging_and_formats(runtime):
    client, auth, _ = lrs_client(runtime)
    registration = str(uuid.uuid4())
    ids = []
    for i in range(7):
        extra = (
            {
                "context": {
                    "registration": registration,
                    "contextActivities": {"parent": [{"id": "http://example.com/course"}]},
                }
            }
            if i % 2
            else {}
        )
        ids += client.post("/xAPI/statements", headers=auth, json=stmt(i % 3, **extra)).json()
    agent = '{"mbox": "mailto:learner1@example.com"}'
    by_agent = client.get("/xAPI/statements", headers=auth, params={"agent": agent}).json()["statements"]
    assert {s["id"] for s in by_agent} == {ids[1], ids[4]}
    by_reg = client.get("/xAPI/statements", headers=auth, params={"registration": registration}).json()["statements"]
    assert len(by_reg) == 3
    direct = client.get("/xAPI/statements", headers=auth, params={"activity": "http://example.com/course"})
    assert direct.json()["statements"] == []
    related = client.get(
        "/xAPI/statements", headers=auth, params={"activity": "http://example.com/course", "related_activities": "true"}
    )
    assert len(related.json()["statements"]) == 3
    seen, page = [], client.get("/xAPI/statements", headers=auth, params={"limit": 3, "ascending": "true"}).json()
    while True:
        seen += [s["id"] for s in page["statements"]]
        if not page["more"]:
            break
        client.post("/xAPI/statements", headers=auth, json=stmt(5))  # arrivals during paging do not shift pages
        page = client.get(page["more"], headers=auth).json()
    assert seen[:7] == ids and len(seen) == len(set(seen))
    ids_format = client.get("/xAPI/statements", headers=auth, params={"statementId": ids[0], "format": "ids"}).json()
    assert ids_format["verb"] == {"id": VERB} and "definition" not in ids_format["object"]
    assert "name" not in ids_format["actor"]
    canonical = client.get(
        "/xAPI/statements",
        headers=auth | {"Accept-Language": "fr-FR"},
        params={"statementId": ids[0], "format": "canonical"},
    ).json()
    assert canonical["verb"]["display"] == {"fr-FR": "a vécu"}
    for bad in (
        {"limit": "-1"},
        {"agent": "{"},
        {"since": "soon"},
        {"format": "all"},
        {"nonsense": "1"},
        {"statementId": ids[0], "verb": VERB},
        {"cursor": "forged.0"},
    ):
        assert client.get("/xAPI/statements", headers=auth, params=bad).status_code == 400, bad


def test_since_until(runtime):
    client, auth, _ = lrs_client(runtime)
    [first] = client.post("/xAPI/statements", headers=auth, json=stmt(1)).json()
    stored = client.get("/xAPI/statements", headers=auth, params={"statementId": first}).json()["stored"]
    [second] = client.post("/xAPI/statements", headers=auth, json=stmt(2)).json()
    after = [
        s["id"] for s in client.get("/xAPI/statements", headers=auth, params={"since": stored}).json()["statements"]
    ]
    assert first not in after
    until = [
        s["id"] for s in client.get("/xAPI/statements", headers=auth, params={"until": stored}).json()["statements"]
    ]
    assert first in until and second not in until


def test_statements_reach_raw_events_and_non_torus_ones_are_kept(runtime):
    client, auth, _ = lrs_client(runtime)
    torus = stmt(
        1,
        id=str(uuid.uuid4()),
        timestamp="2025-02-01T10:00:00Z",
        context={"extensions": {"http://oli.cmu.edu/extensions/section_id": 11}},
    )
    generic = {
        "actor": {"objectType": "Group", "member": [{"mbox": "mailto:x@example.com"}]},
        "verb": {"id": "http://example.com/verbs/pondered"},
        "object": {"objectType": "StatementRef", "id": str(uuid.uuid4())},
    }
    response = client.post("/xAPI/statements", headers=auth, json=[torus, generic])
    assert response.status_code == 200
    db = runtime.settings.clickhouse_database
    rows = (
        runtime.clickhouse().query(f"SELECT statement_id, section_id, verb_id FROM `{db}`.raw_events FINAL").result_rows
    )
    assert (torus["id"], 11, VERB) in rows
    stored = client.get("/xAPI/statements", headers=auth, params={"statementId": response.json()[1]})
    assert stored.status_code == 200


def test_read_own_and_section_limits(runtime):
    from xolap.store.models import Section

    with runtime.sessions() as session:
        session.add(Section(id=11, slug="s11", title="S11"))
        session.commit()
    writer_client, writer, _ = lrs_client(runtime, scopes=["write"])
    other_client, other, _ = lrs_client(runtime)
    [mine] = writer_client.post("/xAPI/statements", headers=writer, json=stmt(1)).json()
    [theirs] = other_client.post("/xAPI/statements", headers=other, json=stmt(2)).json()
    visible = [s["id"] for s in writer_client.get("/xAPI/statements", headers=writer).json()["statements"]]
    assert visible == [mine]
    assert writer_client.get("/xAPI/statements", headers=writer, params={"statementId": theirs}).status_code == 404
    section_client, section_auth, _ = lrs_client(runtime, section="s11")
    in_other = stmt(3, context={"extensions": {"http://oli.cmu.edu/extensions/section_id": 12}})
    assert section_client.post("/xAPI/statements", headers=section_auth, json=in_other).status_code == 403
    [own] = section_client.post("/xAPI/statements", headers=section_auth, json=stmt(4)).json()
    section_view = [s["id"] for s in section_client.get("/xAPI/statements", headers=section_auth).json()["statements"]]
    assert section_view == [own]


def test_voided_statements_leave_raw_events(runtime):
    client, auth, _ = lrs_client(runtime)
    db = runtime.settings.clickhouse_database

    def mapped(statement_id):
        return (
            runtime.clickhouse()
            .query(
                f"SELECT count() FROM `{db}`.raw_events FINAL WHERE statement_id = {{s:String}}",
                parameters={"s": statement_id},
            )
            .result_rows[0][0]
        )

    def voiding(target):
        return {
            "actor": {"mbox": "mailto:admin@example.com"},
            "verb": {"id": VOIDED},
            "object": {"objectType": "StatementRef", "id": target},
        }

    [kept, target] = client.post("/xAPI/statements", headers=auth, json=[stmt(1), stmt(2)]).json()
    assert mapped(target) == 1
    client.post("/xAPI/statements", headers=auth, json=voiding(target))
    assert mapped(target) == 0 and mapped(kept) == 1
    same_batch = str(uuid.uuid4())
    assert (
        client.post("/xAPI/statements", headers=auth, json=[stmt(3, id=same_batch), voiding(same_batch)]).status_code
        == 200
    )
    assert mapped(same_batch) == 0
    assert client.get("/xAPI/statements", headers=auth, params={"voidedStatementId": same_batch}).status_code == 200
