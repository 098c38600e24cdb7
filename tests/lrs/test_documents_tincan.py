"""TinCanPython (PyPI `tincan`) drives the document resources of a real `xolap` app on 127.0.0.1: State save,
retrieve, list, delete and clear; activity and agent profiles retrieved, updated with If-Match and deleted.

TinCanPython's profile saves send no concurrency header, which xAPI 1.0.3 requires for profiles (the ADL suite
checks for the 400), so a new profile is created with If-None-Match: * by plain HTTP here; and the library never
reads the ETag it is sent (it looks it up in a list of header pairs as if it were a dict), so the test hands it the
ETag from the response, as an application using it has to.
"""

from __future__ import annotations

import json

import httpx
import pytest

from lrs_support import basic, live_lrs

tincan = pytest.importorskip("tincan")

ACTIVITY = "https://example.org/xapi/course/intro"


@pytest.fixture()
def remote(runtime):
    with live_lrs(runtime) as (endpoint, key, secret):
        yield tincan.RemoteLRS(endpoint=endpoint, username=key, password=secret, version="1.0.3"), endpoint, key, secret


def _agent():
    return tincan.Agent(name="Learner One", mbox="mailto:learner.one@example.org")


def test_state_documents_through_tincanpython(remote):
    lrs, _endpoint, _key, _secret = remote
    activity, agent = tincan.Activity(id=ACTIVITY), _agent()
    saved = lrs.save_state(
        tincan.StateDocument(
            id="bookmark",
            activity=activity,
            agent=agent,
            content=json.dumps({"page": 3}),
            content_type="application/json",
        )
    )
    assert saved.success, saved.data
    lrs.save_state(
        tincan.StateDocument(
            id="notes", activity=activity, agent=agent, content="plain words", content_type="text/plain"
        )
    )
    got = lrs.retrieve_state(activity, agent, "bookmark")
    assert got.success and json.loads(bytes(got.content.content)) == {"page": 3}
    assert got.response.getheader("ETag").strip('"') and got.response.getheader("Last-Modified")
    ids = lrs.retrieve_state_ids(activity, agent)
    assert ids.success and ids.content == ["bookmark", "notes"]
    later = lrs.retrieve_state_ids(activity, agent, since="2999-01-01T00:00:00Z")
    assert later.success and later.content == []
    # Overwrite (State needs no concurrency header under 1.0.3), then delete one and clear the rest.
    assert lrs.save_state(
        tincan.StateDocument(
            id="bookmark",
            activity=activity,
            agent=agent,
            content=json.dumps({"page": 4}),
            content_type="application/json",
        )
    ).success
    assert json.loads(bytes(lrs.retrieve_state(activity, agent, "bookmark").content.content)) == {"page": 4}
    doc = tincan.StateDocument(id="bookmark", activity=activity, agent=agent)
    assert lrs.delete_state(doc).success
    missing = lrs.retrieve_state(activity, agent, "bookmark")
    assert missing.success and missing.response.status == 404  # TinCanPython treats 404 here as "no document"
    assert lrs.clear_state(activity, agent).success
    assert lrs.retrieve_state_ids(activity, agent).content == []


def test_profiles_through_tincanpython(remote):
    lrs, endpoint, key, secret = remote
    activity, agent = tincan.Activity(id=ACTIVITY), _agent()
    headers = basic(key, secret) | {
        "X-Experience-API-Version": "1.0.3",
        "If-None-Match": "*",
        "Content-Type": "application/json",
    }
    # TinCanPython's own save of a new profile has no header: refused with the reason, as xAPI 1.0.3 asks.
    new = lrs.save_activity_profile(
        tincan.ActivityProfileDocument(id="settings", activity=activity, content="{}", content_type="application/json")
    )
    assert not new.success and new.response.status == 400 and "If-None-Match" in str(new.data)
    with httpx.Client(base_url=endpoint, timeout=30) as http:
        assert (
            http.put(
                "activities/profile",
                params={"activityId": ACTIVITY, "profileId": "settings"},
                content=b'{"theme": "dark"}',
                headers=headers,
            ).status_code
            == 204
        )
        assert (
            http.put(
                "agents/profile",
                params={"agent": json.dumps(agent.as_version("1.0.3")), "profileId": "prefs"},
                content=b'{"lang": "en"}',
                headers=headers,
            ).status_code
            == 204
        )

    for kind in ("activity", "agent"):
        if kind == "activity":
            retrieve = lambda: lrs.retrieve_activity_profile(activity, "settings")  # noqa: E731
            save, delete, listing = (
                lrs.save_activity_profile,
                lrs.delete_activity_profile,
                lambda: lrs.retrieve_activity_profile_ids(activity),
            )
            expected_id, before, after = "settings", {"theme": "dark"}, {"theme": "light"}
        else:
            retrieve = lambda: lrs.retrieve_agent_profile(agent, "prefs")  # noqa: E731
            save, delete, listing = (
                lrs.save_agent_profile,
                lrs.delete_agent_profile,
                lambda: lrs.retrieve_agent_profile_ids(agent),
            )
            expected_id, before, after = "prefs", {"lang": "en"}, {"lang": "fr"}
        got = retrieve()
        assert got.success and json.loads(bytes(got.content.content)) == before
        assert listing().content == [expected_id]
        doc = got.content
        doc.content = json.dumps(after)
        doc.content_type = "application/json"
        # Without the ETag the update is a 409 and nothing changes; with it (read from the response) it goes through.
        blind = save(doc)
        assert not blind.success and blind.response.status == 409
        doc.etag = got.response.getheader("ETag")
        assert save(doc).success
        updated = retrieve()
        assert json.loads(bytes(updated.content.content)) == after
        stale = retrieve().content
        stale.etag = got.response.getheader("ETag")  # the ETag from before the update
        stale_delete = delete(stale)
        assert not stale_delete.success and stale_delete.response.status == 412
        stale.etag = updated.response.getheader("ETag")
        assert delete(stale).success
        gone = retrieve()
        assert gone.response.status == 404 and listing().content == []
