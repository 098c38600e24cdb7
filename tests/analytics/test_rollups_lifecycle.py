"""The rollups' lifecycle (xolap.analytics.rollups, rollup_maintenance, docs/rollups.md): the check memo skips the
freshness check while a scope's data version is unchanged (counted with a thin recording wrapper around the real
client), bounded by its max age; answers stay equal to the raw FINAL read after each step."""

from __future__ import annotations

import threading
import time

import pytest

from support import RecordingClient
from xolap.analytics import result_cache, rollup_maintenance, rollups
from xolap.analytics.categories import event_summary
from xolap.analytics.categories.registry import _context, event_summary_raw_sql, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse import data_version
from xolap.clickhouse.client import thread_client

# Events of sections 1 (project 10) and 2 (project 20) over Jan..Mar 2026 (3 monthly partitions), some twice.
GENERATE = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash)
SELECT {section}, {section} * 10, concat('u', toString(number % 13)),
    toDateTime64('2026-01-10 00:00:00', 3) + toIntervalSecond((number * 7919) % (75 * 86400)),
    ['page_viewed', 'part_attempt', 'video'][number % 3 + 1], 'v', concat('s{section}-', toString(number))
FROM numbers({start}, {count})
"""


class Recording(RecordingClient):
    """The real client recording its SQL; checks() picks the freshness check's and rebuilds' statements."""

    def checks(self) -> list[str]:
        """The statements of the freshness check and of rebuilds (not the chart's own query)."""
        return [sql for sql in self.statements if "system.parts" in sql or "rollup_slices" in sql or "INSERT" in sql]


def write(client, settings, section: int, start: int, count: int, *, bump: bool = True) -> None:
    """Events of one section, then the bump its insert path makes (rows_written names the section and project)."""
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db, section=section, start=start, count=count))
    if bump:
        data_version.bump(db, sections=[section], projects=[section * 10])


@pytest.fixture()
def scopes(ch_db):
    client, settings = ch_db
    client.command(f"SYSTEM STOP MERGES `{settings.clickhouse_database}`.raw_events")
    write(client, settings, 1, 0, 900)
    write(client, settings, 1, 100, 200)  # copies in another part: FINAL counts them once
    write(client, settings, 2, 0, 600)
    yield client, settings
    client.command(f"SYSTEM START MERGES `{settings.clickhouse_database}`.raw_events")


def summary(client, settings, scope="section", scope_id=1) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "label"} for row in event_summary(client, settings, scope, scope_id)]


def raw_summary(client, settings, scope="section", scope_id=1) -> list[dict]:
    ctx = _context(settings, scope, scope_id, None, None)
    result = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, scope_id))
    return [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]


def events(rows: list[dict]) -> int:
    return sum(row["events"] for row in rows)


def test_the_check_is_skipped_while_the_scope_version_is_unchanged(scopes):
    client, settings = scopes
    recording = Recording(client)
    first = summary(recording, settings)
    assert recording.checks(), "the first answer checks (and builds) its slices"
    assert first == raw_summary(client, settings) and events(first) == 900

    recording.statements.clear()
    assert summary(recording, settings) == first
    assert recording.checks() == [] and len(recording.statements) == 1, "one query: the chart's own"

    write(client, settings, 2, 600, 300)  # another scope's insert: new parts (tokens) in section 1's partitions
    client.command(f"SYSTEM START MERGES `{settings.clickhouse_database}`.raw_events")
    client.command(f"OPTIMIZE TABLE `{settings.clickhouse_database}`.raw_events FINAL")  # merges: new parts again
    recording.statements.clear()
    again = summary(recording, settings)
    assert recording.checks() == [] and len(recording.statements) == 1
    assert again == first == raw_summary(client, settings), "builds found before the merge still answer exactly"


def test_a_write_to_the_scope_makes_the_next_answer_check_and_count_it(scopes):
    client, settings = scopes
    recording = Recording(client)
    before = summary(recording, settings)
    write(client, settings, 1, 5000, 40)
    recording.statements.clear()
    after = summary(recording, settings)
    assert any("system.parts" in sql for sql in recording.checks())
    assert events(after) == events(before) + 40 and after == raw_summary(client, settings)
    write(client, settings, 2, 9000, 10, bump=False)
    data_version.rows_written(settings.clickhouse_database)  # a write whose scopes are not known: every scope moves
    recording.statements.clear()
    assert summary(recording, settings) == after and recording.checks()


