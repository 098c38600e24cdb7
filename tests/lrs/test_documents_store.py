"""xolap.lrs.documents against a real Postgres: ETags, preconditions, JSON merge, lists, who sees what, and
concurrent writers that never lose an update; xolap.lrs.agents and .parameters: the checks behind the 400s."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from xolap.lrs import documents
from xolap.lrs.agents import AgentError, check_agent, parse_agent, person
from xolap.lrs.documents import (
    Conflict,
    DocumentSet,
    MissingPrecondition,
    NotMergeable,
    NotYours,
    PreconditionFailed,
    Preconditions,
    Viewer,
)
from xolap.lrs.parameters import ParameterError, Parameters, parse_timestamp
from xolap.store.db import session_scope

ADA = check_agent({"mbox": "mailto:ada@example.org", "name": "Ada"})
BOB = check_agent({"account": {"homePage": "https://lms.example", "name": "bob-7"}})
ACTIVITY = "https://example.org/course/1"
WRITER = Viewer(1)
OTHER = Viewer(2)
READER = Viewer(3, reads_all=True)


def _state(state_id="s1", registration=None, agent=ADA):
    return DocumentSet("state", ACTIVITY, agent, registration).document(state_id)


def test_put_then_get_keeps_bytes_type_and_sha1_etag(pg_settings):
    content = b"\x00\x01binary\xff"
    with session_scope(pg_settings) as session:
        stored = documents.put(session, _state(), WRITER, "image/png", content)
    assert stored.etag == hashlib.sha1(content).hexdigest() and stored.quoted_etag == f'"{stored.etag}"'
    with session_scope(pg_settings) as session:
        found = documents.get(session, _state(), WRITER)
        assert (found.content, found.content_type, found.etag) == (content, "image/png", stored.etag)
        assert documents.get(session, _state("other"), WRITER) is None
        assert documents.get(session, _state(agent=BOB), WRITER) is None
        assert documents.get(session, _state(registration="9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11"), WRITER) is None
        # The learner's identifier is not stored: only its hash.
        dump = session.execute(text("SELECT string_agg(t::text, ' ') FROM lrs_documents t")).scalar_one()
        assert "ada@example.org" not in dump and ADA.key_hash in dump


def test_preconditions_if_match_and_if_none_match(pg_settings):
    with session_scope(pg_settings) as session:
        first = documents.put(
            session, _state(), WRITER, "application/json", b'{"a": 1}', Preconditions.from_headers(None, "*")
        )
    with session_scope(pg_settings) as session:
        with pytest.raises(PreconditionFailed):
            documents.put(
                session, _state(), WRITER, "application/json", b'{"a": 2}', Preconditions.from_headers(None, "*")
            )
    for wrong in ('"1111111111111111111111111111111111111111"', '"1234"', "garbage"):
        with session_scope(pg_settings) as session:
            for call in (
                lambda c: documents.put(session, _state(), WRITER, "application/json", b'{"a": 3}', c),
                lambda c: documents.post(session, _state(), WRITER, "application/json", b'{"b": 3}', c),
                lambda c: documents.delete(session, _state(), WRITER, c),
            ):
                with pytest.raises(PreconditionFailed):
                    call(Preconditions.from_headers(wrong, None))
    with session_scope(pg_settings) as session:
        assert documents.get(session, _state(), WRITER).content == b'{"a": 1}'
        # The right ETag, in any of the spellings clients use (quoted, weak, in a list, upper-case).
        for spelling in (first.quoted_etag, f"W/{first.quoted_etag}", f'"x", {first.quoted_etag}', first.etag.upper()):
            assert Preconditions.from_headers(spelling, None).if_match[-1] == first.etag
        second = documents.put(
            session,
            _state(),
            WRITER,
            "application/json",
            b'{"a": 4}',
            Preconditions.from_headers(f'"nope", {first.quoted_etag}', None),
        )
        # If-None-Match with the current ETag fails; with another one it passes.
        with pytest.raises(PreconditionFailed):
            documents.put(
                session,
                _state(),
                WRITER,
                "application/json",
                b"{}",
                Preconditions.from_headers(None, second.quoted_etag),
            )
        documents.put(
            session,
            _state(),
            WRITER,
            "application/json",
            b'{"a": 5}',
            Preconditions.from_headers(None, first.quoted_etag),
        )
        # If-Match on a document that does not exist fails, * included.
        with pytest.raises(PreconditionFailed):
            documents.put(session, _state("new"), WRITER, "text/plain", b"x", Preconditions.from_headers("*", None))
        assert documents.get(session, _state("new"), WRITER) is None


def test_put_without_headers_per_rule(pg_settings):
    where = DocumentSet("activity_profile", ACTIVITY).document("p1")
    with session_scope(pg_settings) as session:
        with pytest.raises(MissingPrecondition):
            documents.put(session, where, WRITER, "application/json", b"{}", require="always")
        assert documents.get(session, where, WRITER) is None
        documents.put(
            session, where, WRITER, "application/json", b'{"v": 1}', Preconditions.from_headers(None, "*"), "always"
        )
        for rule in ("always", "existing"):
            with pytest.raises(Conflict):
                documents.put(session, where, WRITER, "application/json", b'{"v": 2}', require=rule)
        assert documents.get(session, where, WRITER).content == b'{"v": 1}'
        # No rule (State under 1.0.x): a PUT without headers replaces; "existing" lets a new document through.
        documents.put(session, where, WRITER, "text/plain", b"replaced")
        documents.put(session, _state("fresh"), WRITER, "text/plain", b"new", require="existing")
        assert documents.get(session, where, WRITER).content == b"replaced"


def test_post_merges_json_objects_one_level_and_refuses_the_rest(pg_settings):
    with session_scope(pg_settings) as session:
        documents.post(
            session, _state(), WRITER, "application/json", b'{"car": {"make": "Ford", "model": "T"}, "x": 1}'
        )
        documents.post(
            session, _state(), WRITER, "application/json; charset=utf-8", b'{"car": {"make": "Dodge"}, "y": 2}'
        )
        merged = documents.get(session, _state(), WRITER)
        assert orjson.loads(merged.content) == {"car": {"make": "Dodge"}, "x": 1, "y": 2}
        assert merged.content_type == "application/json" and merged.etag == hashlib.sha1(merged.content).hexdigest()
        before = merged.content
        for content_type, body in (
            ("text/plain", b"abc"),
            ("application/x-www-form-urlencoded", b"abc"),
            ("application/json", b'{"a": 1}{'),
            ("application/json", b"[1, 2]"),
            ("application/json", b'"a string"'),
            (None, b'{"a": 1}'),
        ):
            with pytest.raises(NotMergeable):
                documents.post(session, _state(), WRITER, content_type, body)
        assert documents.get(session, _state(), WRITER).content == before
        # A stored document that is not JSON is never merged into.
        documents.put(session, _state("bin"), WRITER, "application/octet-stream", b"/ asdf / undefined")
        with pytest.raises(NotMergeable):
            documents.post(session, _state("bin"), WRITER, "application/json", b'{"a": 1}')
        assert documents.get(session, _state("bin"), WRITER).content == b"/ asdf / undefined"
        # A POST to a new document stores it as a PUT would; a JSON one must still be an object.
        documents.post(session, _state("plain"), WRITER, "text/plain", b"hello")
        assert documents.get(session, _state("plain"), WRITER).content == b"hello"
        with pytest.raises(NotMergeable):
            documents.post(session, _state("broken"), WRITER, "application/json", b'{"a": ')
        assert documents.get(session, _state("broken"), WRITER) is None


def test_last_change_moves_forward_and_lists_honour_since_and_registration(pg_settings):
    registration = "9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11"
    with session_scope(pg_settings) as session:
        a = documents.put(session, _state("a"), WRITER, "text/plain", b"1")
        b = documents.put(session, _state("b", registration), WRITER, "text/plain", b"2")
        documents.put(session, _state("c", agent=BOB), WRITER, "text/plain", b"3")
        again = documents.put(session, _state("a"), WRITER, "text/plain", b"1b")
        assert again.updated_at > a.updated_at
        every = DocumentSet("state", ACTIVITY, ADA)
        assert documents.list_ids(session, every, WRITER) == ["b", "a"]
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, ADA, registration), WRITER) == ["b"]
        assert documents.list_ids(session, every, WRITER, since=b.updated_at) == ["a"]
        assert documents.list_ids(session, every, WRITER, since=datetime.now(UTC) + timedelta(minutes=1)) == []
        # Profiles of another kind never show in a State list.
        documents.put(session, DocumentSet("agent_profile", None, ADA).document("a"), WRITER, "text/plain", b"p")
        assert documents.list_ids(session, every, WRITER) == ["b", "a"]
        assert documents.clear(session, DocumentSet("state", ACTIVITY, ADA, registration), WRITER) == 1
        assert documents.list_ids(session, every, WRITER) == ["a"]
        assert documents.clear(session, every, WRITER) == 1
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, BOB), WRITER) == ["c"]
        assert documents.delete(session, _state("c", agent=BOB), WRITER) is True
        assert documents.delete(session, _state("c", agent=BOB), WRITER) is False


def test_only_the_creator_and_readers_of_everything_see_a_document(pg_settings):
    section_reader, other_section_reader = Viewer(4, True, section_id=7), Viewer(5, True, section_id=8)
    with session_scope(pg_settings) as session:
        documents.put(session, _state("mine"), WRITER, "text/plain", b"secret")
        documents.put(session, _state("s7"), Viewer(6, section_id=7), "text/plain", b"seven")
        assert documents.get(session, _state("mine"), OTHER) is None
        assert documents.get(session, _state("mine"), READER).content == b"secret"
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, ADA), OTHER) == []
        # section 7's documents live in section 7's own space, out of the shared one unlimited credentials use
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, ADA), READER) == ["mine"]
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, ADA), section_reader) == ["s7"]
        assert documents.list_ids(session, DocumentSet("state", ACTIVITY, ADA), other_section_reader) == []
        for call in (
            lambda: documents.put(session, _state("mine"), OTHER, "text/plain", b"x"),
            lambda: documents.post(session, _state("mine"), OTHER, "text/plain", b"x"),
            lambda: documents.delete(session, _state("mine"), OTHER),
        ):
            with pytest.raises(NotYours):
                call()
        assert documents.clear(session, DocumentSet("state", ACTIVITY, ADA), OTHER) == 0
        assert documents.get(session, _state("mine"), WRITER).content == b"secret"


def test_concurrent_merges_and_creates_lose_nothing(pg_settings):
    """Twelve writers merge their own key into one new document at the same moment: every key survives, and of
    twelve If-None-Match: * creators exactly one wins."""
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def merge(i: int) -> None:
        barrier.wait()
        with session_scope(pg_settings) as session:
            documents.post(session, _state("shared"), WRITER, "application/json", orjson.dumps({f"k{i}": i}))

    def create(i: int) -> None:
        barrier.wait()
        try:
            with session_scope(pg_settings) as session:
                documents.put(
                    session,
                    _state("race"),
                    WRITER,
                    "text/plain",
                    str(i).encode(),
                    Preconditions.from_headers(None, "*"),
                    "always",
                )
            outcomes.append("stored")
        except PreconditionFailed:
            outcomes.append("412")

    for target in (merge, create):
        threads = [threading.Thread(target=target, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    with session_scope(pg_settings) as session:
        merged = orjson.loads(documents.get(session, _state("shared"), WRITER).content)
        assert merged == {f"k{i}": i for i in range(12)}
    assert sorted(outcomes) == ["412"] * 11 + ["stored"]


@pytest.mark.parametrize(
    "agent, rule",
    [
        ({"mbox": "mailto:ada@example.org", "openid": "https://id.example/ada"}, "exactly one of"),
        ({"name": "Ada"}, "exactly one of"),
        ({"objectType": "Group", "mbox": "mailto:team@example.org"}, "not a Group"),
        ({"objectType": "Person", "mbox": "mailto:ada@example.org"}, "objectType"),
        ({"mbox": "ada@example.org"}, "mailto"),
        ({"mbox": "mailto:"}, "mailto"),
        ({"mbox": "mailto:ada\x00@example.org"}, "mailto"),  # a control character inside an identifier
        ({"openid": "https://id.example/\x01"}, "agent.openid"),
        ({"account": {"homePage": "https://lms.example/\x7f", "name": "ada"}}, "agent.account.homePage"),
        ({"mbox_sha1sum": "abc"}, "agent.mbox_sha1sum"),
        ({"openid": "not a uri"}, "agent.openid"),
        ({"account": {"homePage": "https://lms.example"}}, "agent.account.name"),
        ({"account": {"homePage": "lms", "name": "ada"}}, "agent.account.homePage"),
        ({"account": {"homePage": "https://lms.example", "name": "ada", "extra": 1}}, "unknown property"),
        ({"mbox": "mailto:ada@example.org", "name": 7}, "agent.name"),
        ({"mbox": "mailto:ada@example.org", "member": []}, "unknown property"),
        (["mailto:ada@example.org"], "JSON object"),
        (True, "JSON object"),
    ],
)
def test_invalid_agents_are_refused_without_echoing_them(agent, rule):
    with pytest.raises(AgentError) as caught:
        check_agent(agent)
    assert rule in str(caught.value)
    for secret in ("ada@example.org", "team@example.org", "https://id.example/ada"):
        assert secret not in str(caught.value)


def test_agent_parsing_hashes_and_person():
    same = [
        parse_agent('{"mbox": "mailto:ada@example.org"}'),
        parse_agent('{"objectType": "Agent", "name": "Ada L.", "mbox": "mailto:ada@example.org"}'),
    ]
    assert same[0].key_hash == same[1].key_hash != BOB.key_hash
    sha = check_agent({"mbox_sha1sum": "A" * 40})
    assert sha.key_hash == check_agent({"mbox_sha1sum": "a" * 40}).key_hash
    for text_value in ("true", "{broken", '"mailto:ada@example.org"', '{"mbox": "mailto:ada@example.org"'):
        with pytest.raises(AgentError):
            parse_agent(text_value)
    assert person(same[1]) == {"objectType": "Person", "name": ["Ada L."], "mbox": ["mailto:ada@example.org"]}
    assert person(BOB) == {"objectType": "Person", "account": [{"homePage": "https://lms.example", "name": "bob-7"}]}


def test_parameters_name_what_is_wrong():
    allowed = {"activityId", "agent", "registration", "stateId", "since"}
    cases = [
        ([("activityId", ACTIVITY), ("foo", "bar")], "unknown parameter(s) foo"),
        ([("activityId", ACTIVITY), ("activityId", ACTIVITY)], "activityId given more than once"),
    ]
    for pairs, message in cases:
        with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Parameters(pairs, allowed)
    params = Parameters(
        [
            ("activityId", "true"),
            ("registration", "nope"),
            ("since", "not a timestamp"),
            ("stateId", ""),
            ("agent", '{"mbox": "mailto:ada@example.org", "openid": "x:y"}'),
        ],
        allowed,
    )
    for call, name in (
        (lambda: params.iri("activityId"), "activityId must be an IRI"),
        (lambda: params.uuid("registration"), "registration must be a UUID"),
        (lambda: params.timestamp("since"), "since must be an ISO 8601"),
        (lambda: params.string("stateId"), "stateId must not be empty"),
        (lambda: params.agent("agent"), "exactly one of"),
        (lambda: Parameters([], allowed).iri("activityId"), "activityId is required"),
    ):
        with pytest.raises(ParameterError, match=name):
            call()
    good = Parameters(
        [("registration", "9C6A3B33-28F4-4B4F-9D3C-0E2B8F7C1A11"), ("since", "2026-11-30T10:00:00Z")], allowed
    )
    assert good.uuid("registration") == "9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11"
    assert good.timestamp("since") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_timestamp("2026-11-30T12:00:00.123+02:00") == datetime(2026, 11, 30, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_timestamp("2026-11-30T10:00:00").tzinfo is not None
    for wrong in ("2026-11-30", "2026-11-30T10:00:00-00:00", "2026-02-30T10:00:00Z", "1764496800"):
        with pytest.raises(ParameterError, match="since must be an ISO 8601"):
            parse_timestamp(wrong, "since")
    for wrong in (
        "9c6a3b3328f44b4f9d3c0e2b8f7c1a11",
        "{9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11}",
        "urn:uuid:9c6a3b33-28f4-4b4f-9d3c-0e2b8f7c1a11",
    ):
        with pytest.raises(ParameterError, match="registration must be a UUID"):
            Parameters([("registration", wrong)], allowed).uuid("registration")
    # An offset's "+" sent without URL encoding arrives as a space.
    assert parse_timestamp("2026-11-30T12:00:00.123 02:00") == parse_timestamp("2026-11-30T12:00:00.123+02:00")
