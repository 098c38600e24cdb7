"""generate(): determinism, exact counts, every Torus statement shape with its fields, plausible behaviour."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from xolap.generator import CourseDataGenerator, generate
from xolap.generator import statements as st
from xolap.ingest.s3_bundles import category_for
from xolap.xapi.fields import EVENT_TYPE_RULES, UNKNOWN_EVENT_TYPE

OLI = "http://oli.cmu.edu/extensions/"
V = "https://w3id.org/xapi/video/extensions/"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$")
SCOPE_KEYS = ("section_id", "project_id", "publication_id", "enrollment_id")


def digest(seed: int, events: int, **options) -> str:
    h = hashlib.sha256()
    for item in generate(seed, events, **options):
        h.update(orjson.dumps(item.statement))
        h.update(b"\n")
    return h.hexdigest()


def event_type(statement: dict) -> str:
    """Torus's classification, from the mapping's own rule table (xolap.xapi.fields)."""
    verb = statement["verb"]["id"]
    object_type = statement["object"].get("definition", {}).get("type")
    for name, verbs, required_type in EVENT_TYPE_RULES:
        if verb in verbs and (required_type is None or object_type == required_type):
            return name
    return UNKNOWN_EVENT_TYPE


def shape(statement: dict) -> str:
    verb = statement["verb"]["id"]
    object_type = statement["object"]["definition"]["type"]
    if verb.startswith(st.VIDEO_VERB):
        return "video_" + verb.rsplit("/", 1)[1]
    return object_type.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def corpus() -> tuple[CourseDataGenerator, list]:
    generator = CourseDataGenerator(11, 40_000, projects=2, sections_per_project=2, learners_per_section=40)
    return generator, list(generator)


def test_same_seed_gives_identical_bytes_and_another_seed_differs():
    assert digest(5, 3_000) == digest(5, 3_000)
    assert digest(5, 3_000) != digest(6, 3_000)
    options = {"projects": 1, "sections_per_project": 2, "learners_per_section": 7}
    assert digest(5, 1_000, **options) == digest(5, 1_000, **options)


@pytest.mark.parametrize(
    ("events", "options"),
    [
        (0, {}),
        (1, {}),
        (17, {"projects": 1, "sections_per_project": 1, "learners_per_section": 50}),
        (2_345, {"projects": 2, "sections_per_project": 3, "learners_per_section": 3}),
        (4_000, {}),
    ],
)
def test_exactly_the_requested_number_of_statements(events, options):
    assert sum(1 for _ in generate(3, events, **options)) == events


def test_streaming_does_not_build_the_whole_output():
    stream = generate(2, 50_000_000)
    first = [next(stream) for _ in range(100)]  # would take minutes and gigabytes if materialized
    assert len(first) == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": -1}, "events"),
        ({"events": 10, "projects": 0}, "projects"),
        ({"events": 10, "sections_per_project": 0}, "sections_per_project"),
        ({"events": 10, "learners_per_section": 0}, "learners_per_section"),
        ({"events": "10"}, "events"),
    ],
)
def test_bad_arguments_are_refused_at_once_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(1, **kwargs)


def test_every_torus_shape_is_present_and_classified_like_torus(corpus):
    _generator, items = corpus
    shapes = Counter(shape(item.statement) for item in items)
    for name in (
        "video_played",
        "video_paused",
        "video_seeked",
        "video_completed",
        "question",
        "activity_attempt",
        "page_attempt",
        "page",
        "tutor_activity_message",
        "tutor_message",
        "condition_assignment",
    ):
        assert shapes[name] > 0, f"no {name} statement in {shapes}"
    expected_type = {
        "question": "part_attempt",
        "activity_attempt": "activity_attempt",
        "page_attempt": "page_attempt",
        "page": "page_viewed",
        "tutor_activity_message": "unknown",
        "tutor_message": "unknown",
        "condition_assignment": "unknown",
    }
    for item in items:
        name = shape(item.statement)
        assert event_type(item.statement) == expected_type.get(name, "video"), name
        assert item.category == category_for(item.statement), name  # same bundle category as the S3 uploader
    # small shares for tutor messages and experiment assignments
    assert shapes["condition_assignment"] < 0.02 * len(items)
    assert shapes["tutor_activity_message"] + shapes["tutor_message"] < 0.05 * len(items)


def test_common_fields_of_every_statement(corpus):
    generator, items = corpus
    sections = {s.section_id: s for s in generator.world.sections}
    for item in items:
        s = item.statement
        assert list(s) == sorted(s), "keys sorted as Jason encodes Elixir maps"
        assert s["actor"]["account"]["homePage"] == "torus.example.edu"
        assert s["actor"]["account"]["name"].isdigit()
        assert TIMESTAMP_RE.match(s["timestamp"]), s["timestamp"]
        assert s["verb"]["display"]["en-US"]
        assert s["object"]["definition"]["name"]["en-US"]
        ext = s["context"]["extensions"]
        for key in SCOPE_KEYS:
            assert isinstance(ext[OLI + key], int), key
        assert ext[OLI + "section_id"] == item.section_id
        section = sections[item.section_id]
        assert ext[OLI + "project_id"] == section.project.project_id
        parsed = datetime.strptime(s["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert int(parsed.timestamp() * 1000) == item.timestamp_ms
        assert section.start <= parsed < section.end, "timestamps within the section's term"


def test_shape_specific_fields(corpus):
    _generator, items = corpus
    seen = set()
    for item in items:
        s = item.statement
        name = shape(s)
        ext = s["context"]["extensions"]
        result = s.get("result", {})
        if name.startswith("video_"):
            assert s["object"]["definition"]["type"] == st.VIDEO_TYPE and s["object"]["id"].startswith("https://")
            assert s["context"]["contextActivities"] == {"category": [{"id": "https://w3id.org/xapi/video"}]}
            assert GUID_RE.match(ext[OLI + "page_attempt_guid"]) and ext[OLI + "content_element_id"].isdigit()
            if name == "video_completed":
                assert OLI + "page_id" in ext and OLI + "resource_id" not in ext and "registration" not in s
                assert ext[V + "completion-threshold"] == "1.0"
            else:
                assert OLI + "resource_id" in ext and OLI + "page_id" not in ext
                assert (
                    s["registration"]
                    == f"{item.section_id}-{ext[OLI + 'resource_id']}-{ext[OLI + 'content_element_id']}"
                )
            keys = set(result["extensions"])
            assert (
                keys
                == {
                    "video_played": {V + "time"},
                    "video_paused": {V + "time", V + "progress", V + "played-segments"},
                    "video_completed": {V + "time", V + "progress", V + "played-segments"},
                    "video_seeked": {V + "time-from", V + "time-to"},
                }[name]
            )
        elif name in ("question", "activity_attempt", "page_attempt"):
            assert s["verb"]["id"] == st.COMPLETED_VERB and s["object"]["id"].endswith("}")  # Torus's stray brace
            score = result["score"]
            assert 0 <= score["raw"] <= score["max"] and score["min"] == 0
            assert 0.0 <= score["scaled"] <= 1.0 and math.isclose(
                score["scaled"], score["raw"] / score["max"], abs_tol=1e-4
            )
            assert result["completion"] is True and isinstance(result["success"], bool)
            assert result["success"] == (score["raw"] >= score["max"]) or name == "page_attempt"
            assert GUID_RE.match(ext[OLI + "page_attempt_guid"]) and ext[OLI + "page_attempt_number"] >= 1
            assert isinstance(ext[OLI + "page_id"], int)
            if name == "page_attempt":
                assert not any(k.startswith(OLI + "activity") for k in ext)
            else:
                assert isinstance(ext[OLI + "activity_id"], int) and isinstance(ext[OLI + "activity_revision_id"], int)
                assert GUID_RE.match(ext[OLI + "activity_attempt_guid"]) and ext[OLI + "activity_attempt_number"] >= 1
            if name == "question":
                assert GUID_RE.match(ext[OLI + "part_attempt_guid"]) and ext[OLI + "part_attempt_number"] >= 1
                assert ext[OLI + "part_id"] in ("1", "2", "3")
                assert isinstance(ext[OLI + "hints_requested"], list) and isinstance(
                    ext[OLI + "attached_objectives"], list
                )
                assert GUID_RE.match(ext[OLI + "session_id"])
                assert (
                    isinstance(result["response"]["input"], str) and result["extensions"][OLI + "feedback"]["content"]
                )
            else:
                assert OLI + "part_id" not in ext and "response" not in result
        elif name == "page":
            assert s["object"]["objectType"] == "Page" and s["object"]["definition"]["subType"] in ("basic", "advanced")
            assert result == {"completion": True, "success": True}
        elif name in ("tutor_activity_message", "tutor_message"):
            assert s["verb"]["id"] == st.CREATE_VERB and result["message"]
        elif name == "condition_assignment":
            (attribution,) = ext[OLI + "experiment_attributions"]
            assert attribution["role"] == attribution["attribution_type"] == "assignment" and attribution["key"]
            assert attribution["condition_code"] in ("control", "treatment")
        seen.add(name)
    assert len(seen) == 11


def test_titles_are_realistic_and_stable(corpus):
    generator, items = corpus
    page_titles = {p.page_id: p.title for project in generator.world.projects for p in project.pages}
    for item in items:
        s = item.statement
        if shape(s) == "page":
            title = s["object"]["definition"]["name"]["en-US"]
            assert title == page_titles[s["context"]["extensions"][OLI + "page_id"]]
            assert re.match(r"^Unit \d+: .+ — .+$", title), title


def test_attempt_numbers_increase_only_after_failures(corpus):
    _generator, items = corpus
    activities: dict[tuple, list[dict]] = defaultdict(list)
    pages: dict[tuple, list[dict]] = defaultdict(list)
    retries = 0
    for item in items:
        s = item.statement
        ext = s["context"]["extensions"]
        user = s["actor"]["account"]["name"]
        if shape(s) == "activity_attempt":
            activities[(user, ext[OLI + "activity_id"])].append(s)
        elif shape(s) == "page_attempt":
            pages[(user, ext[OLI + "page_id"])].append(s)
    # Strictly increasing; a gap is an attempt that was started but never submitted (the session ended).
    firsts = Counter()
    for attempts in activities.values():
        numbers = [a["context"]["extensions"][OLI + "activity_attempt_number"] for a in attempts]
        assert numbers == sorted(set(numbers))
        firsts[numbers[0] == 1] += 1
        for previous, current in zip(attempts, attempts[1:], strict=False):
            same_page_attempt = (
                previous["context"]["extensions"][OLI + "page_attempt_guid"]
                == current["context"]["extensions"][OLI + "page_attempt_guid"]
            )
            if same_page_attempt and current["timestamp"] > previous["timestamp"]:
                retries += 1
    for attempts in pages.values():
        numbers = [a["context"]["extensions"][OLI + "page_attempt_number"] for a in attempts]
        assert numbers == sorted(set(numbers))
        for previous in attempts[:-1]:
            assert previous["result"]["success"] is False, "a graded page is retaken only after failing it"
    assert retries > 0
    assert firsts[True] > 0.95 * sum(firsts.values())
    assert any(len(a) > 1 for a in pages.values())


def test_activity_retries_without_leaving_the_page_follow_a_failed_attempt(corpus):
    _generator, items = corpus
    views: Counter = Counter()  # (user, page) -> page views so far
    last: dict[tuple, tuple[bool, int]] = {}
    checked = 0
    for item in items:
        s = item.statement
        ext = s["context"]["extensions"]
        user = s["actor"]["account"]["name"]
        if shape(s) == "page":
            views[(user, ext[OLI + "page_id"])] += 1
        elif shape(s) == "activity_attempt":
            page_views = views[(user, ext[OLI + "page_id"])]
            key = (user, ext[OLI + "activity_id"])
            previous = last.get(key)
            if previous is not None and previous[1] == page_views:  # attempted again in the same page visit
                assert previous[0] is False, "a retry in the same visit only follows a failed attempt"
                checked += 1
            last[key] = (s["result"]["success"], page_views)
    assert checked > 0


def test_video_sessions_are_coherent(corpus):
    _generator, items = corpus
    last: dict[tuple, tuple[str, float]] = {}
    viewings = 0
    for item in items:
        s = item.statement
        name = shape(s)
        if name not in ("video_paused", "video_completed"):
            continue
        ext = s["context"]["extensions"]
        r = s["result"]["extensions"]
        length = ext[V + "length"]
        segments = [tuple(float(x) for x in seg.split("[.]")) for seg in r[V + "played-segments"].split("[,]")]
        assert all(0 <= a < b <= length for a, b in segments)
        assert math.isclose(r[V + "time"], segments[-1][1]), "time is where the last played segment ended"
        merged, covered = [], 0.0
        for a, b in sorted(segments):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        covered = sum(b - a for a, b in merged)
        assert math.isclose(r[V + "progress"], round(covered / length, 4), abs_tol=1e-4)
        if name == "video_completed":
            assert r[V + "time"] == length
        key = (s["actor"]["account"]["name"], s["object"]["id"])
        previous = last.get(key)
        if previous is not None and r[V + "played-segments"].startswith(previous[0]):
            assert r[V + "progress"] >= previous[1], "progress never goes back within a viewing"
        else:
            viewings += 1
        last[key] = (r[V + "played-segments"], r[V + "progress"])
    assert viewings > 50


def test_page_view_comes_first_and_streams_are_time_ordered_per_section(corpus):
    _generator, items = corpus
    viewed: set[tuple] = set()
    previous_ms: dict[int, int] = {}
    for item in items:
        s = item.statement
        assert item.timestamp_ms >= previous_ms.get(item.section_id, 0)
        previous_ms[item.section_id] = item.timestamp_ms
        ext = s["context"]["extensions"]
        key = (s["actor"]["account"]["name"], ext.get(OLI + "page_attempt_guid"))
        if shape(s) == "page":
            viewed.add(key)
        elif OLI + "page_attempt_guid" in ext:
            assert key in viewed, f"{shape(s)} before any view of its page attempt"


def test_learners_differ_in_engagement_and_skill(corpus):
    generator, items = corpus
    per_user = Counter(item.statement["actor"]["account"]["name"] for item in items)
    counts = sorted(per_user.values())
    assert counts[-1] > 5 * counts[len(counts) // 10]
    # dropouts stop early in the term
    sections = {s.section_id: s for s in generator.world.sections}
    last_seen: dict[str, tuple[int, int]] = {}
    for item in items:
        last_seen[item.statement["actor"]["account"]["name"]] = (item.section_id, item.timestamp_ms)
    early = sum(
        1
        for sid, ms in last_seen.values()
        if ms < sections[sid].start_ms + 0.45 * (sections[sid].end_ms - sections[sid].start_ms)
    )
    assert early >= 0.04 * len(last_seen)
    # skill: per-learner success rates on parts spread widely
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        if shape(item.statement) == "question":
            outcomes[item.statement["actor"]["account"]["name"]].append(item.statement["result"]["success"])
    rates = sorted(sum(o) / len(o) for o in outcomes.values() if len(o) >= 30)
    assert rates[-1] - rates[0] > 0.3
    hinted = sum(
        1
        for item in items
        if shape(item.statement) == "question" and item.statement["context"]["extensions"][OLI + "hints_requested"]
    )
    assert hinted > 0


def test_term_rhythm_weekday_hour_and_deadlines(corpus):
    generator, items = corpus
    section = generator.world.sections[0]
    offset = timedelta(hours=section.utc_offset_hours)
    hours, days = Counter(), Counter()
    for item in items:
        if item.section_id == section.section_id:
            local = datetime.fromtimestamp(item.timestamp_ms / 1000, tz=UTC) + offset
            hours[local.hour] += 1
            days[(local - (section.start + offset)).days] += 1
    night = sum(hours[h] for h in (2, 3, 4, 5))
    evening = sum(hours[h] for h in (19, 20, 21, 22))
    assert evening > 3 * night
    first_half = sum(v for d, v in days.items() if d < section.days / 2)
    second_half = sum(v for d, v in days.items() if d >= section.days / 2)
    assert first_half > second_half, "activity decays over the term"
    near_deadline = sum(days[d - k] for d in section.unit_deadlines for k in (0, 1))
    share_of_days = 2 * len(section.unit_deadlines) / section.days
    assert near_deadline / sum(days.values()) > 1.2 * share_of_days


def test_every_statement_maps_to_a_complete_raw_events_row(corpus):
    from xolap.xapi.rows import map_statement

    _generator, items = corpus
    types = Counter()
    for item in items[:15_000]:
        row = map_statement(orjson.dumps(item.statement))  # raises on any rejected field
        types[row["event_type"]] += 1
        assert row["section_id"] == item.section_id and row["user_id"] and row["enrollment_id"] and row["object_name"]
        if row["event_type"] != "unknown":
            assert row["page_id"] is not None, "video statements get the page from resource_id"
        if row["event_type"] == "video":
            assert row["video_url"] and row["content_element_id"]
        if row["event_type"] in ("part_attempt", "activity_attempt", "page_attempt"):
            assert row["score"] is not None and row["out_of"] and 0 <= row["scaled_score"] <= 1
        if row["event_type"] == "page_viewed":
            assert row["page_sub_type"] in ("basic", "advanced")
    assert set(types) == {"video", "part_attempt", "activity_attempt", "page_attempt", "page_viewed", "unknown"}
