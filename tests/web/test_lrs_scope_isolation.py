"""An LRS credential limited to a section or a project stores statements inside that scope on both scope columns: a
section's credential cannot file events under another project (which would put them on that project's dashboards and
widen the section's own content_titles to that project's), nor a project's credential under a section of another
project (which would put them on that section's dashboard)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from lrs_support import lrs_client
from xolap.lrs import multipart

VERB = "http://adlnet.gov/expapi/verbs/experienced"
OLI = "http://oli.cmu.edu/extensions/"


def statement(i: int, **scope: int) -> dict:
    extensions = {f"{OLI}{name}": value for name, value in scope.items()}
    return {
        "actor": {"mbox": f"mailto:learner{i}@example.com"},
        "verb": {"id": VERB},
        "object": {"id": f"http://example.com/activity/{i}"},
        "context": {"extensions": extensions},
    }


@pytest.fixture()
def scopes(runtime):
    """Projects 10 and 20; section 11 taught from 10, 21 from 20, 31 without a project."""
    from xolap.store.models import Project, Section

    with runtime.sessions() as session:
        session.add_all([Project(id=10, slug="p10", title="P10"), Project(id=20, slug="p20", title="P20")])
        session.flush()
        session.add_all(
            [
                Section(id=11, slug="s11", title="S11", project_id=10),
                Section(id=21, slug="s21", title="S21", project_id=20),
                Section(id=31, slug="s31", title="S31", project_id=None),
            ]
        )
        session.commit()
    return runtime


def stored_scopes(runtime, statement_id: str) -> list[tuple[int | None, int | None]]:
    db = runtime.settings.clickhouse_database
    return (
        runtime.clickhouse()
        .query(
            f"SELECT section_id, project_id FROM `{db}`.raw_events FINAL WHERE statement_id = {{s:String}}",
            parameters={"s": statement_id},
        )
        .result_rows
    )


def test_a_section_credential_cannot_write_into_another_project(scopes):
    client, auth, _ = lrs_client(scopes, section="s11")
    refused = client.post("/xAPI/statements", headers=auth, json=statement(1, section_id=11, project_id=20))
    assert refused.status_code == 403 and "project" in refused.json()["message"]
    batch = [statement(2, project_id=10), statement(3, project_id=20)]
    assert client.post("/xAPI/statements", headers=auth, json=batch).status_code == 403  # nothing of the batch stored
    assert client.get("/xAPI/statements", headers=auth).json()["statements"] == []
    [named] = client.post("/xAPI/statements", headers=auth, json=statement(5, section_id=11, project_id=10)).json()
    assert stored_scopes(scopes, named) == [(11, 10)]
    [plain] = client.post("/xAPI/statements", headers=auth, json=statement(4)).json()
    assert sorted(s["id"] for s in client.get("/xAPI/statements", headers=auth).json()["statements"]) == sorted(
        [plain, named]
    )


def test_a_project_credential_cannot_write_into_a_section_of_another_project(scopes):
    client, auth, _ = lrs_client(scopes, project="p10")
    for section in (21, 31):  # another project's section; a section taught from no project
        refused = client.post("/xAPI/statements", headers=auth, json=statement(section, section_id=section))
        assert refused.status_code == 403 and "section" in refused.json()["message"]
    [own] = client.post("/xAPI/statements", headers=auth, json=statement(6, section_id=11, project_id=10)).json()
    assert stored_scopes(scopes, own) == [(11, 10)]


def test_an_unlimited_credential_writes_any_scope(scopes):
    client, auth, _ = lrs_client(scopes)
    [sid] = client.post("/xAPI/statements", headers=auth, json=statement(8, section_id=21, project_id=10)).json()
    assert stored_scopes(scopes, sid) == [(21, 10)]


def test_a_limited_credential_voids_only_statements_of_its_scope(scopes):
    """Voiding withdraws the target from raw_events: a section's credential may not withdraw another section's
    events by naming their statement id."""
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    [theirs] = theirs_client.post("/xAPI/statements", headers=theirs_auth, json=statement(9, section_id=21)).json()
    client, auth, _ = lrs_client(scopes, section="s11")
    [mine] = client.post("/xAPI/statements", headers=auth, json=statement(10, section_id=11)).json()

    def voiding(target: str) -> dict:
        return {
            "actor": {"mbox": "mailto:teacher@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        }

    refused = client.post("/xAPI/statements", headers=auth, json=voiding(theirs))
    assert refused.status_code == 403 and "void" in refused.json()["message"]
    assert stored_scopes(scopes, theirs) == [(21, 20)]  # its section's project, filled in
    assert theirs_client.get("/xAPI/statements", headers=theirs_auth, params={"statementId": theirs}).status_code == 200
    assert client.post("/xAPI/statements", headers=auth, json=voiding(mine)).status_code == 200
    assert stored_scopes(scopes, mine) == []


def test_a_section_unknown_to_postgres_is_refused_to_a_project_credential(scopes):
    """Section ids are sequential, so a section not added yet may be added later under another project: events a
    project's credential filed under it beforehand would then show on that other project's section dashboard."""
    client, auth, _ = lrs_client(scopes, project="p10")
    for body in (
        statement(7, section_id=41, project_id=10),
        [statement(8, section_id=11), statement(9, section_id=42)],
    ):
        refused = client.post("/xAPI/statements", headers=auth, json=body)
        assert refused.status_code == 403 and "not known" in refused.json()["message"]
    assert client.get("/xAPI/statements", headers=auth).json()["statements"] == []  # nothing of the batch stored


def test_a_credential_of_a_section_taught_from_no_project_names_no_project(scopes):
    """No project to hold the statement's project column against: naming one would be a guess, so it is refused;
    a statement naming none is stored under the section alone."""
    client, auth, _ = lrs_client(scopes, section="s31")
    for project in (20, 10):
        refused = client.post("/xAPI/statements", headers=auth, json=statement(project, project_id=project))
        assert refused.status_code == 403 and "no project" in refused.json()["message"]
    [plain] = client.post("/xAPI/statements", headers=auth, json=statement(12)).json()
    db = scopes.settings.clickhouse_database
    filed = scopes.clickhouse().query(
        f"SELECT section_id, project_id FROM `{db}`.lrs_statements FINAL WHERE statement_id = {{s:String}}",
        parameters={"s": plain},
    )
    assert filed.result_rows == [(31, 0)]


def _put(client, auth, statement_id: str, body: dict):
    return client.put("/xAPI/statements", headers=auth, params={"statementId": statement_id}, json=body)


@pytest.mark.parametrize("limit", [{"section": "s11"}, {"project": "p10"}])
def test_an_id_stored_in_another_scope_is_in_use_whatever_the_content(scopes, limit):
    """A limited credential sees an LRS of its own scope: an id stored outside it is answered 409 'in use' the same
    way whether the content sent equals the other scope's statement or not (no content oracle), and nothing of the
    other statement changes or shows."""
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    theirs_id = str(uuid.uuid4())
    theirs_body = statement(13)
    assert _put(theirs_client, theirs_auth, theirs_id, theirs_body).status_code == 204
    client, auth, _ = lrs_client(scopes, **limit)
    answers = [
        _put(client, auth, theirs_id, theirs_body),
        _put(client, auth, theirs_id, statement(14)),
        client.post("/xAPI/statements", headers=auth, json={**theirs_body, "id": theirs_id}),
        client.post("/xAPI/statements", headers=auth, json=[statement(15), {**theirs_body, "id": theirs_id.upper()}]),
    ]
    assert [a.status_code for a in answers] == [409] * 4
    assert len({a.json()["message"] for a in answers}) == 1 and "in use" in answers[0].json()["message"]
    assert client.get("/xAPI/statements", headers=auth).json()["statements"] == []  # the batch stored nothing
    kept = theirs_client.get("/xAPI/statements", headers=theirs_auth, params={"statementId": theirs_id}).json()
    assert kept["actor"] == theirs_body["actor"] and kept["object"] == theirs_body["object"]
    assert _put(theirs_client, theirs_auth, theirs_id, theirs_body).status_code == 204  # its own re-send: a no-op


def test_an_id_of_a_statement_it_may_read_keeps_the_xapi_conflict_rule(scopes):
    client, auth, _ = lrs_client(scopes, section="s11")
    reader, reader_auth, _ = lrs_client(scopes, section="s11")  # same section, another credential that reads all
    sid = str(uuid.uuid4())
    assert _put(client, auth, sid, statement(16)).status_code == 204
    assert _put(reader, reader_auth, sid, statement(16)).status_code == 204
    conflict = _put(reader, reader_auth, sid, statement(17))
    assert conflict.status_code == 409 and "different content" in conflict.json()["message"]


@pytest.mark.parametrize("limit", [{"section": "s11"}, {}])
def test_a_credential_that_reads_only_its_own_statements_learns_nothing_of_others_content(scopes, limit):
    """The conflict check compares content only with a statement the credential may read: a write-only credential
    (of the same section, or unlimited) re-sending another credential's statement word for word is told 'in use',
    as it is for any other content, not 'no-op' (which would confirm a guess of the statement's content)."""
    client, auth, _ = lrs_client(scopes, section="s11")
    sid = str(uuid.uuid4())
    assert _put(client, auth, sid, statement(16)).status_code == 204
    writer, writer_auth, _ = lrs_client(scopes, scopes="write", **limit)
    answers = [_put(writer, writer_auth, sid, statement(16)), _put(writer, writer_auth, sid, statement(17))]
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[0].json()["message"] == answers[1].json()["message"] and "in use" in answers[0].json()["message"]
    [own] = writer.post("/xAPI/statements", headers=writer_auth, json=statement(18)).json()
    assert _put(writer, writer_auth, own, statement(18)).status_code == 204  # its own re-send: still a no-op


def _with_attachment(i: int, content: bytes, **scope: int) -> dict:
    return statement(i, **scope) | {
        "attachments": [
            {
                "usageType": "http://example.com/usage/report",
                "display": {"en-US": "report"},
                "contentType": "text/plain",
                "length": len(content),
                "sha2": hashlib.sha256(content).hexdigest(),
                "fileUrl": "http://example.com/report.txt",
            }
        ]
    }


def _returned_parts(response) -> dict:
    assert response.status_code == 200, response.text
    return multipart.parse(response.headers["content-type"], response.content)[1]


def test_an_attachment_goes_out_only_with_a_statement_that_brought_it_inside_the_scope(scopes):
    """Attachments are stored once per sha2 for the whole LRS: naming another scope's hash (with a fileUrl, so no
    part is needed) must not make the LRS hand that scope's bytes out."""
    secret = b"section 21's graded report " + uuid.uuid4().bytes
    sha2 = hashlib.sha256(secret).hexdigest()
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    body, content_type = multipart.build(_with_attachment(18, secret), {sha2: ("text/plain", secret)})
    posted = theirs_client.post("/xAPI/statements", headers=theirs_auth | {"Content-Type": content_type}, content=body)
    [theirs] = posted.json()
    own = theirs_client.get(
        "/xAPI/statements", headers=theirs_auth, params={"statementId": theirs, "attachments": "true"}
    )
    assert _returned_parts(own)[sha2][1] == secret  # the scope that sent it gets it back

    for limit in ({"section": "s11"}, {"project": "p10"}):
        client, auth, _ = lrs_client(scopes, **limit)
        [mine] = client.post("/xAPI/statements", headers=auth, json=_with_attachment(19, secret)).json()
        single = client.get("/xAPI/statements", headers=auth, params={"statementId": mine, "attachments": "true"})
        listed = client.get("/xAPI/statements", headers=auth, params={"attachments": "true"})
        for response in (single, listed):
            assert sha2 not in _returned_parts(response) and secret not in response.content
    unlimited_client, unlimited_auth, _ = lrs_client(scopes, scopes="write")
    [named] = unlimited_client.post(
        "/xAPI/statements", headers=unlimited_auth, json=_with_attachment(20, secret)
    ).json()
    named_only = unlimited_client.get(
        "/xAPI/statements", headers=unlimited_auth, params={"statementId": named, "attachments": "true"}
    )
    assert secret not in named_only.content  # a write-only credential reads only its own statements


def test_a_more_url_works_only_for_the_credential_it_was_made_for(scopes):
    client, auth, _ = lrs_client(scopes, section="s11")
    client.post("/xAPI/statements", headers=auth, json=[statement(i) for i in range(21, 24)])
    page = client.get("/xAPI/statements", headers=auth, params={"limit": 1}).json()
    assert page["more"] and client.get(page["more"], headers=auth).status_code == 200
    for limit in ({"section": "s11"}, {"section": "s21"}, {}):
        other, other_auth, _ = lrs_client(scopes, **limit)
        refused = other.get(page["more"], headers=other_auth)
        assert refused.status_code == 400 and "cursor" in refused.json()["message"]


def test_every_statement_read_of_a_limited_credential_stays_in_its_scope(scopes):
    """Single, voided, filtered (agent, verb, activity, related_*, registration, since/until) and StatementRef reads:
    another scope's statements, named by id or matched by every filter, never come back (holds as is)."""
    registration = str(uuid.uuid4())
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    shared = statement(30, section_id=21) | {"context": {"registration": registration, "extensions": {}}}
    [theirs, voided] = theirs_client.post("/xAPI/statements", headers=theirs_auth, json=[shared, statement(31)]).json()
    voiding = {
        "actor": {"mbox": "mailto:teacher@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": voided},
    }
    assert theirs_client.post("/xAPI/statements", headers=theirs_auth, json=voiding).status_code == 200
    client, auth, _ = lrs_client(scopes, section="s11")
    ref = statement(32) | {"object": {"objectType": "StatementRef", "id": theirs}}
    [mine] = client.post("/xAPI/statements", headers=auth, json=ref).json()
    assert client.get("/xAPI/statements", headers=auth, params={"statementId": theirs}).status_code == 404
    assert client.get("/xAPI/statements", headers=auth, params={"voidedStatementId": voided}).status_code == 404
    actor = '{"mbox": "mailto:learner30@example.com"}'
    for params in (
        {"agent": actor},
        {"agent": actor, "related_agents": "true"},
        {"verb": VERB},
        {"activity": "http://example.com/activity/30"},
        {"activity": "http://example.com/activity/30", "related_activities": "true"},
        {"registration": registration},
        {"since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"},
    ):
        found = client.get("/xAPI/statements", headers=auth, params=params).json()["statements"]
        assert theirs not in {s["id"] for s in found} and {s["id"] for s in found} <= {mine}, params
    everything = client.get("/xAPI/statements", headers=auth).json()["statements"]
    assert [s["id"] for s in everything] == [mine]


def test_documents_of_another_scope_are_not_read_listed_or_cleared(scopes):
    state = {
        "activityId": "http://example.com/activity/40",
        "agent": '{"mbox": "mailto:learner40@example.com"}',
        "stateId": "bookmark",
    }
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    assert (
        theirs_client.put("/xAPI/activities/state", headers=theirs_auth, params=state, json={"page": 7}).status_code
        == 204
    )
    profile = {"activityId": state["activityId"], "profileId": "p"}
    written = theirs_client.put(
        "/xAPI/activities/profile", headers=theirs_auth | {"If-None-Match": "*"}, params=profile, json={"x": 1}
    )
    assert written.status_code == 204
    for limit in ({"section": "s11"}, {"project": "p10"}):
        client, auth, _ = lrs_client(scopes, **limit)
        assert client.get("/xAPI/activities/state", headers=auth, params=state).status_code == 404
        listing = {k: v for k, v in state.items() if k != "stateId"}
        assert client.get("/xAPI/activities/state", headers=auth, params=listing).json() == []
        assert client.get("/xAPI/activities/profile", headers=auth, params=profile).status_code == 404
        assert client.delete("/xAPI/activities/state", headers=auth, params=listing).status_code == 204
    kept = theirs_client.get("/xAPI/activities/state", headers=theirs_auth, params=state)
    assert kept.status_code == 200 and kept.json() == {"page": 7}


def test_the_activities_resource_and_about_tell_nothing_of_another_scope(scopes):
    activity = "http://example.com/activity/60"
    defined = statement(60) | {"object": {"id": activity, "definition": {"name": {"en-US": "section 21 quiz"}}}}
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    assert theirs_client.post("/xAPI/statements", headers=theirs_auth, json=defined).status_code == 200
    seen = theirs_client.get("/xAPI/activities", headers=theirs_auth, params={"activityId": activity}).json()
    assert seen["definition"]["name"] == {"en-US": "section 21 quiz"}
    client, auth, _ = lrs_client(scopes, section="s11")
    assert client.get("/xAPI/activities", headers=auth, params={"activityId": activity}).json() == {
        "objectType": "Activity",
        "id": activity,
    }
    assert client.get("/xAPI/about").json() == theirs_client.get("/xAPI/about").json()


STATE = {
    "activityId": "http://example.com/activity/50",
    "agent": '{"mbox": "mailto:learner50@example.com"}',
    "stateId": "bookmark",
}


def test_each_scope_has_its_own_documents_at_the_same_parameters(scopes):
    """A learner in two sections has state for one activity in each: a limited credential's document space is its
    scope's own, so writing, merging or deleting at parameters another scope uses neither collides with it (a 403
    told the other scope had that learner's state) nor touches it."""
    theirs_client, theirs_auth, _ = lrs_client(scopes, section="s21")
    assert (
        theirs_client.put("/xAPI/activities/state", headers=theirs_auth, params=STATE, json={"page": 7}).status_code
        == 204
    )
    profile = {"activityId": STATE["activityId"], "profileId": "p"}
    create = {"If-None-Match": "*"}
    assert (
        theirs_client.put(
            "/xAPI/activities/profile", headers=theirs_auth | create, params=profile, json={"x": 1}
        ).status_code
        == 204
    )
    for page, limit in ((1, {"section": "s11"}), (2, {"project": "p10"})):
        client, auth, _ = lrs_client(scopes, **limit)
        assert client.put("/xAPI/activities/state", headers=auth, params=STATE, json={"page": page}).status_code == 204
        assert client.post("/xAPI/activities/state", headers=auth, params=STATE, json={"seen": True}).status_code == 204
        assert client.get("/xAPI/activities/state", headers=auth, params=STATE).json() == {"page": page, "seen": True}
        new_profile = client.put("/xAPI/activities/profile", headers=auth | create, params=profile, json={"x": page})
        assert new_profile.status_code == 204
        assert client.delete("/xAPI/activities/state", headers=auth, params=STATE).status_code == 204
        assert client.get("/xAPI/activities/state", headers=auth, params=STATE).status_code == 404
    assert theirs_client.get("/xAPI/activities/state", headers=theirs_auth, params=STATE).json() == {"page": 7}
    assert theirs_client.get("/xAPI/activities/profile", headers=theirs_auth, params=profile).json() == {"x": 1}


def test_a_document_a_limited_credential_stored_before_scopes_had_their_own_space_is_still_its(scopes):
    """Documents written by limited credentials at the shared address (before each scope had its own) stay readable,
    listable and writable by their scope, and stay out of other scopes."""
    from xolap.lrs import documents
    from xolap.lrs.agents import parse_agent

    client, auth, credential = lrs_client(scopes, section="s11")
    which = documents.DocumentSet("state", STATE["activityId"], parse_agent(STATE["agent"]))
    with scopes.sessions() as session:  # the former address: the set's, with no scope in it
        documents._write(
            session,
            which.document("bookmark"),
            documents.Viewer.of(credential),
            None,
            "application/json",
            b'{"page": 3}',
        )
        session.commit()
    assert client.get("/xAPI/activities/state", headers=auth, params=STATE).json() == {"page": 3}
    listing = {k: v for k, v in STATE.items() if k != "stateId"}
    assert client.get("/xAPI/activities/state", headers=auth, params=listing).json() == ["bookmark"]
    assert client.post("/xAPI/activities/state", headers=auth, params=STATE, json={"seen": True}).status_code == 204
    assert client.get("/xAPI/activities/state", headers=auth, params=STATE).json() == {"page": 3, "seen": True}
    other, other_auth, _ = lrs_client(scopes, section="s21")
    assert other.get("/xAPI/activities/state", headers=other_auth, params=STATE).status_code == 404
    assert other.put("/xAPI/activities/state", headers=other_auth, params=STATE, json={"page": 9}).status_code == 204
    assert client.get("/xAPI/activities/state", headers=auth, params=STATE).json() == {"page": 3, "seen": True}


def test_another_scope_sending_the_same_bytes_does_not_change_how_an_attachment_comes_back(scopes):
    """Content is stored once per sha2: a second upload of the same bytes under another Content-Type (from a scope
    that has them too) must not change the part each scope's statements come back with."""
    content = b"shared syllabus " + uuid.uuid4().bytes
    sha2 = hashlib.sha256(content).hexdigest()
    sent = {}
    for section, content_type in (("s21", "text/plain"), ("s11", "text/html")):
        client, auth, _ = lrs_client(scopes, section=section)
        document = _with_attachment(61, content)
        document["attachments"][0]["contentType"] = content_type
        body, multipart_type = multipart.build(document, {sha2: (content_type, content)})
        [sid] = client.post("/xAPI/statements", headers=auth | {"Content-Type": multipart_type}, content=body).json()
        sent[content_type] = (client, auth, sid)
    for content_type, (client, auth, sid) in sent.items():
        got = client.get("/xAPI/statements", headers=auth, params={"statementId": sid, "attachments": "true"})
        assert _returned_parts(got)[sha2] == (content_type, content)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [({"section": "s11"}, (11, 10)), ({"section": "s31"}, (31, None)), ({"project": "p10"}, (None, 10))],
)
def test_a_limited_credential_files_what_names_no_scope_under_its_own(scopes, limit, expected):
    """A statement that names no section or project reaches raw_events under the credential's scope (its section, that
    section's project): on that scope's dashboards, as docs/lrs.md says, not on none."""
    client, auth, _ = lrs_client(scopes, **limit)
    [plain] = client.post("/xAPI/statements", headers=auth, json=statement(6)).json()
    assert stored_scopes(scopes, plain) == [expected]
    [named] = client.post(
        "/xAPI/statements",
        headers=auth,
        json=statement(7, **{f"{k}_id": v for k, v in zip(("section", "project"), expected, strict=True) if v}),
    ).json()
    assert stored_scopes(scopes, named) == [expected]


