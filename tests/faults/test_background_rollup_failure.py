"""A rollup build that fails on the rollup worker (an ahead-of-time check, or a rebuild after a write) is one fault
and says so once: one warning line naming the scope and the ClickHouse error code, never the error's text (it may
quote a learner's id), and health's `rollups` component degraded naming the scope. Before, the worker logged its own
second line for the same failure ('background rollup rebuild failed: …') after the build's own."""

from __future__ import annotations

import logging

import pytest
from test_interrupted_rollup_build import GENERATE, SECTION

from xolap.analytics import rollups
from xolap.analytics.health import component_health
from xolap.analytics.rollup_maintenance import RollupMaintenance
from xolap.clickhouse import data_version


def refuse_slice_inserts(client, db: str) -> None:
    client.command(f"ALTER TABLE `{db}`.rollup_events_slice ADD CONSTRAINT fail_build CHECK events > 1000000")


@pytest.mark.parametrize("path", ["ahead-of-time check", "rebuild after a write"])
def test_a_failed_background_build_is_logged_once_and_shown_in_health(runtime, path, caplog):
    client, settings = runtime.clickhouse(), runtime.settings
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db, section=SECTION, count=3000))
    rollups.forget_complete_builds()
    worker = RollupMaintenance(settings, lambda: client)
    if path == "ahead-of-time check":
        refuse_slice_inserts(client, db)
        worker.expect([("section", SECTION)])
        run = worker.check_expected
    else:  # read once (built), then a write makes its slice stale and the rebuild fails
        rollups.current_builds(client, db, "section", SECTION, reading=True)
        client.command(GENERATE.format(db=db, section=SECTION, count=500).replace("'s-'", "'t-'"))
        data_version.rows_written(db)  # as every insert path does after writing
        refuse_slice_inserts(client, db)
        worker.heard(db, [SECTION], None)
        run = worker.rebuild_pending
    with caplog.at_level(logging.WARNING):
        assert run() == 1
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("xolap")]
    assert len(said) == 1, said
    assert f"section {SECTION}" in said[0] and "code" in said[0].lower(), said
    assert "learner" not in said[0] and "example.org" not in said[0]
    rollups_component = component_health(runtime)["components"]["rollups"]
    assert rollups_component["ok"] is False and f"section {SECTION}" in rollups_component["last_error"]
    client.command(f"ALTER TABLE `{db}`.rollup_events_slice DROP CONSTRAINT fail_build")