def test_the_memo_lives_at_most_its_max_age(scopes):
    client, settings = scopes
    db = settings.clickhouse_database
    recording = Recording(client)
    rollups.current_builds(client, db, "section", 1)  # built (a build can take long on a loaded machine)
    checked = time.monotonic()
    builds = rollups.current_builds(recording, db, "section", 1)  # a check alone, remembered from `checked` on
    recording.statements.clear()
    assert rollups.current_builds(recording, db, "section", 1, max_age=1.0) == builds
    if time.monotonic() - checked < 1.0:
        assert recording.statements == []
    time.sleep(max(0.0, checked + 1.05 - time.monotonic()))
    assert rollups.current_builds(recording, db, "section", 1, max_age=1.0) == builds
    assert [sql for sql in recording.statements if "system.parts" in sql], "older than max_age: checked again"
    recording.statements.clear()
    rollups.current_builds(recording, db, "section", 1)  # max_age 0 (the default): always checked
    assert recording.statements


def test_memo_max_age_embedded_and_with_a_clickhouse_server(base_settings):
    assert base_settings.is_embedded_clickhouse
    assert rollups.memo_max_age(base_settings) == min(rollups.MEMO_MAX_AGE_S, base_settings.result_cache_max_age)
    server = base_settings.model_copy(update={"clickhouse_url": "http://127.0.0.1:8123/"})
    assert not server.is_embedded_clickhouse
    assert rollups.memo_max_age(server) == result_cache.SERVER_MODE_MAX_AGE  # other processes write unseen
    assert rollups.memo_max_age(base_settings.model_copy(update={"result_cache_max_age": 0})) == 0
    ttl = base_settings.model_copy(update={"raw_events_ttl_months": 24})  # expiry removes rows without a bump
    assert rollups.memo_max_age(ttl) == result_cache.SERVER_MODE_MAX_AGE


# ---------------------------------------------------------------- pruning


def rows_of(client, db: str, builds) -> int:
    """Rows of these builds in every rollup table and in rollup_slices (before FINAL: deleted means gone)."""
    tables = [*rollups.ROLLUPS, "rollup_slices"]
    return sum(
        client.query(
            f"SELECT count() FROM `{db}`.{table} WHERE has({{b:Array(UInt64)}}, build)", parameters={"b": list(builds)}
        ).result_rows[0][0]
        for table in tables
    )


def test_the_grace_outlasts_every_memo_and_chart_query(base_settings):
    grace = rollup_maintenance.prune_grace_s(base_settings)
    assert grace > rollups.MEMO_MAX_AGE_S + base_settings.query_max_execution_time
    assert rollups.MEMO_MAX_AGE_S >= rollups.SERVER_MODE_MEMO_MAX_AGE_S  # the longest memo of any process


def test_current_builds_are_never_pruned(scopes):
    client, settings = scopes
    db = settings.clickhouse_database
    built = rollups.current_builds(client, db, "section", 1) + rollups.current_builds(client, db, "project", 20)
    report = rollup_maintenance.Pruner().prune(client, db, grace_s=0)
    assert (report.superseded, report.deleted) == (0, 0)
    assert rows_of(client, db, built) > 0
    assert summary(client, settings) == raw_summary(client, settings)


def test_superseded_builds_are_deleted_after_the_grace_only(scopes):
    client, settings = scopes
    db = settings.clickhouse_database
    old = rollups.current_builds(client, db, "section", 1)
    other = rollups.current_builds(client, db, "section", 2)
    assert len(old) == len(other) == 3  # three monthly partitions
    write(client, settings, 1, 7000, 900)  # new parts in every partition: both sections' builds are superseded
    new = rollups.current_builds(client, db, "section", 1, max_age=0)
    assert set(new).isdisjoint(old) and rows_of(client, db, old) > 0
    # an unrecorded build (one still being written, or one a killed builder left) is never touched
    client.command(
        f"INSERT INTO `{db}`.rollup_hourly (scope_kind, scope_id, build, day, hour, events) "
        "VALUES ('section', 1, 42, '2026-01-10', 3, 7)"
    )

    pruner = rollup_maintenance.Pruner()
    assert (pruner.prune(client, db, grace_s=60, now=1000.0).superseded, rows_of(client, db, old)) == (
        6,
        rows_of(client, db, old),
    )
    assert pruner.prune(client, db, grace_s=60, now=1059.0).deleted == 0
    done = pruner.prune(client, db, grace_s=60, now=1060.0, wait=True)
    assert (done.superseded, done.deleted) == (6, 6)
    assert rows_of(client, db, old) == rows_of(client, db, other) == 0
    assert rows_of(client, db, new) > 0 and rows_of(client, db, [42]) == 1
    assert pruner.prune(client, db, grace_s=0).superseded == 0

    assert summary(client, settings) == raw_summary(client, settings) and events(summary(client, settings)) == 1800
    rollups.forget_complete_builds()  # section 2's memo held pruned builds: in real time it expired before the grace
    assert summary(client, settings, "section", 2) == raw_summary(client, settings, "section", 2)


