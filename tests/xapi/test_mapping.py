"""The statement → row mapping: every Torus statement shape, generic xAPI 1.0.3 / 2.0, timestamps, classification."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.ingest.pipeline import read_lines
from xolap.xapi import fields as spec
from xolap.xapi.rows import Rejected, classify, line_hash, map_statement, parse_timestamp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
OLI = "http://oli.cmu.edu/extensions/"


def _rows(name: str) -> list[dict]:
    path = FIXTURES / name
    return [map_statement(line, source_file=name, source_line=n) for n, line in read_lines(path.read_bytes(), name)]


@pytest.fixture(scope="module")
def torus() -> list[dict]:
    return _rows("torus_statements.jsonl")


@pytest.fixture(scope="module")
def generic() -> list[dict]:
    return _rows("generic_statements.jsonl")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_row_has_every_mapped_column(torus, generic):
    for row in torus + generic:
        assert list(row) == list(MAPPED_COLUMN_NAMES)


def test_video_played_paused_seeked_take_page_from_resource_id(torus):
    played, paused, seeked, completed = torus[:4]
    for row in (played, paused, seeked):
        assert row["event_type"] == "video"
        assert row["page_id"] == 4401  # from context extension resource_id (Torus quirk)
        assert row["video_url"] == "https://cdn.example.edu/media/intro.mp4"
        assert row["content_element_id"] == "vid-ce-1"
        assert row["video_length"] == 312.4  # context extension
        assert (row["section_id"], row["project_id"], row["publication_id"], row["enrollment_id"]) == (12, 5, 77, 3001)
        assert row["object_name"] == "Intro to Chemistry"
        assert row["timestamp"] == _utc(2024, 9, 3, 14, 5, 11, 123000)
    assert played["verb_id"] == "https://w3id.org/xapi/video/verbs/played" and played["video_time"] == 0.0
    assert (paused["video_time"], paused["video_progress"], paused["video_played_segments"]) == (
        42.75,
        0.137,
        "0[.]42.75",
    )
    assert (seeked["video_seek_from"], seeked["video_seek_to"], seeked["video_time"]) == (42.75, 120.0, None)
    assert completed["page_id"] == 4401 and completed["video_progress"] == 1.0 and completed["completion"] is True
    assert completed["page_attempt_guid"] == "pa-guid-1" and completed["page_attempt_number"] == 1


def test_part_attempt_evaluated(torus):
    row = torus[4]
    assert row["event_type"] == "part_attempt"
    assert row["verb_id"] == "http://adlnet.gov/expapi/verbs/completed"
    assert (row["score"], row["out_of"], row["scaled_score"], row["success"], row["completion"]) == (
        1.0,
        2.0,
        0.5,
        True,
        True,
    )
    assert row["response"] == "H2 + O2"  # object response → its input
    assert orjson.loads(row["feedback"])["id"] == "fb1"  # an object → JSON text
    assert row["hints_requested"] == 2  # list → length
    assert row["attached_objectives"] == "[301, 302]"  # Torus's spelling: Python json.dumps defaults
    assert (row["part_attempt_guid"], row["part_attempt_number"], row["part_id"]) == ("pt-guid-9", 2, "1")
    assert (row["activity_attempt_guid"], row["activity_attempt_number"]) == ("aa-guid-3", 1)
    assert (row["activity_id"], row["activity_revision_id"], row["page_id"]) == (5501, 8801, 4402)
    assert row["session_id"] == "sess-abc"
    assert row["video_url"] is None  # object.id is not a video url outside video events
    assert row["object_id"] == "https://torus.example.edu/part_attempt/pt-guid-9}"  # stray brace kept as sent
    assert row["timestamp"] == _utc(2024, 9, 3, 12, 7, 0, 500000)  # +02:00 → UTC
    assert row["statement_id"] == "7f0c4a8e-1111-4000-8000-000000000001"


def test_activity_and_page_attempt_evaluated(torus):
    activity, page = torus[5], torus[6]
    assert activity["event_type"] == "activity_attempt"
    assert activity["part_attempt_guid"] is None and activity["hints_requested"] is None
    assert (activity["score"], activity["out_of"], activity["scaled_score"]) == (3.0, 4.0, 0.75)
    assert activity["object_name"] == "Balancing equations"
    assert page["event_type"] == "page_attempt"
    assert (page["page_attempt_guid"], page["page_attempt_number"], page["page_id"]) == ("pa-guid-2", 1, 4402)
    assert (page["score"], page["out_of"], page["scaled_score"]) == (0.0, 0.0, 0.0)
    assert page["timestamp"] == _utc(2024, 9, 3, 14, 9, 59, 999000)  # nanoseconds truncated, not rounded up


def test_page_viewed(torus):
    row = torus[7]
    assert row["event_type"] == "page_viewed"
    assert (row["page_id"], row["page_sub_type"], row["object_name"]) == (4403, "basic", "Stoichiometry")
    assert (row["success"], row["completion"]) == (True, True)
    assert row["user_id"] == "1003" and row["home_page"] == "https://torus.example.edu"


def test_tutor_messages_and_experiment_assignment_are_kept_as_unknown(torus):
    tutor, tutor_activity, experiment = torus[8], torus[9], torus[10]
    for row in (tutor, tutor_activity, experiment):
        assert row["event_type"] == "unknown"
    assert (
        tutor["object_type"] == OLI + "tutor_message"
        and tutor["verb_id"] == "http://activitystrea.ms/schema/1.0/create"
    )
    assert tutor_activity["activity_id"] == 5501 and tutor["activity_id"] is None  # explicit null
    assert experiment["verb_id"] == OLI + "verbs/experiment_condition_assigned"
    assert experiment["object_type"] == OLI + "types/condition_assignment"
    assert experiment["section_id"] == 12


def test_generic_xapi_statements_are_kept(generic):
    v103, v2, substatement, agent_object, loose, legacy_video = generic
    assert v103["user_id"] == "mailto:learner@example.org" and v103["event_type"] == "unknown"
    assert v103["object_name"] == "Frage 1 – Größe"  # the only language
    assert v103["timestamp"] == _utc(2024, 3, 10, 9, 30, 0, 250000)
    assert (v103["success"], v103["scaled_score"], v103["response"]) == (False, 0.9, "b[,]c")
    assert v2["user_id"] is None and v2["object_name"] == "Chemistry 101"  # en before fr
    assert v2["timestamp"] == _utc(2024, 12, 31, 23, 59, 59, 987000)  # lowercase t/z, nanoseconds
    assert substatement["user_id"] == "https://openid.example.org/u/77" and substatement["object_id"] is None
    assert substatement["event_type"] == "video"  # legacy 'experienced' is a video verb in Torus's rule
    assert substatement["timestamp"] == _utc(2024, 12, 31, 23, 30)  # +0100 crosses the year
    assert agent_object["user_id"] == "ユーザー" and agent_object["response"] == "42"
    assert agent_object["timestamp"] == _utc(2024, 6, 15, 8, 0)  # no offset → UTC
    assert loose["user_id"] == "1234" and loose["section_id"] == 12 and loose["project_id"] == 5
    assert loose["publication_id"] is None  # empty string id → NULL
    assert loose["score"] == 7.0 and loose["scaled_score"] == 0.7 and loose["out_of"] == 10.0
    assert loose["object_name"] is None  # en-US present but null
    assert loose["response"] == '{"choices": ["a", "b"], "n": 2}'
    assert loose["attached_objectives"] == '{"obj": [1, "two", null, true]}'
    assert loose["part_id"] == "17" and loose["session_id"] is None
    assert loose["content_element_id"] is None  # Torus reads result extensions' bare key only (this is the URI key)
    assert loose["page_id"] is None  # resource_id is only the page for video statements
    assert loose["timestamp"] == _utc(2024, 2, 29, 23, 59, 59, 999000)
    assert legacy_video["user_id"] == "élève 😀" and legacy_video["page_id"] == 4409
    assert legacy_video["video_length"] == 60.0 and legacy_video["object_name"] == "Vídeo\n2"
    assert legacy_video["timestamp"] == _utc(1999, 12, 31, 23, 59, 59)


def test_provenance_columns():
    line = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()[0]
    row = map_statement(line, source_file="s3://bucket/k.jsonl", source_etag="abc", source_line=7)
    assert (
        row["event_hash"] == line_hash(line)
        and len(row["event_hash"]) == 64
        and row["event_hash"] == row["event_hash"].lower()
    )
    assert (row["source_file"], row["source_etag"], row["source_line"]) == ("s3://bucket/k.jsonl", "abc", 7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", _utc(2024, 5, 1, 12)),
        ("2024-05-01T12:00:00.1239Z", _utc(2024, 5, 1, 12, 0, 0, 123000)),
        ("2024-05-01T12:00:00.999999999+00:00", _utc(2024, 5, 1, 12, 0, 0, 999000)),
        ("2024-05-01T00:30:00+05:45", _utc(2024, 4, 30, 18, 45)),
        ("2024-05-01T23:30:00-0330", _utc(2024, 5, 2, 3, 0)),
        ("2024-05-01 12:00:00", _utc(2024, 5, 1, 12)),
        ("1969-12-31T23:59:59.5Z", _utc(1969, 12, 31, 23, 59, 59, 500000)),
    ],
)
def test_timestamps_normalize_to_utc_milliseconds(text, expected):
    millis = parse_timestamp(text)
    assert millis == int(expected.timestamp() * 1000)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01",
        "2024-05-01T12:00Z",
        "2024-02-30T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "1800-01-01T00:00:00Z",
        "soon",
        "2024-05-01T12:00:00+25:00",
    ],
)
def test_bad_timestamps_are_rejected(text):
    line = orjson.dumps({"actor": {}, "verb": {"id": "v"}, "object": {}, "timestamp": text})
    with pytest.raises(Rejected, match="^timestamp: expected an ISO 8601"):
        map_statement(line)


def test_classification_follows_torus_rule():
    completed = "http://adlnet.gov/expapi/verbs/completed"
    assert classify("https://w3id.org/xapi/video/verbs/seeked", None) == "video"
    assert classify(completed, "http://adlnet.gov/expapi/activities/question") == "part_attempt"
    assert classify(completed, OLI + "activity_attempt") == "activity_attempt"
    assert classify(completed, OLI + "page_attempt") == "page_attempt"
    assert classify("http://id.tincanapi.com/verb/viewed", OLI + "types/page") == "page_viewed"
    assert classify("http://id.tincanapi.com/verb/viewed", "http://example.org/other") == "unknown"
    assert classify(completed, None) == "unknown"
    assert set(spec.EVENT_TYPES) == {
        "video",
        "part_attempt",
        "activity_attempt",
        "page_attempt",
        "page_viewed",
        "unknown",
    }


def test_every_mapped_column_is_produced_once():
    produced = [f.column for f in spec.FIELDS] + [spec.EVENT_TYPE_COLUMN, *spec.PROVENANCE_COLUMNS]
    assert sorted(produced) == sorted(MAPPED_COLUMN_NAMES)
