"""The start-up repair of raw_events' former TTL is visible: `xolap serve` says it is capping the TTL (and how many
rows ClickHouse recomputes) before it waits for the mutation, and health names a TTL still wrapping (the repair
failed or never ran) instead of answering ok while the next merge expires young events. The repair stays before
serving: measured on chDB 26.9, a TTL merge or mutation over a part stored under the former TTL drops the part by its
stored TTL (1972), so nothing may be written, merged or served under the former TTL longer than needed (the repair
itself keeps the rows: test_ttl_repair_keeps_rows)."""

from __future__ import annotations

import logging

from xolap.analytics.health import component_health
from xolap.serve import _repair_raw_events_ttl

FORMER_TTL = "MODIFY TTL toDateTime(timestamp) + INTERVAL 1000 MONTH"


def test_the_start_up_says_it_is_capping_the_ttl_before_it_waits(runtime, caplog):
    client, database = runtime.clickhouse(), runtime.settings.clickhouse_database
    client.command(f"ALTER TABLE `{database}`.raw_events {FORMER_TTL}")
    with caplog.at_level(logging.INFO, logger="xolap.serve"):
        _repair_raw_events_ttl(runtime)
    said = [r.getMessage() for r in caplog.records if r.name == "xolap.serve"]
    assert len(said) == 2 and "capping raw_events' TTL of 1000 months" in said[0] and "(0 rows)" in said[0]
    assert "capped" in said[1]
    for message in said:  # no learner's data in the log, only the table's
        assert "@" not in message


def test_health_names_a_ttl_that_still_wraps_until_it_is_capped(runtime):
    client, database = runtime.clickhouse(), runtime.settings.clickhouse_database
    client.command(f"ALTER TABLE `{database}`.raw_events {FORMER_TTL}")
    health = component_health(runtime)
    assert health["clickhouse"]["ok"] is False
    assert "former TTL of 1000 months" in health["clickhouse"]["error"] and database in health["clickhouse"]["error"]
    _repair_raw_events_ttl(runtime)
    assert component_health(runtime)["clickhouse"]["ok"] is True
