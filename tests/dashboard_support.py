"""Test data for the dashboard tests: a few hundred events in two projects and three sections, plus Postgres rows."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

PLAYED = "https://w3id.org/xapi/video/verbs/played"
VIEWED = "http://id.tincanapi.com/verb/viewed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"

# section id -> (project id, learner count)
SECTIONS = {101: (1, 12), 102: (1, 6), 201: (2, 4)}
COLUMNS = ["user_id", "section_id", "project_id", "timestamp", "event_type", "verb_id", "page_id", "completion",
           "activity_id", "scaled_score", "success", "part_attempt_guid", "hints_requested", "video_url",
           "video_progress", "object_name", "event_hash"]
START = datetime(2026, 9, 1, 8, 0, 0)


def make_events(seed: int = 7) -> list[list]:
    """Deterministic events: page views, activity and part attempts, video plays, spread over September 2026."""
    rng = random.Random(seed)
    rows: list[list] = []
    for section_id, (project_id, learners) in SECTIONS.items():
        for learner in range(learners):
            user = f"learner-{section_id}-{learner}"
            for index in range(10):
                ts = START + timedelta(days=rng.randrange(0, 28), minutes=rng.randrange(0, 600))
                kind = ("page_viewed", "activity_attempt", "part_attempt", "video")[index % 4]
                row = dict.fromkeys(COLUMNS)
                row.update(user_id=user, section_id=section_id, project_id=project_id, timestamp=ts, event_type=kind)
                if kind == "page_viewed":
                    row.update(verb_id=VIEWED, page_id=1000 + index % 3, completion=rng.random() < 0.6,
                               object_name=f"Page {index % 3}")
                elif kind == "activity_attempt":
                    row.update(verb_id=COMPLETED, activity_id=5000 + index % 2, scaled_score=round(rng.random(), 2),
                               success=rng.random() < 0.5, object_name=f"Activity {index % 2}")
                elif kind == "part_attempt":
                    row.update(verb_id=COMPLETED, activity_id=5000, part_attempt_guid=f"p-{user}-{index}",
                               scaled_score=round(rng.random(), 2), hints_requested=rng.randrange(0, 3))
                else:
                    row.update(verb_id=PLAYED, video_url=f"https://videos.example/v{index % 2}.mp4",
                               video_progress=round(rng.random(), 2), object_name=f"Video {index % 2}")
                row["event_hash"] = hashlib.sha256(f"{user}-{index}-{section_id}".encode()).hexdigest()
                rows.append([row[column] for column in COLUMNS])
    return rows


def load_events(client, database: str) -> int:
    rows = make_events()
    client.insert(f"`{database}`.raw_events", rows, column_names=COLUMNS)
    return len(rows)


def section_event_count(section_id: int) -> int:
    return SECTIONS[section_id][1] * 10
