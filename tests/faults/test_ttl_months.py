"""XOLAP_RAW_EVENTS_TTL_MONTHS never deletes events younger than it says: raw_events' TTL was
`toDateTime(timestamp) + INTERVAL N MONTH`, a DateTime that wraps past 2106-02-07, so 1000 months (83 years, "keep
about forever") expired an event of 2025 at once (the sum read as 1972) and 12 months expired the events stamped in
the last year before 2106. Measured by the merge that applies the TTL, on raw_events as the migration creates it."""

from __future__ import annotations

import itertools

import pytest

from xolap.clickhouse.migrations import RenderContext, load_migrations, split_statements
from xolap.config import ConfigError, load_settings
from xolap.serve import _repair_raw_events_ttl

STAMPS = {  # event timestamp -> kept under a TTL of this many months (today is late 2026)
    "1970-01-01 00:00:00": lambda months: months >= 960,
    "2020-01-01 00:00:00": lambda months: months >= 120,
    "2025-06-01 00:00:00": lambda months: months >= 24,
    "2099-01-01 00:00:00": lambda months: True,
    "2106-01-01 00:00:00": lambda months: True,
    "2250-01-01 00:00:00": lambda months: True,  # past DateTime's range: kept, never wrapped into the past
}
_names = itertools.count()


def raw_events_with_ttl(client, months: int) -> str:
    """A database holding raw_events as migration 0001 creates it under this TTL."""
    database = f"ttl_{months}_{next(_names)}"
    client.command(f"CREATE DATABASE `{database}`")
    first = next(m for m in load_migrations() if m.version == 1)
    for statement in split_statements(RenderContext(database, ttl_months=months).render(first.up)):
        client.command(statement)
    return database


@pytest.mark.parametrize("months", [1, 12, 24, 120, 960, 1000, 1200])
def test_a_ttl_keeps_every_event_younger_than_it(ch_db, months):
    client, _settings = ch_db
    database = raw_events_with_ttl(client, months)
    try:
        values = ", ".join(f"('{stamp}', '{n:064}')" for n, stamp in enumerate(STAMPS))
        client.command(f"INSERT INTO `{database}`.raw_events (timestamp, event_hash) VALUES {values}")
        client.command(f"OPTIMIZE TABLE `{database}`.raw_events FINAL")  # the merge applies the TTL
        kept = {
            str(row[0])[:19]
            for row in client.query(f"SELECT toString(timestamp) FROM `{database}`.raw_events").result_rows
        }
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}` SYNC")
    assert kept == {stamp for stamp, keep in STAMPS.items() if keep(months)}


def test_a_ttl_longer_than_a_century_is_a_startup_error(monkeypatch):
    monkeypatch.setenv("XOLAP_RAW_EVENTS_TTL_MONTHS", "1201")
    with pytest.raises(ConfigError, match="XOLAP_RAW_EVENTS_TTL_MONTHS:"):
        load_settings()
    monkeypatch.setenv("XOLAP_RAW_EVENTS_TTL_MONTHS", "1200")
    assert load_settings().raw_events_ttl_months == 1200


def test_xolap_serve_caps_a_ttl_created_before_and_keeps_young_events(runtime):
    """A raw_events created with the former TTL (1000 months) gets the capped one at start-up (serve's hook), so
    the events stored afterwards are kept."""
    from xolap import serve

    client, database = runtime.clickhouse(), runtime.settings.clickhouse_database
    client.command(f"ALTER TABLE `{database}`.raw_events MODIFY TTL toDateTime(timestamp) + INTERVAL 1000 MONTH")
    assert _repair_raw_events_ttl in serve.STARTUP_HOOKS
    _repair_raw_events_ttl(runtime)
    _repair_raw_events_ttl(runtime)  # once capped, nothing more to do
    # events stored from now on (those stored before under the former TTL may already be gone: merges expire them)
    values = ", ".join(f"('{stamp}', '{n:064}')" for n, stamp in enumerate(STAMPS))
    client.command(f"INSERT INTO `{database}`.raw_events (timestamp, event_hash) VALUES {values}")
    engine = client.query(
        "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = 'raw_events'",
        parameters={"d": database},
    ).result_rows[0][0]
    assert "least(toDateTime64(timestamp, 0) + toIntervalMonth(1000)" in engine
    client.command(f"OPTIMIZE TABLE `{database}`.raw_events FINAL")
    kept = {
        str(row[0])[:19] for row in client.query(f"SELECT toString(timestamp) FROM `{database}`.raw_events").result_rows
    }
    assert kept == {stamp for stamp, keep in STAMPS.items() if keep(1000)}
