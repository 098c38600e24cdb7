"""The start-up repair of raw_events' former TTL keeps the rows stored under it. Measured on chDB 26.9: a part stored
under the former TTL carries the wrapped expiry (1972 for an event of 2025 under 1000 months), and any mutation or
TTL merge that applies a TTL to it drops the part whole by that stored expiry, whatever the table's TTL says then
(MODIFY TTL's own MATERIALIZE TTL: 4,000 rows -> 0). The repair keeps them: TTL merges stopped for the table, the
capped TTL set without materializing, the parts' expiry recomputed only (materialize_ttl_recalculate_only), then
merges again. Rows a merge has not reached yet model what the engine still holds: SYSTEM STOP TTL MERGES before the
insert, as the repair finds a table while its merges have not run."""

from __future__ import annotations

from xolap.analytics.health import component_health
from xolap.clickhouse.migrations import RenderContext, wrapping_ttl
from xolap.serve import _repair_raw_events_ttl

FORMER_TTL = "MODIFY TTL toDateTime(timestamp) + INTERVAL 1000 MONTH"
STAMPS = ["1970-01-01 00:00:00", "2020-01-01 00:00:00", "2025-06-01 00:00:00", "2099-01-01 00:00:00"]
YOUNG = ["2026-11-30 12:00:00"] * 3  # one partition, three parts: a merge would pick them up


def _stored_under_the_former_ttl(client, database: str) -> None:
    client.command(f"ALTER TABLE `{database}`.raw_events {FORMER_TTL}")
    client.command(f"SYSTEM STOP TTL MERGES `{database}`.raw_events")
    for n, stamp in enumerate(STAMPS + YOUNG):
        client.command(f"INSERT INTO `{database}`.raw_events (timestamp, event_hash) VALUES ('{stamp}', '{n:064}')")


def _count(client, database: str) -> int:
    return int(client.query(f"SELECT count() FROM `{database}`.raw_events").result_rows[0][0])


def test_rows_stored_under_the_former_ttl_survive_the_repair_and_merges_after_it(runtime):
    client, database = runtime.clickhouse(), runtime.settings.clickhouse_database
    _stored_under_the_former_ttl(client, database)
    assert _count(client, database) == 7
    _repair_raw_events_ttl(runtime)
    assert wrapping_ttl(client, database) is None
    client.command(f"OPTIMIZE TABLE `{database}`.raw_events FINAL")  # the merge applies the (capped) TTL
    assert _count(client, database) == 7
    engine = client.query(
        "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = 'raw_events'",
        parameters={"d": database},
    ).result_rows[0][0]
    assert "materialize_ttl_recalculate_only" not in engine  # the repair's own setting is not left behind


def test_a_repair_cut_off_after_the_new_ttl_is_found_and_finished_at_the_next_start(runtime):
    """A start killed between setting the capped TTL and recomputing the parts' expiry leaves parts that a TTL merge
    would drop by their stored (wrapped) expiry: found by health and the next start, which keeps the rows."""
    client, database = runtime.clickhouse(), runtime.settings.clickhouse_database
    _stored_under_the_former_ttl(client, database)
    capped = RenderContext(database, ttl_months=1000).ttl()
    client.command(
        f"ALTER TABLE `{database}`.raw_events MODIFY {capped} SETTINGS materialize_ttl_after_modify = 0"
    )  # the repair's first step, then the kill
    assert wrapping_ttl(client, database) == (1000, 7)
    assert "former TTL of 1000 months" in component_health(runtime)["clickhouse"]["error"]
    _repair_raw_events_ttl(runtime)
    assert wrapping_ttl(client, database) is None
    client.command(f"SYSTEM START TTL MERGES `{database}`.raw_events")
    client.command(f"OPTIMIZE TABLE `{database}`.raw_events FINAL")
    assert _count(client, database) == 7
    assert component_health(runtime)["clickhouse"]["ok"] is True
