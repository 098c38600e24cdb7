"""The rollups' lifecycle (xolap.analytics.rollups, rollup_maintenance, docs/rollups.md): the check memo skips the
freshness check while a scope's data version is unchanged (counted with a thin recording wrapper around the real
client), bounded by its max age; answers stay equal to the raw FINAL read after each step."""

from __future__ import annotations

import time

import pytest

from xolap.analytics import result_cache, rollups
from xolap.analytics.categories import event_summary
from xolap.analytics.categories.registry import _context, event_summary_raw_sql, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse import data_version

# Events of sections 1 (project 10) and 2 (project 20) over Jan..Mar 2026 (3 monthly partitions), some twice.
GENERATE = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash)
SELECT {section}, {section} * 10, concat('u', toString(number % 13)),
    toDateTime64('2026-01-10 00:00:00', 3) + toIntervalSecond((number * 7919) % (75 * 86400)),
    ['page_viewed', 'part_attempt', 'video'][number % 3 + 1], 'v', concat('s{section}-', toString(number))
FROM numbers({start}, {count})
"""


class Recording:
    """The real client, with the SQL of every query and command it ran kept in `statements`."""

    def __init__(self, client):
        self.client = client
        self.statements: list[str] = []

    def query(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.client.query(sql, *args, **kwargs)

    def command(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.client.command(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)

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
    builds = rollups.current_builds(recording, db, "section", 1, max_age=0.4)
    recording.statements.clear()
    assert rollups.current_builds(recording, db, "section", 1, max_age=0.4) == builds
    assert recording.statements == []
    time.sleep(0.45)
    assert rollups.current_builds(recording, db, "section", 1, max_age=0.4) == builds
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