# ---------------------------------------------------------------- background rebuilds


@pytest.fixture()
def maintenance(scopes):
    client, settings = scopes
    worker = rollup_maintenance.RollupMaintenance(settings, lambda: thread_client(settings), debounce_s=0.05)
    stop = threading.Event()
    thread = worker.start(stop)
    yield worker
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_background_rebuild_leaves_the_next_read_with_the_chart_query_alone(scopes, maintenance):
    client, settings = scopes
    before = summary(client, settings)  # a dashboard read: section 1 is a recently read scope
    write(client, settings, 1, 8000, 30)
    assert maintenance.wait_idle(30)
    assert maintenance.rebuilds == 1
    recording = Recording(client)
    after = summary(recording, settings)
    assert recording.checks() == [] and len(recording.statements) == 1, recording.statements
    assert events(after) == events(before) + 30 and after == raw_summary(client, settings)

    write(client, settings, 2, 8000, 30)  # section 2 was never read: nothing to rebuild for it
    assert maintenance.wait_idle(30) and maintenance.rebuilds == 1

    write(client, settings, 1, 9000, 10, bump=False)
    data_version.rows_written(settings.clickhouse_database)  # scopes not known (SQL file path): every read scope
    assert maintenance.wait_idle(30) and maintenance.rebuilds == 2
    recording.statements.clear()
    assert events(summary(recording, settings)) == events(before) + 40 and recording.checks() == []

    read = time.monotonic()
    time.sleep(0.3)
    write(client, settings, 1, 9100, 10)
    assert maintenance.wait_idle(30) and maintenance.rebuilds == 3
    db = settings.clickhouse_database
    assert ("section", 1) not in rollups.recently_read(db, time.monotonic() - read - 0.05), (
        "a background rebuild is no read: it does not keep the scope among the recently read"
    )
    assert ("section", 1) in rollups.recently_read(db, 60)


def test_migrations_that_recreate_the_rollup_tables_leave_no_remembered_build(scopes):
    """A migration down and up (the admin page, `xolap ch migrate`, the API) empties the rollup tables: builds seen
    complete and builds found current before it are not trusted after it."""
    from xolap.clickhouse.migrations import Migrator, RenderContext

    client, settings = scopes
    db = settings.clickhouse_database
    before = summary(client, settings)
    assert events(before) == 900
    migrator = Migrator(client, RenderContext(db))
    rollup_migrations = [m for m in migrator.migrations if m.version >= 8]  # 0008_rollups and every later one
    assert len(migrator.down(steps=len(rollup_migrations))) == len(rollup_migrations)
    assert migrator.up() and not migrator.pending()
    assert summary(client, settings) == before == raw_summary(client, settings)


def test_a_failed_background_rebuild_logs_no_row_values_and_the_reader_builds(scopes, caplog):
    client, settings = scopes
    summary(client, settings)

    class FailingBuilds(Recording):
        """The real client, except that every command (the builds' INSERTs) fails quoting a learner."""

        def command(self, sql, *args, **kwargs):
            raise RuntimeError("Code: 27. DB::Exception: Cannot parse input: 'learner-7@example.org' (CANNOT_PARSE)")

    worker = rollup_maintenance.RollupMaintenance(settings, lambda: FailingBuilds(client), debounce_s=0.01)
    write(client, settings, 1, 9500, 25, bump=False)
    worker.heard(settings.clickhouse_database, [1], [10])
    data_version.bump(settings.clickhouse_database, sections=[1], projects=[10])
    with caplog.at_level("WARNING"):
        assert worker.rebuild_pending() == 1
    assert worker.rebuilds == 0 and "code 27" in caplog.text and "learner-7" not in caplog.text
    assert summary(client, settings) == raw_summary(client, settings) and events(summary(client, settings)) == 925


def test_builds_of_a_dropped_partition_are_pruned(scopes):
    client, settings = scopes
    db = settings.clickhouse_database
    builds = rollups.current_builds(client, db, "section", 1)
    client.command(f"ALTER TABLE `{db}`.raw_events DROP PARTITION '202601'")
    data_version.rows_written(db)
    left = rollups.current_builds(client, db, "section", 1, max_age=0)
    assert len(left) == len(builds) - 1 and set(left) < set(builds)  # the other months keep their builds
    report = rollup_maintenance.Pruner().prune(client, db, grace_s=0, wait=True)
    assert report.deleted >= 1 and rows_of(client, db, set(builds) - set(left)) == 0 and rows_of(client, db, left) > 0
    assert summary(client, settings) == raw_summary(client, settings)
