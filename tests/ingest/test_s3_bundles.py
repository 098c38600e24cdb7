"""S3 bundle uploader: Torus key layout (regex + round-trip), categories, JSONL bodies in a moto bucket, retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from xolap.ingest.aws_clients import aws_client
from xolap.ingest.s3_bundles import (
    BUNDLE_KEY_RE,
    BundleUploadError,
    S3BundleUploader,
    bundle_key,
    category_for,
    parse_bundle_key,
    partition_for,
)

EXT = "http://oli.cmu.edu/extensions/"


def statement(verb: str, object_type: str | None, section_id: int | None = 42, **extensions) -> dict:
    ext = {EXT + k: v for k, v in extensions.items()}
    if section_id is not None:
        ext[EXT + "section_id"] = section_id
    obj: dict = {"id": "https://example.org/x"}
    if object_type:
        obj["definition"] = {"type": object_type}
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": "learner-1"}},
        "verb": {"id": verb},
        "object": obj,
        "context": {"extensions": ext},
        "timestamp": "2026-01-31T09:05:07.123Z",
    }


def test_key_matches_torus_layout_and_round_trips():
    at = datetime(2026, 1, 31, 9, 5, 7, 123456, tzinfo=UTC)
    key = bundle_key("section", 42, "video", at, "b1d2", prefix="xapi")
    assert key == "xapi/section/42/video/2026-01-31T09-05-07.123456Z_b1d2.jsonl"
    assert ":" not in key
    parsed = parse_bundle_key(key)
    assert (parsed.prefix, parsed.partition, parsed.partition_id, parsed.category, parsed.at, parsed.bundle_id) == (
        "xapi/",
        "section",
        "42",
        "video",
        at,
        "b1d2",
    )
    # A deeper prefix, no prefix, and a non-UTC time (converted to UTC) all round-trip.
    eastern = datetime(2026, 1, 31, 4, 5, 7, tzinfo=timezone(timedelta(hours=-5)))
    for prefix in ("", "a/b/c/"):
        key = bundle_key("section", "7", "page_viewed", eastern, "id-9", prefix=prefix)
        assert BUNDLE_KEY_RE.match(key)
        parsed = parse_bundle_key(key)
        assert parsed.prefix == prefix and parsed.at == eastern and parsed.partition_id == "7"
    # Torus keys written by Elixir (second precision) parse too.
    assert parse_bundle_key("section/3/video/2025-09-01T00-00-00Z_x.jsonl").at == datetime(2025, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["", "a/b", "has space"])
def test_key_rejects_bad_segments(bad):
    with pytest.raises(ValueError, match="partition_id"):
        bundle_key("section", bad, "video", datetime.now(UTC), "b")


def test_parse_rejects_other_keys():
    for key in ("section/42/video/notatime_b.jsonl", "section/42/2026-01-31T09-05-07Z_b.jsonl", "x.jsonl"):
        with pytest.raises(ValueError, match="not a bundle key"):
            parse_bundle_key(key)


@pytest.mark.parametrize(
    ("verb", "object_type", "category"),
    [
        ("https://w3id.org/xapi/video/verbs/played", "https://w3id.org/xapi/video/activity-type/video", "video"),
        ("https://w3id.org/xapi/video/verbs/seeked", None, "video"),
        (
            "http://adlnet.gov/expapi/verbs/completed",
            "http://adlnet.gov/expapi/activities/question",
            "attempt_evaluated",
        ),
        ("http://adlnet.gov/expapi/verbs/completed", EXT + "activity_attempt", "attempt_evaluated"),
        ("http://adlnet.gov/expapi/verbs/completed", EXT + "page_attempt", "attempt_evaluated"),
        ("http://id.tincanapi.com/verb/viewed", EXT + "types/page", "page_viewed"),
        ("http://activitystrea.ms/schema/1.0/create", EXT + "tutor_activity_message", "tutor_activity_message"),
        ("http://activitystrea.ms/schema/1.0/create", EXT + "tutor_message", "tutor_activity_message"),
        (
            EXT + "verbs/experiment_condition_assigned",
            EXT + "types/condition_assignment",
            "experiment_condition_assigned",
        ),
        ("http://adlnet.gov/expapi/verbs/answered", "http://adlnet.gov/expapi/activities/cmi.interaction", "other"),
    ],
)
def test_category_for(verb, object_type, category):
    assert category_for(statement(verb, object_type)) == category


def test_category_for_malformed_statement_is_other():
    assert category_for({"verb": "nope", "object": []}) == "other"


def test_partition_prefers_section_then_project():
    assert partition_for(statement("v", None, section_id=5)) == ("section", "5")
    assert partition_for(statement("v", None, section_id=None, project_id=9)) == ("project", "9")
    assert partition_for(statement("v", None, section_id=None)) == ("unscoped", "0")


@pytest.fixture()
def bucket(aws_settings):
    s3 = aws_client(aws_settings, "s3")
    name = f"bundles-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def test_upload_writes_jsonl_at_layout(bucket):
    s3, name = bucket
    uploader = S3BundleUploader(s3, name, "xapi/")
    statements = [statement("https://w3id.org/xapi/video/verbs/played", None), orjson.dumps({"raw": 1}) + b"\n"]
    at = datetime(2026, 2, 1, 12, 0, 0, tzinfo=UTC)
    key = uploader.upload("section", 42, "video", statements, at=at)
    parsed = parse_bundle_key(key)
    assert (parsed.prefix, parsed.partition_id, parsed.category, parsed.at) == ("xapi/", "42", "video", at)
    body = s3.get_object(Bucket=name, Key=key)["Body"].read()
    lines = body.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert orjson.loads(lines[0]) == statements[0] and lines[1] == b'{"raw":1}'


def test_archive_groups_by_section_and_category(bucket, aws_settings):
    s3, name = bucket
    uploader = S3BundleUploader.from_settings(
        aws_settings.model_copy(update={"s3_bundle_bucket": name, "s3_bundle_prefix": "arch"})
    )
    video = "https://w3id.org/xapi/video/verbs/played"
    viewed = "http://id.tincanapi.com/verb/viewed"
    statements = [
        statement(video, None, section_id=1),
        statement(viewed, EXT + "types/page", section_id=1),
        statement(video, None, section_id=2),
        orjson.dumps(statement(video, None, section_id=1)),
        statement("http://example.org/verbs/other", None, section_id=None),
    ]
    keys = uploader.archive(statements)
    assert len(keys) == 4
    by_group = {(p.partition, p.partition_id, p.category): k for k in keys for p in [parse_bundle_key(k)]}
    assert set(by_group) == {
        ("section", "1", "video"),
        ("section", "1", "page_viewed"),
        ("section", "2", "video"),
        ("unscoped", "0", "other"),
    }
    assert all(k.startswith("arch/") for k in keys)
    video_1 = s3.get_object(Bucket=name, Key=by_group[("section", "1", "video")])["Body"].read().splitlines()
    assert len(video_1) == 2
    listed = s3.list_objects_v2(Bucket=name, Prefix="arch/")["KeyCount"]
    assert listed == 4


def test_archive_rejects_non_object_bytes(bucket):
    s3, name = bucket
    with pytest.raises(ValueError, match="statement 1: expected a JSON object"):
        S3BundleUploader(s3, name).archive([statement("v", None), b"[1,2]"])


class FlakyS3:
    """An S3 stand-in whose first put fails (an AWS client, not one of our components)."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    def put_object(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("connection reset")
        return {}


def test_upload_retries_once_then_raises():
    flaky = FlakyS3(failures=1)
    S3BundleUploader(flaky, "b1b").upload("section", 1, "video", [{"a": 1}])
    assert flaky.calls == 2
    broken = FlakyS3(failures=5)
    uploader = S3BundleUploader(broken, "b1b")
    uploader.retry_delay_seconds = 0
    with pytest.raises(BundleUploadError, match=r"s3://b1b/section/1/video/.*after 2 attempts: connection reset"):
        uploader.upload("section", 1, "video", [{"a": 1}])
    assert broken.calls == 2


def test_upload_rejects_empty_and_multiline():
    uploader = S3BundleUploader(FlakyS3(0), "b1b")
    with pytest.raises(ValueError, match="at least one"):
        uploader.upload("section", 1, "video", [])
    with pytest.raises(ValueError, match="statement 0: .*newline"):
        uploader.upload("section", 1, "video", [b'{"a":1}\n{"b":2}'])
