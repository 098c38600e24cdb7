"""An LRS credential limited to a section or a project stores statements inside that scope on both scope columns: a
section's credential cannot file events under another project (which would put them on that project's dashboards and
widen the section's own content_titles to that project's), nor a project's credential under a section of another
project (which would put them on that section's dashboard)."""

from __future__ import annotations

import pytest

from lrs_support import lrs_client

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
    [unknown] = client.post("/xAPI/statements", headers=auth, json=statement(7, section_id=41, project_id=10)).json()
    assert stored_scopes(scopes, own) == [(11, 10)] and stored_scopes(scopes, unknown) == [(41, 10)]


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
    assert stored_scopes(scopes, theirs) == [(21, None)]
    assert theirs_client.get("/xAPI/statements", headers=theirs_auth, params={"statementId": theirs}).status_code == 200
    assert client.post("/xAPI/statements", headers=auth, json=voiding(mine)).status_code == 200
    assert stored_scopes(scopes, mine) == []
