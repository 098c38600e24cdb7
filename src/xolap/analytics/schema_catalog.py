"""What custom SQL can read, for people who do not know the warehouse: each table, its columns, their ClickHouse
types and a one-line meaning. The column lists come from the column contract (xolap.clickhouse.columns), so the
catalogue cannot drift from the tables; a test checks every column has a meaning."""

from __future__ import annotations

from typing import Any

from xolap.clickhouse.columns import DEFAULTED_COLUMNS, MAPPED_COLUMNS

RAW_EVENTS_MEANINGS: dict[str, str] = {
    "user_id": "the learner (an opaque id from the course platform)",
    "home_page": "the platform the learner signed in on",
    "section_id": "the course section (class) the event happened in",
    "project_id": "the course project the section is taught from",
    "publication_id": "the published version of the project",
    "enrollment_id": "the learner's enrollment in the section",
    "timestamp": "when the event happened (UTC, milliseconds)",
    "event_type": "what happened: page_viewed, video, part_attempt, activity_attempt, page_attempt, …",
    "verb_id": "the xAPI verb (e.g. …/verbs/completed)",
    "page_id": "the page the event is about",
    "content_element_id": "the video or element inside the page",
    "video_url": "the video's address (identifies the video)",
    "video_time": "position in the video, in seconds",
    "video_length": "length of the video, in seconds",
    "video_progress": "share of the video watched (0 to 1)",
    "video_played_segments": "the parts of the video played, as the player reported them",
    "video_seek_from": "where a seek started, in seconds",
    "video_seek_to": "where a seek ended, in seconds",
    "activity_attempt_guid": "one attempt at an activity",
    "activity_attempt_number": "which attempt at the activity (1 = first)",
    "page_attempt_guid": "one attempt at a page",
    "page_attempt_number": "which attempt at the page (1 = first)",
    "part_attempt_guid": "one attempt at one part of an activity",
    "part_attempt_number": "which attempt at the part (1 = first)",
    "activity_id": "the activity (question) the event is about",
    "activity_revision_id": "the version of the activity",
    "part_id": "the part of the activity (one input of a question)",
    "page_sub_type": "the kind of page (e.g. a graded page)",
    "score": "points scored",
    "out_of": "points possible",
    "scaled_score": "score as a share of points possible (0 to 1)",
    "success": "whether the attempt was correct",
    "completion": "whether the attempt or video was completed",
    "response": "the learner's answer as sent",
    "feedback": "the feedback the learner was shown",
    "hints_requested": "how many hints the learner asked for",
    "attached_objectives": "the learning objectives attached to the activity",
    "session_id": "the learner's browser session on the platform",
    "event_hash": "the event's identity (hash of the statement; duplicates share it)",
    "source_file": "the file the event was loaded from",
    "source_etag": "the version of that file",
    "source_line": "the line of that file",
    "statement_id": "the xAPI statement id, when the platform sent one",
    "object_id": "the xAPI object the event is about, as sent",
    "object_type": "the kind of that object",
    "object_name": "the object's title as sent (see content_titles for the latest title)",
    "inserted_at": "when xolap stored the event",
    "event_version": "version of the stored row (the newest copy of a duplicate wins)",
}

CONTENT_TITLES_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("project_id", "UInt64", "the project the content belongs to"),
    ("kind", "LowCardinality(String)", "page, video or activity"),
    ("content_id", "String", "page_id, video_url or activity_id as text (join on it)"),
    ("title", "String", "the content's latest title"),
    ("updated_at", "DateTime64(3)", "when that title was last seen"),
)


def catalog() -> list[dict[str, Any]]:
    """[{name, meaning, columns: [{name, type, meaning}]}] for every table custom SQL may read."""
    raw_columns = list(MAPPED_COLUMNS) + [(name, kind) for name, (kind, _default) in DEFAULTED_COLUMNS.items()]
    return [
        {
            "name": "raw_events",
            "meaning": "one row per learner event (page view, video, attempt, …)",
            "columns": [
                {"name": name, "type": kind, "meaning": RAW_EVENTS_MEANINGS.get(name, "")} for name, kind in raw_columns
            ],
        },
        {
            "name": "content_titles",
            "meaning": "titles of pages, videos and activities (latest per id)",
            "columns": [
                {"name": name, "type": kind, "meaning": meaning} for name, kind, meaning in CONTENT_TITLES_COLUMNS
            ],
        },
    ]
