"""Builders of the xAPI statements Torus producers emit (torus-implementation.md §2), one function per shape.

Each builder returns a fresh dict shaped like the Torus producer's (lib/oli/analytics/xapi/events/**): same verb,
object type, result and context extensions, and the Torus quirks (stray '}' at the end of attempt/page object ids,
video played/paused/seeked carry the page in resource_id, completed in page_id; `registration` on played/paused/
seeked; completion-threshold "1.0" on completed). Keys are written in sorted order, as Jason encodes the Elixir maps.
Deliberate differences: object.definition.name carries the real page/activity title (Torus writes "Page", "Page
Attempt", ...) so dashboards can show titles, and `success` on attempts reflects the score (Torus always sends true).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

OLI = "http://oli.cmu.edu/extensions/"
VIDEO = "https://w3id.org/xapi/video/"
VIDEO_EXT = VIDEO + "extensions/"
VIDEO_VERB = VIDEO + "verbs/"
VIDEO_TYPE = VIDEO + "activity-type/video"
COMPLETED_VERB = "http://adlnet.gov/expapi/verbs/completed"
VIEWED_VERB = "http://id.tincanapi.com/verb/viewed"
CREATE_VERB = "http://activitystrea.ms/schema/1.0/create"
EXPERIMENT_VERB = OLI + "verbs/experiment_condition_assigned"
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/question"
ACTIVITY_ATTEMPT_TYPE = OLI + "activity_attempt"
PAGE_ATTEMPT_TYPE = OLI + "page_attempt"
PAGE_TYPE = OLI + "types/page"
TUTOR_ACTIVITY_MESSAGE_TYPE = OLI + "tutor_activity_message"
TUTOR_MESSAGE_TYPE = OLI + "tutor_message"
CONDITION_ASSIGNMENT_TYPE = OLI + "types/condition_assignment"

# Bundle categories (torus-implementation.md §4).
VIDEO_CATEGORY = "video"
ATTEMPT_CATEGORY = "attempt_evaluated"
PAGE_VIEWED_CATEGORY = "page_viewed"
TUTOR_CATEGORY = "tutor_activity_message"
EXPERIMENT_CATEGORY = "experiment_condition_assigned"
CATEGORIES = (VIDEO_CATEGORY, ATTEMPT_CATEGORY, PAGE_VIEWED_CATEGORY, TUTOR_CATEGORY, EXPERIMENT_CATEGORY)

K_ACTIVITY_GUID = OLI + "activity_attempt_guid"
K_ACTIVITY_NUMBER = OLI + "activity_attempt_number"
K_ACTIVITY_ID = OLI + "activity_id"
K_ACTIVITY_REVISION = OLI + "activity_revision_id"
K_OBJECTIVES = OLI + "attached_objectives"
K_CONTENT_ELEMENT = OLI + "content_element_id"
K_ENROLLMENT = OLI + "enrollment_id"
K_ATTRIBUTIONS = OLI + "experiment_attributions"
K_FEEDBACK = OLI + "feedback"
K_HINTS = OLI + "hints_requested"
K_PAGE_GUID = OLI + "page_attempt_guid"
K_PAGE_NUMBER = OLI + "page_attempt_number"
K_PAGE_ID = OLI + "page_id"
K_PART_GUID = OLI + "part_attempt_guid"
K_PART_NUMBER = OLI + "part_attempt_number"
K_PART_ID = OLI + "part_id"
K_PROJECT = OLI + "project_id"
K_PUBLICATION = OLI + "publication_id"
K_RESOURCE = OLI + "resource_id"
K_SECTION = OLI + "section_id"
K_SESSION = OLI + "session_id"
K_THRESHOLD = VIDEO_EXT + "completion-threshold"
K_LENGTH = VIDEO_EXT + "length"
K_PLAYED_SEGMENTS = VIDEO_EXT + "played-segments"
K_PROGRESS = VIDEO_EXT + "progress"
K_TIME = VIDEO_EXT + "time"
K_TIME_FROM = VIDEO_EXT + "time-from"
K_TIME_TO = VIDEO_EXT + "time-to"

_DAY_PREFIX: dict[int, str] = {}
_CLOCK_TEXT: list[str] = []  # "HH:MM:SS" for each second of a day, built on first use
_MILLIS_TEXT = [f"{m:03d}" for m in range(1000)]


def iso_ms(ms: int) -> str:
    """UTC ISO-8601 with milliseconds and 'Z' for epoch milliseconds (fast: table look-ups, the date cached per day)."""
    day, rest = divmod(ms, 86_400_000)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
        if not _CLOCK_TEXT:
            _CLOCK_TEXT.extend(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400))
    seconds, millis = divmod(rest, 1000)
    return f"{prefix}{_CLOCK_TEXT[seconds]}{_MILLIS_TEXT[millis]}Z"


class Scope:
    """Who and where: the actor and the scope ids every statement of one enrollment carries."""

    __slots__ = ("host", "user_id", "section_id", "project_id", "publication_id", "enrollment_id")

    def __init__(
        self, host: str, user_id: int, section_id: int, project_id: int, publication_id: int, enrollment_id: int
    ):
        self.host = host
        self.user_id = str(user_id)
        self.section_id = section_id
        self.project_id = project_id
        self.publication_id = publication_id
        self.enrollment_id = enrollment_id

    def actor(self) -> dict[str, Any]:
        return {"account": {"homePage": self.host, "name": self.user_id}, "objectType": "Agent"}


def _verb(verb_id: str, display: str) -> dict[str, Any]:
    return {"display": {"en-US": display}, "id": verb_id}


def _score(raw: float, out_of: float) -> dict[str, Any]:
    return {"max": out_of, "min": 0, "raw": raw, "scaled": round(raw / out_of, 4) if out_of else 0.0}


# --- video -----------------------------------------------------------------------------------------------------------


def _video_context(
    s: Scope,
    page_id: int,
    page_guid: str,
    page_number: int,
    element: str,
    length: float | None,
    completed: bool = False,
) -> dict[str, Any]:
    ext: dict[str, Any] = {
        K_CONTENT_ELEMENT: element,
        K_ENROLLMENT: s.enrollment_id,
        K_PAGE_GUID: page_guid,
        K_PAGE_NUMBER: page_number,
    }
    if completed:
        ext[K_PAGE_ID] = page_id
    ext[K_PROJECT] = s.project_id
    ext[K_PUBLICATION] = s.publication_id
    if not completed:
        ext[K_RESOURCE] = page_id
    ext[K_SECTION] = s.section_id
    if completed:
        ext[K_THRESHOLD] = "1.0"
    if length is not None:
        ext[K_LENGTH] = length
    return {"contextActivities": _video_context_activities(), "extensions": ext}


def _video_context_activities() -> dict[str, Any]:
    return {"category": [{"id": "https://w3id.org/xapi/video"}]}


def _video_object(url: str, title: str) -> dict[str, Any]:
    return {"definition": {"name": {"en-US": title}, "type": VIDEO_TYPE}, "id": url, "objectType": "Activity"}


def video_played(
    s: Scope, ts: str, video: Any, page_id: int, page_guid: str, page_number: int, time: float
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": _video_context(s, page_id, page_guid, page_number, video.content_element_id, video.length),
        "object": _video_object(video.url, video.title),
        "registration": f"{s.section_id}-{page_id}-{video.content_element_id}",
        "result": {"extensions": {K_TIME: time}},
        "timestamp": ts,
        "verb": _verb(VIDEO_VERB + "played", "played"),
    }


def video_paused(
    s: Scope,
    ts: str,
    video: Any,
    page_id: int,
    page_guid: str,
    page_number: int,
    time: float,
    progress: float,
    segments: str,
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": _video_context(s, page_id, page_guid, page_number, video.content_element_id, video.length),
        "object": _video_object(video.url, video.title),
        "registration": f"{s.section_id}-{page_id}-{video.content_element_id}",
        "result": {"extensions": {K_PLAYED_SEGMENTS: segments, K_PROGRESS: progress, K_TIME: time}},
        "timestamp": ts,
        "verb": _verb(VIDEO_VERB + "paused", "paused"),
    }


def video_seeked(
    s: Scope, ts: str, video: Any, page_id: int, page_guid: str, page_number: int, time_from: float, time_to: float
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": _video_context(s, page_id, page_guid, page_number, video.content_element_id, None),
        "object": _video_object(video.url, video.title),
        "registration": f"{s.section_id}-{page_id}-{video.content_element_id}",
        "result": {"extensions": {K_TIME_FROM: time_from, K_TIME_TO: time_to}},
        "timestamp": ts,
        "verb": _verb(VIDEO_VERB + "seeked", "seeked"),
    }


def video_completed(
    s: Scope,
    ts: str,
    video: Any,
    page_id: int,
    page_guid: str,
    page_number: int,
    time: float,
    progress: float,
    segments: str,
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": _video_context(s, page_id, page_guid, page_number, video.content_element_id, video.length, True),
        "object": _video_object(video.url, video.title),
        "result": {"extensions": {K_PLAYED_SEGMENTS: segments, K_PROGRESS: progress, K_TIME: time}},
        "timestamp": ts,
        "verb": _verb(VIDEO_VERB + "completed", "completed"),
    }


# --- pages -----------------------------------------------------------------------------------------------------------


def page_viewed(s: Scope, ts: str, page: Any, page_guid: str, page_number: int) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ENROLLMENT: s.enrollment_id,
                K_PAGE_GUID: page_guid,
                K_PAGE_NUMBER: page_number,
                K_PAGE_ID: page.page_id,
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
            }
        },
        "object": {
            "definition": {"name": {"en-US": page.title}, "subType": page.sub_type, "type": PAGE_TYPE},
            "id": f"{s.host}/page/{page.page_id}}}",
            "objectType": "Page",
        },
        "result": {"completion": True, "success": True},
        "timestamp": ts,
        "verb": _verb(VIEWED_VERB, "viewed"),
    }


def page_attempt_evaluated(
    s: Scope, ts: str, page: Any, page_guid: str, page_number: int, score: float, out_of: float, success: bool
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ENROLLMENT: s.enrollment_id,
                K_PAGE_GUID: page_guid,
                K_PAGE_NUMBER: page_number,
                K_PAGE_ID: page.page_id,
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
            }
        },
        "object": {
            "definition": {"name": {"en-US": page.title}, "type": PAGE_ATTEMPT_TYPE},
            "id": f"{s.host}/page_attempt/{page_guid}}}",
            "objectType": "Activity",
        },
        "result": {"completion": True, "score": _score(score, out_of), "success": success},
        "timestamp": ts,
        "verb": _verb(COMPLETED_VERB, "completed"),
    }


# --- activities ------------------------------------------------------------------------------------------------------


def activity_attempt_evaluated(
    s: Scope,
    ts: str,
    activity: Any,
    page_id: int,
    page_guid: str,
    page_number: int,
    guid: str,
    number: int,
    score: float,
    out_of: float,
    success: bool,
) -> dict[str, Any]:
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ACTIVITY_GUID: guid,
                K_ACTIVITY_NUMBER: number,
                K_ACTIVITY_ID: activity.activity_id,
                K_ACTIVITY_REVISION: activity.revision_id,
                K_ENROLLMENT: s.enrollment_id,
                K_PAGE_GUID: page_guid,
                K_PAGE_NUMBER: page_number,
                K_PAGE_ID: page_id,
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
            }
        },
        "object": {
            "definition": {"name": {"en-US": activity.title}, "type": ACTIVITY_ATTEMPT_TYPE},
            "id": f"{s.host}/activity_attempt/{guid}}}",
            "objectType": "Activity",
        },
        "result": {"completion": True, "score": _score(score, out_of), "success": success},
        "timestamp": ts,
        "verb": _verb(COMPLETED_VERB, "completed"),
    }


def part_attempt_evaluated(
    s: Scope,
    ts: str,
    activity: Any,
    part: Any,
    page_id: int,
    page_guid: str,
    page_number: int,
    activity_guid: str,
    activity_number: int,
    guid: str,
    number: int,
    score: float,
    success: bool,
    response: Any,
    feedback: Any,
    hints: list[str],
    session_id: str,
) -> dict[str, Any]:
    title = activity.title if len(activity.parts) == 1 else f"{activity.title} (part {part.part_id})"
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ACTIVITY_GUID: activity_guid,
                K_ACTIVITY_NUMBER: activity_number,
                K_ACTIVITY_ID: activity.activity_id,
                K_ACTIVITY_REVISION: activity.revision_id,
                K_OBJECTIVES: list(part.objectives),
                K_ENROLLMENT: s.enrollment_id,
                K_HINTS: hints,
                K_PAGE_GUID: page_guid,
                K_PAGE_NUMBER: page_number,
                K_PAGE_ID: page_id,
                K_PART_GUID: guid,
                K_PART_NUMBER: number,
                K_PART_ID: part.part_id,
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
                K_SESSION: session_id,
            }
        },
        "object": {
            "definition": {"name": {"en-US": title}, "type": QUESTION_TYPE},
            "id": f"{s.host}/part_attempt/{guid}}}",
            "objectType": "Activity",
        },
        "result": {
            "completion": True,
            "extensions": {K_FEEDBACK: feedback},
            "response": response,
            "score": _score(score, part.out_of),
            "success": success,
        },
        "timestamp": ts,
        "verb": _verb(COMPLETED_VERB, "completed"),
    }


def tutor_message(
    s: Scope,
    ts: str,
    activity: Any,
    page_id: int,
    page_guid: str,
    page_number: int,
    activity_guid: str,
    activity_number: int,
    message: str,
    *,
    activity_level: bool = True,
) -> dict[str, Any]:
    """TutorActivityMessage (activity_level) or TutorMessage; both go to the tutor_activity_message bundles."""
    kind = "tutor_activity_message" if activity_level else "tutor_message"
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ACTIVITY_GUID: activity_guid,
                K_ACTIVITY_NUMBER: activity_number,
                K_ACTIVITY_ID: activity.activity_id,
                K_ACTIVITY_REVISION: activity.revision_id,
                K_ENROLLMENT: s.enrollment_id,
                K_PAGE_GUID: page_guid,
                K_PAGE_NUMBER: page_number,
                K_PAGE_ID: page_id,
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
            }
        },
        "object": {
            "definition": {
                "name": {"en-US": "Tutor Activity Message" if activity_level else "Tutor Message"},
                "type": TUTOR_ACTIVITY_MESSAGE_TYPE if activity_level else TUTOR_MESSAGE_TYPE,
            },
            # TutorActivityMessage has the stray '}' too; TutorMessage does not (as in Torus).
            "id": f"{s.host}/{kind}/{activity_guid}" + ("}" if activity_level else ""),
            "objectType": "Tutor",
        },
        "result": {"message": message},
        "timestamp": ts,
        "verb": _verb(CREATE_VERB, "created"),
    }


def experiment_condition_assigned(
    s: Scope, ts: str, experiment: Any, condition_id: int, condition_code: str, assignment_id: int
) -> dict[str, Any]:
    key = f"assignment:{assignment_id}"
    attribution = {
        "algorithm": "weighted_random",
        "alternatives_resource_id": experiment.alternatives_resource_id,
        "assigned_at": ts,
        "assigned_by_policy": "weighted_random",
        "assignment_id": assignment_id,
        "assignment_key": key,
        "assignment_scope": "intervention",
        "attribution_type": "assignment",
        "condition_code": condition_code,
        "condition_id": condition_id,
        "enrollment_id": s.enrollment_id,
        "experiment_id": experiment.experiment_id,
        "experiment_uuid": experiment.uuid,
        "key": key,
        "policy_version": 1,
        "project_id": s.project_id,
        "publication_id": s.publication_id,
        "reused": False,
        "role": "assignment",
        "section_id": s.section_id,
    }
    return {
        "actor": s.actor(),
        "context": {
            "extensions": {
                K_ENROLLMENT: s.enrollment_id,
                K_ATTRIBUTIONS: [attribution],
                K_PROJECT: s.project_id,
                K_PUBLICATION: s.publication_id,
                K_SECTION: s.section_id,
            }
        },
        "object": {
            "definition": {"name": {"en-US": "Experiment condition assignment"}, "type": CONDITION_ASSIGNMENT_TYPE},
            "id": f"{s.host}/experiments/{experiment.uuid}/assignments/{assignment_id}",
            "objectType": "Activity",
        },
        "timestamp": ts,
        "verb": _verb(EXPERIMENT_VERB, "experiment condition assigned"),
    }
