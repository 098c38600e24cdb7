"""TinCanPython (PyPI `tincan`) saves, gets, queries and voids statements against a real `xolap` app on 127.0.0.1,
and its statements reach raw_events (the voided one leaves it)."""

from __future__ import annotations

import uuid

import pytest

from lrs_support import live_lrs

tincan = pytest.importorskip("tincan")

VERB = "http://adlnet.gov/expapi/verbs/experienced"


@pytest.fixture()
def lrs(runtime):
    with live_lrs(runtime) as (endpoint, key, secret):
        yield tincan.RemoteLRS(endpoint=endpoint, username=key, password=secret, version="1.0.3")


def _statement(i: int) -> tincan.Statement:
    return tincan.Statement(
        actor=tincan.Agent(name="Learner", mbox=f"mailto:learner{i}@example.org"),
        verb=tincan.Verb(id=VERB, display=tincan.LanguageMap({"en-US": "experienced"})),
        object=tincan.Activity(
            id=f"https://example.org/activity/{i}",
            definition=tincan.ActivityDefinition(name=tincan.LanguageMap({"en-US": f"A{i}"})),
        ),
    )


def test_save_get_query_and_void_with_tincanpython(lrs, runtime):
    saved = lrs.save_statement(_statement(1))
    assert saved.success, saved.data
    statement_id = str(saved.content.id)
    got = lrs.retrieve_statement(statement_id)
    assert got.success and str(got.content.id) == statement_id and got.content.stored is not None
    many = lrs.save_statements([_statement(2), _statement(3)])
    assert many.success and len(many.content) == 2 and all(s.id for s in many.content)
    fixed_id = str(uuid.uuid4())
    put = _statement(4)
    put.id = fixed_id
    assert lrs.save_statement(put).success
    assert lrs.save_statement(put).success  # the same statement again is a no-op
    queried = lrs.query_statements({"verb": tincan.Verb(id=VERB), "limit": 2})
    assert queried.success and len(queried.content.statements) == 2 and queried.content.more
    rest = lrs.more_statements(queried.content)
    assert rest.success and len(rest.content.statements) == 2 and not rest.content.more
    by_agent = lrs.query_statements({"agent": tincan.Agent(mbox="mailto:learner2@example.org")})
    assert [s.object.id for s in by_agent.content.statements] == ["https://example.org/activity/2"]
    voided = lrs.save_statement(
        tincan.Statement(  # TinCanPython has no void call: a voiding statement is saved
            actor=tincan.Agent(mbox="mailto:admin@example.org"),
            verb=tincan.Verb(id="http://adlnet.gov/expapi/verbs/voided"),
            object=tincan.StatementRef(id=statement_id),
        )
    )
    assert voided.success, voided.data
    assert not lrs.retrieve_statement(statement_id).success
    assert str(lrs.retrieve_voided_statement(statement_id).content.id) == statement_id
    db = runtime.settings.clickhouse_database
    mapped = (
        runtime.clickhouse()
        .query(f"SELECT count() FROM `{db}`.raw_events FINAL WHERE object_id LIKE 'https://example.org/activity/%'")
        .result_rows[0][0]
    )
    assert mapped == 3  # four saved, one of them voided: it left raw_events
