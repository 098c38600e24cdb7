"""Test data for the dashboard tests: a few hundred events in two projects and three sections, plus Postgres rows."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import uuid
from datetime import datetime, timedelta

import orjson

PLAYED = "https://w3id.org/xapi/video/verbs/played"
VIEWED = "http://id.tincanapi.com/verb/viewed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"

# section id -> (project id, learner count)
SECTIONS = {101: (1, 12), 102: (1, 6), 201: (2, 4)}
COLUMNS = [
    "user_id",
    "section_id",
    "project_id",
    "timestamp",
    "event_type",
    "verb_id",
    "page_id",
    "completion",
    "activity_id",
    "scaled_score",
    "success",
    "part_attempt_guid",
    "hints_requested",
    "video_url",
    "video_progress",
    "object_name",
    "event_hash",
]
START = datetime(2026, 8, 3, 8, 0, 0)


def make_events(seed: int = 7) -> list[list]:
    """Deterministic events: page views, activity and part attempts, video plays, spread over August to October 2026."""
    rng = random.Random(seed)
    rows: list[list] = []
    for section_id, (project_id, learners) in SECTIONS.items():
        for learner in range(learners):
            user = f"learner-{section_id}-{learner}"
            for index in range(10):
                ts = START + timedelta(days=rng.randrange(0, 84), minutes=rng.randrange(0, 600))
                kind = ("page_viewed", "activity_attempt", "part_attempt", "video")[index % 4]
                row = dict.fromkeys(COLUMNS)
                row.update(user_id=user, section_id=section_id, project_id=project_id, timestamp=ts, event_type=kind)
                if kind == "page_viewed":
                    row.update(
                        verb_id=VIEWED,
                        page_id=1000 + index % 3,
                        completion=rng.random() < 0.6,
                        object_name=f"Page {index % 3}",
                    )
                elif kind == "activity_attempt":
                    row.update(
                        verb_id=COMPLETED,
                        activity_id=5000 + index % 2,
                        scaled_score=round(rng.random(), 2),
                        success=rng.random() < 0.5,
                        object_name=f"Activity {index % 2}",
                    )
                elif kind == "part_attempt":
                    row.update(
                        verb_id=COMPLETED,
                        activity_id=5000,
                        part_attempt_guid=f"p-{user}-{index}",
                        scaled_score=round(rng.random(), 2),
                        hints_requested=rng.randrange(0, 3),
                    )
                else:
                    row.update(
                        verb_id=PLAYED,
                        video_url=f"https://videos.example/v{index % 2}.mp4",
                        video_progress=round(rng.random(), 2),
                        object_name=f"Video {index % 2}",
                    )
                row["event_hash"] = hashlib.sha256(f"{user}-{index}-{section_id}".encode()).hexdigest()
                rows.append([row[column] for column in COLUMNS])
    return rows


def load_events(client, database: str) -> int:
    rows = make_events()
    client.insert(f"`{database}`.raw_events", rows, column_names=COLUMNS)
    return len(rows)


def section_event_count(section_id: int) -> int:
    return SECTIONS[section_id][1] * 10


def seed_scopes_and_accounts(runtime) -> dict[str, str]:
    """Projects 1-2, sections 101/102 (project 1) and 201 (project 2), flags on, and API tokens keyed by role:
    admin, inst_a (instructor of 101), inst_b (instructor of 201), author (author of project 1)."""
    from xolap.store import accounts, flags
    from xolap.store.models import Project, Section

    tokens: dict[str, str] = {}
    with runtime.sessions() as session:
        session.add_all(
            [
                Project(id=1, slug="intro-physics", title="Introductory Physics"),
                Project(id=2, slug="chem-basics", title="Chemistry Basics"),
            ]
        )
        session.flush()
        session.add_all(
            [
                Section(id=101, slug="physics-fall", title="Physics · Fall cohort", project_id=1),
                Section(id=102, slug="physics-evening", title="Physics · Evening cohort", project_id=1),
                Section(id=201, slug="chem-fall", title="Chemistry · Fall cohort", project_id=2),
            ]
        )
        session.flush()
        people = {
            "admin": accounts.create_user(session, "admin@example.edu", password="admin-pass-1", is_admin=True),
            "inst_a": accounts.create_user(session, "a@example.edu", password="teacher-pass-a"),
            "inst_b": accounts.create_user(session, "b@example.edu", password="teacher-pass-b"),
            "author": accounts.create_user(session, "author@example.edu", password="author-pass-1"),
        }
        accounts.grant(session, people["inst_a"], section=session.get(Section, 101))
        accounts.grant(session, people["inst_b"], section=session.get(Section, 201))
        accounts.grant(session, people["author"], project=session.get(Project, 1))
        for name in (flags.ANALYTICS, flags.SECTION_DASHBOARD, flags.PROJECT_DASHBOARD):
            flags.set_flag(session, name, True)
        for role, user in people.items():
            tokens[role] = accounts.create_token(session, user, "tests")[1]
        session.commit()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def module_runtime(base_settings, ch_engine, pg_template, label: str):
    """A generator for a module-scoped fixture: one migrated ClickHouse database and one Postgres database (from the
    session template) shared by a test module, with the dashboard events and accounts loaded; yields (runtime, tokens).
    Modules share it to stay fast; tests that change data undo it."""
    import os

    import psycopg

    from xolap.clickhouse.migrations import Migrator, RenderContext
    from xolap.runtime import Runtime
    from xolap.store.db import engine

    name = f"xolap_{label}_{os.getpid()}"
    Migrator(ch_engine, RenderContext(name)).up()
    admin = f"postgresql://postgres:@/postgres?host={pg_template}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE xolap_template")
    settings = base_settings.model_copy(
        update={"clickhouse_database": name, "database_url": f"postgresql://postgres:@/{name}?host={pg_template}"}
    )
    runtime = Runtime(settings)
    load_events(ch_engine, name)
    tokens = seed_scopes_and_accounts(runtime)
    try:
        yield runtime, tokens
    finally:
        engine(settings).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        ch_engine.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


TORUS_EXT = "http://oli.cmu.edu/extensions/"
_statement_numbers = itertools.count(1)


def page_view_statement(actor_prefix: str, section: int = 101, project: int = 1) -> dict:
    """A new Torus page-view statement (its own id, actor and page) in the section and project."""
    n = next(_statement_numbers)
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": f"{actor_prefix}-{n}"}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {
            "id": f"https://torus.example/page/{n}",
            "definition": {"type": TORUS_EXT + "types/page", "name": {"en-US": f"Page {n}"}},
        },
        "context": {
            "extensions": {
                TORUS_EXT + "section_id": section,
                TORUS_EXT + "project_id": project,
                TORUS_EXT + "page_id": 1000,
            }
        },
        "timestamp": f"2026-09-0{1 + n % 8}T10:00:{n % 60:02d}.000Z",
        "id": str(uuid.uuid4()),
    }


def jsonl(*statements: dict) -> bytes:
    """Statements as JSON lines."""
    return b"".join(orjson.dumps(s) + b"\n" for s in statements)


def s3_put_sqs_record(bucket: str, key: str) -> dict:
    """The SQS record (as the ETL Lambda receives it) of S3's notice that `key` was put in `bucket`."""
    notice = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
            }
        ]
    }
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": json.dumps(notice),
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }
