"""/xAPI/activities: the canonical Activity object merged from the definitions in stored statements (object,
context activities, SubStatement), limited to what the credential may read; voided statements do not count."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from lrs_support import V103, basic, lrs_client, new_credential
from xolap.lrs.activities import activity_objects, merge_definitions

MEETING = "http://www.example.com/verify/complete/34534100123"
ACTOR = {"objectType": "Agent", "name": "xAPI mbox", "mbox": "mailto:xapi@adlnet.gov"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}}


def _activity(**definition) -> dict:
    return {"objectType": "Activity", "id": MEETING, "definition": definition}


def _statement(obj, **extra) -> dict:
    return {"id": str(uuid.uuid4()), "actor": ACTOR, "verb": VERB, "object": obj, **extra}


def _get(client, auth, activity_id=MEETING):
    return client.get("/xAPI/activities?" + urlencode({"activityId": activity_id}), headers=auth)


def test_languages_and_extensions_merge_and_other_fields_take_the_latest(runtime):
    client, auth, _ = lrs_client(runtime)
    first = _activity(
        type="http://adlnet.gov/expapi/activities/meeting",
        name={"en-US": "example meeting"},
        description={"en-US": "a meeting"},
        extensions={"http://example.com/a": 1},
    )
    second = _activity(
        type="http://adlnet.gov/expapi/activities/assessment",
        name={"fr-FR": "réunion"},
        extensions={"http://example.com/b": 2},
    )
    for statement in (_statement(first), _statement(second)):  # two requests: two stored times, `second` the latest
        assert client.post("/xAPI/statements", json=statement, headers=auth).status_code == 200
    body = _get(client, auth).json()
    assert body == {
        "objectType": "Activity",
        "id": MEETING,
        "definition": {
            "type": "http://adlnet.gov/expapi/activities/assessment",
            "name": {"en-US": "example meeting", "fr-FR": "réunion"},
            "description": {"en-US": "a meeting"},
            "extensions": {"http://example.com/a": 1, "http://example.com/b": 2},
        },
    }
    assert client.head("/xAPI/activities?" + urlencode({"activityId": MEETING}), headers=auth).status_code == 200


def test_a_single_statement_gives_back_its_object_exactly_and_unknown_ids_the_id(runtime):
    client, auth, _ = lrs_client(runtime)
    exact = _activity(
        type="http://adlnet.gov/expapi/activities/meeting",
        name={"en-GB": "m", "en-US": "m"},
        moreInfo="http://virtualmeeting.example.com/345256",
        extensions={"http://example.com/x": {"name": "Thomas", "id": "http://openid.com/342"}},
    )
    client.post("/xAPI/statements", json=_statement(exact), headers=auth)
    assert _get(client, auth).json() == exact
    assert _get(client, auth, "http://example.org/never").json() == {
        "objectType": "Activity",
        "id": "http://example.org/never",
    }
    assert _get(client, auth, "not an iri").status_code == 400
    assert client.get("/xAPI/activities", headers=auth).status_code == 400
    assert (
        client.get("/xAPI/activities?" + urlencode({"activityId": MEETING, "agent": "{}"}), headers=auth).status_code
        == 400
    )


def test_context_and_substatement_definitions_count_and_voided_ones_do_not(runtime):
    client, auth, _ = lrs_client(runtime)
    other = {"objectType": "Activity", "id": "http://example.org/other"}
    in_context = _statement(other, context={"contextActivities": {"parent": [_activity(name={"de-DE": "Treffen"})]}})
    sub = _statement(
        {
            "objectType": "SubStatement",
            "actor": ACTOR,
            "verb": VERB,
            "object": _activity(description={"es-ES": "una reunión"}),
        }
    )
    voided_target = _statement(_activity(name={"it-IT": "riunione"}))
    client.post("/xAPI/statements", json=[in_context, sub, voided_target], headers=auth)
    voiding = _statement(
        {"objectType": "StatementRef", "id": voided_target["id"]},
        verb={"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
    )
    assert client.post("/xAPI/statements", json=voiding, headers=auth).status_code == 200
    assert _get(client, auth).json()["definition"] == {
        "name": {"de-DE": "Treffen"},
        "description": {"es-ES": "una reunión"},
    }


def test_only_definitions_the_credential_may_read(runtime):
    client, auth, _ = lrs_client(runtime, scopes=("write",))
    client.post("/xAPI/statements", json=_statement(_activity(name={"en-US": "mine"})), headers=auth)
    stranger, secret = new_credential(runtime, "stranger", scopes=("write", "read-own"))
    stranger_auth = basic(stranger.key, secret) | V103
    assert _get(client, stranger_auth).json() == {"objectType": "Activity", "id": MEETING}
    assert _get(client, auth).json()["definition"] == {"name": {"en-US": "mine"}}


def test_merge_helpers():
    statement = _statement(
        {"objectType": "Agent", "mbox": "mailto:a@example.org"},
        context={"contextActivities": {"grouping": {"id": MEETING, "definition": {"name": {"en": "x"}}}}},
    )
    assert activity_objects(statement, MEETING) == [{"id": MEETING, "definition": {"name": {"en": "x"}}}]
    assert merge_definitions([{"id": MEETING}, {"id": MEETING, "definition": "junk"}], MEETING) == {
        "objectType": "Activity",
        "id": MEETING,
    }