def test_an_unlimited_credential_files_a_statement_as_it_names_its_scope(scopes):
    client, auth, _ = lrs_client(scopes)
    [plain] = client.post("/xAPI/statements", headers=auth, json=statement(8)).json()
    assert stored_scopes(scopes, plain) == [(None, None)]


def attribution_scopes(runtime, statement_id: str) -> list[tuple[int | None, int | None]]:
    db = runtime.settings.clickhouse_database
    return (
        runtime.clickhouse()
        .query(
            f"SELECT a.section_id, a.project_id FROM `{db}`.experiment_attributions AS a FINAL "
            f"WHERE a.raw_event_hash IN (SELECT event_hash FROM `{db}`.raw_events WHERE statement_id = {{s:String}}) "
            "ORDER BY a.attribution_hash",
            parameters={"s": statement_id},
        )
        .result_rows
    )


def test_a_limited_credential_files_its_experiment_attributions_under_its_own_scope(scopes):
    """The attributions a limited credential's statement carries are rows it writes too: filed under its section and
    that section's project, whether they name no scope or another one (section 21 of project 20)."""
    client, auth, _ = lrs_client(scopes, section="s11")
    sent = statement(9)
    sent["context"]["extensions"][f"{OLI}experiment_attributions"] = [
        {"role": "exposure", "key": "plain", "experiment_id": 1},
        {"role": "outcome", "key": "elsewhere", "experiment_id": 1, "section_id": 21, "project_id": 20},
    ]
    [stored] = client.post("/xAPI/statements", headers=auth, json=sent).json()
    assert attribution_scopes(scopes, stored) == [(11, 10), (11, 10)]
