"""Rollups checked ahead of a read (xolap.analytics.rollup_maintenance.expect_reads): a scope a reader is about to open
(the dashboards of a user who just signed in) is checked and built on the maintenance worker's thread at once, so the
first dashboard read finds it current; answers stay equal to the raw FINAL read."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from support import RecordingClient
from xolap.analytics import rollup_maintenance, rollups
from xolap.analytics.categories import event_summary
from xolap.analytics.categories.registry import _context, event_summary_raw_sql, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse.client import thread_client
from xolap.store import accounts, flags
from xolap.store.models import Project, Section
from xolap.web.app import create_app

GENERATE = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash)
SELECT {section}, {project}, concat('u', toString(number % 13)),
    toDateTime64('2026-01-10 00:00:00', 3) + toIntervalSecond((number * 7919) % (75 * 86400)),
    ['page_viewed', 'part_attempt', 'video'][number % 3 + 1], 'v', concat('s{section}-', toString(number))
FROM numbers({count})
"""


def write(client, db: str, section: int, project: int, count: int) -> None:
    client.command(GENERATE.format(db=db, section=section, project=project, count=count))


def slices_built(client, db: str, kind: str, scope_id: int) -> int:
    return client.query(
        f"SELECT count() FROM `{db}`.rollup_slices WHERE scope_kind = {{k:String}} AND scope_id = {{i:UInt64}}",
        parameters={"k": kind, "i": scope_id},
    ).result_rows[0][0]


def summary(client, settings, scope_id: int) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k != "label"} for row in event_summary(client, settings, "section", scope_id)
    ]


def raw_summary(client, settings, scope_id: int) -> list[dict]:
    ctx = _context(settings, "section", scope_id, None, None)
    result = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, scope_id))
    return [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]


class Started:
    """A RollupMaintenance worker running on its thread until stop()."""

    def __init__(self, settings, client_factory, debounce_s: float = 0.05):
        self.worker = rollup_maintenance.RollupMaintenance(settings, client_factory, debounce_s=debounce_s)
        self._stop = threading.Event()
        self._thread = self.worker.start(self._stop)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()


