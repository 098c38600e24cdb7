"""A rollup build interrupted midway (one of its INSERTs refused by ClickHouse, or the connection lost after some of
its statements ran, as a kill leaves it) records nothing, so no reader uses its rows; the fault is visible (one log
line naming the scope and the ClickHouse error code, never the error's text, which may quote row values; health's
`rollups` component degraded until the scope builds); and the next read builds the slices again, its answer equal
to the raw FINAL read."""

from __future__ import annotations

import logging

import pytest

from support import RecordingClient
from xolap.analytics import rollups
from xolap.analytics.categories import event_summary
from xolap.analytics.categories.registry import _context, event_summary_raw_sql, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.analytics.health import component_health

SECTION = 7
GENERATE = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash)
SELECT {section}, 70, concat('learner-', toString(number % 13), '@example.org'),
    toDateTime64('2026-01-10 00:00:00', 3) + toIntervalSecond((number * 7919) % (75 * 86400)),
    ['page_viewed', 'part_attempt', 'video'][number % 3 + 1], 'v', concat('s-', toString(number))
FROM numbers({count})
"""


class LosesTheConnection(RecordingClient):
    """The real client; the command after the first `keep` ones runs and then raises (the process or connection went
    away after ClickHouse applied it)."""

    def __init__(self, client, keep: int):
        super().__init__(client)
        self.keep = keep

    def command(self, sql, *args, **kwargs):
        result = super().command(sql, *args, **kwargs)
        self.keep -= 1
        if self.keep == -1:  # once: the next statements (the build's clean-up) run
            raise ConnectionResetError("Code: 210. connection reset by peer learner-3@example.org")
        return result


@pytest.fixture()
def events(runtime):
    client, settings = runtime.clickhouse(), runtime.settings
    client.command(GENERATE.format(db=settings.clickhouse_database, section=SECTION, count=3000))
    rollups.forget_complete_builds()
    return runtime, client, settings


def summary(client, settings) -> list[dict]:
    rows = event_summary(client, settings, "section", SECTION)
    return [{k: v for k, v in row.items() if k != "label"} for row in rows]


def raw_summary(client, settings) -> list[dict]:
    ctx = _context(settings, "section", SECTION, None, None)
    result = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, SECTION))
    return [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]


def recorded(client, settings) -> int:
    return int(client.query(f"SELECT count() FROM `{settings.clickhouse_database}`.rollup_slices").result_rows[0][0])


@pytest.mark.parametrize("fault", ["refused mid-build", "connection lost mid-build"])
def test_an_interrupted_build_is_never_read_is_visible_and_the_next_read_builds_it(events, fault, caplog):
    runtime, client, settings = events
    db = settings.clickhouse_database
    builder = client
    if fault == "refused mid-build":  # a real refusal of a whole-slice table's INSERT (after the daily ones)
        client.command(f"ALTER TABLE `{db}`.rollup_events_slice ADD CONSTRAINT fail_build CHECK events > 1000000")
    else:  # the stage, two rollup tables, and the third's INSERT lands but its answer is lost
        builder = LosesTheConnection(client, keep=3)
    with caplog.at_level(logging.WARNING, logger="xolap.analytics.rollups"), pytest.raises(Exception):  # noqa: B017
        rollups.current_builds(builder, db, "section", SECTION)
    if fault == "refused mid-build":
        client.command(f"ALTER TABLE `{db}`.rollup_events_slice DROP CONSTRAINT fail_build")
    assert recorded(client, settings) == 0
    assert rollups.built_builds(client, db, "section", SECTION) is None  # a reader never uses the partial rows
    said = [r.getMessage() for r in caplog.records if r.name == "xolap.analytics.rollups"]
    assert len(said) == 1 and f"section {SECTION}" in said[0], said
    assert "learner" not in said[0] and "example.org" not in said[0] and "Column values" not in said[0]
    health = component_health(runtime)
    assert health["status"] == "degraded" and health["components"]["rollups"]["ok"] is False
    assert f"section {SECTION}" in health["components"]["rollups"]["last_error"]
    assert "learner" not in health["components"]["rollups"]["last_error"]

    builds = rollups.current_builds(client, db, "section", SECTION)  # the next read
    assert recorded(client, settings) == len(builds) == 3
    assert rollups.built_builds(client, db, "section", SECTION) == builds
    assert summary(client, settings) == raw_summary(client, settings)
    assert sum(row["events"] for row in summary(client, settings)) == 3000
    health = component_health(runtime)
    assert health["status"] == "ok" and health["components"]["rollups"]["ok"] is True
