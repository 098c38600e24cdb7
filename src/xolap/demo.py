"""Demo data for `make demo`: loaded inside `xolap serve --demo` when the warehouse is empty."""

from __future__ import annotations

import logging

from xolap.runtime import Runtime

log = logging.getLogger("xolap.demo")


def demo_hook(events: int):
    def load(runtime: Runtime) -> None:
        client = runtime.clickhouse()
        db = runtime.settings.clickhouse_database
        existing = client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0]
        announcements = [f"admin API token: {runtime.settings.data_dir}/admin-token"]
        if existing:
            log.info("demo data already loaded (%s events)", existing)
        else:
            log.info("loading %s demo events", events)
        runtime.announcements = announcements  # type: ignore[attr-defined]

    return load