def test_an_expected_scope_is_built_at_once_and_its_first_read_only_queries(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    write(client, db, 1, 10, 900)
    # a long debounce: writes wait for it, an expected read does not
    started = Started(settings, lambda: thread_client(settings), debounce_s=60)
    try:
        assert rollup_maintenance.expect_reads(db, [("section", 1), ("nonsense", 3)]) == 1
        assert started.worker.wait_idle(45), "the expected scope was not checked within the debounce"
        assert started.worker.checked_ahead == 1 and slices_built(client, db, "section", 1) > 0
        recording = RecordingClient(client)
        first = summary(recording, settings, 1)
        assert len(recording.statements) == 1, recording.statements  # the chart query alone: no check, no build
        assert first == raw_summary(client, settings, 1)
    finally:
        started.stop()
    assert rollup_maintenance.expect_reads(db, [("section", 1)]) == 0  # no running worker: nothing is queued


def test_expected_scopes_wait_in_a_bounded_queue_oldest_dropped(ch_db, monkeypatch):
    client, settings = ch_db
    db = settings.clickhouse_database
    write(client, db, 2, 20, 300)
    monkeypatch.setattr(rollup_maintenance, "MAX_EXPECTED", 3)  # the bound itself, made small
    worker = rollup_maintenance.RollupMaintenance(settings, lambda: thread_client(settings))  # not started: no thread
    worker.expect([("section", 2)])
    worker.expect([("section", 1000 + n) for n in range(3)])  # scopes without events
    assert worker.check_expected() == 3
    assert slices_built(client, db, "section", 2) == 0  # the oldest was dropped: its reader checks it itself
    worker.expect([("section", 2), ("section", 2)])
    assert worker.check_expected() == 1 and slices_built(client, db, "section", 2) > 0


def test_a_summary_of_a_scope_not_built_answers_from_the_raw_events_and_the_worker_builds_it(ch_db):
    """A serving process's summary never builds (a build took 1.6-14 s under a cold server's load, the summary's p95):
    it answers from the raw events at once and queues the scope for the worker, which builds it in the background."""
    client, settings = ch_db
    db = settings.clickhouse_database
    write(client, db, 3, 30, 700)
    started = Started(settings, lambda: thread_client(settings), debounce_s=60)
    try:
        recording = RecordingClient(client)
        first = summary(recording, settings, 3)
        assert first == raw_summary(client, settings, 3)
        assert not any(re.match(r"\s*(INSERT|CREATE)", sql, re.I) for sql in recording.statements), recording.statements
        assert "raw_events" in recording.statements[-1], recording.statements
        assert started.worker.wait_idle(45), "the summary's scope was not queued for the worker"
        assert started.worker.checked_ahead == 1 and slices_built(client, db, "section", 3) > 0
        recording = RecordingClient(client)
        assert summary(recording, settings, 3) == first
        assert "rollup_events_" in recording.statements[-1], recording.statements  # built: read from its rollup
    finally:
        started.stop()


def test_reads_of_a_scope_not_built_ask_the_check_once_until_its_build(ch_db):
    """A scope its worker has not built yet answers every read from the raw events; the check that found it not built
    (system.parts, rollup_slices: ~17 ms of ClickHouse CPU) runs for the first read only, not again on every read
    until the worker's build is remembered (rollups._unbuilt); then reads use the rollups."""
    client, settings = ch_db
    db = settings.clickhouse_database
    write(client, db, 4, 40, 500)
    started = Started(settings, lambda: thread_client(settings), debounce_s=60)
    try:
        with rollups._scope_lock(db, "section", 4, True):  # the worker's build of the scope waits for this lock
            first = RecordingClient(client)
            answer = summary(first, settings, 4)
            assert any("system.parts" in sql for sql in first.statements), first.statements
            for _ in range(3):
                again = RecordingClient(client)
                assert summary(again, settings, 4) == answer
                assert len(again.statements) == 1 and "raw_events" in again.statements[0], again.statements
        assert answer == raw_summary(client, settings, 4)
        assert started.worker.wait_idle(45), "the worker did not build the scope"
        built = RecordingClient(client)
        assert summary(built, settings, 4) == answer
        assert len(built.statements) == 1 and "rollup_events_" in built.statements[0], built.statements
    finally:
        started.stop()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture()
def serving(runtime):
    with runtime.sessions() as session:
        session.add(Project(id=5, slug="waves", title="Waves"))
        session.flush()
        session.add(Section(id=51, slug="waves-a", title="A", project_id=5))
        session.add(Section(id=52, slug="waves-b", title="B", project_id=5))
        session.flush()
        teacher = accounts.create_user(session, "teacher@example.org", password="teacher-pass-1")
        accounts.grant(session, teacher, section=session.get(Section, 51))
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.SECTION_DASHBOARD, True)
        session.commit()
    client = runtime.clickhouse()
    write(client, runtime.settings.clickhouse_database, 51, 5, 600)
    write(client, runtime.settings.clickhouse_database, 52, 5, 600)
    started = Started(runtime.settings, runtime.clickhouse)
    yield runtime, started.worker
    started.stop()


def test_a_login_has_its_dashboards_rollups_built_before_they_are_read(serving):
    runtime, worker = serving
    db = runtime.settings.clickhouse_database
    client = runtime.clickhouse()
    browser = TestClient(create_app(runtime))
    token = csrf_of(browser.get("/login").text)
    landed = browser.post(
        "/login",
        data={"email": "teacher@example.org", "password": "teacher-pass-1", "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert landed.status_code == 303 and landed.headers["location"] == "/sections/waves-a/analytics"
    assert worker.wait_idle(45)
    assert worker.checked_ahead == 1
    assert slices_built(client, db, "section", 51) > 0  # the teacher's section, before any dashboard read
    assert slices_built(client, db, "section", 52) == 0 and slices_built(client, db, "project", 5) == 0  # not theirs
    answer = browser.get("/api/v1/sections/waves-a/analytics/summary", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["total_events"] == 600


def test_health_tells_what_the_rollup_worker_has_left_to_build(ch_db):
    """worker_status (shown on the admin /healthz): scopes queued for the running worker and whether it is idle; None
    without a worker (a CLI process). bench/http_load's warm phase waits on it for the builds its warm-up queued."""
    client, settings = ch_db
    db = settings.clickhouse_database
    assert rollup_maintenance.worker_status(db) is None
    started = Started(settings, lambda: thread_client(settings), debounce_s=60)  # a noted write waits 60 s
    try:
        assert started.worker.wait_idle(45)
        assert rollup_maintenance.worker_status(db) == {"queued_scopes": 0, "idle": True}
        started.worker.heard(db, [4, 5], None)
        assert rollup_maintenance.worker_status(db) == {"queued_scopes": 2, "idle": False}
    finally:
        started.stop()
    assert rollup_maintenance.worker_status(db) is None
