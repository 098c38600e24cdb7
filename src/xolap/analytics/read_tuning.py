"""Per-query tuning of a curated chart's read, chosen by the rollup tables its SQL reads (docs/rollups.md).

A chart that reads only rollup tables whose rows per slice are few whatever the scope's size runs on one thread
(max_threads = 1): a small read spent more CPU handing its parts and streams to pool threads than reading them
(LocalThreadPoolJobs, pipeline build), and one thread cannot make it slower. Every other chart keeps
executor.CATEGORY_SETTINGS: reads whose rows grow with learners or content items (learners at risk, course progress,
engagement on the largest scopes) finish sooner on two threads.
"""

from __future__ import annotations

import re
from typing import Any

from xolap.analytics.executor import CATEGORY_SETTINGS

# Rollup tables whose rows per slice are bounded by the calendar and small fixed sets, never by learners or content:
# rollup_hourly (day, hour), rollup_part_attempts (day, hints, score fifth), rollup_events_slice (section, event type).
# Not rollup_events_daily: a project's rows there are sections x days x event types (40k for the largest 5M project).
SMALL_TABLES = frozenset({"rollup_hourly", "rollup_part_attempts", "rollup_events_slice"})
SMALL_READ_SETTINGS: dict[str, Any] = {**CATEGORY_SETTINGS, "max_threads": 1}

_TABLE_RE = re.compile(r"`[^`]+`\.([A-Za-z_][A-Za-z0-9_]*)")


def tables_read(sql: str) -> frozenset[str]:
    """The tables the SQL names as `database`.table (how rollups.rollup_read and the raw reads name them)."""
    return frozenset(_TABLE_RE.findall(sql))


def chart_tuning(sql: str) -> dict[str, Any]:
    """The tuning a curated chart's SQL runs with: SMALL_READ_SETTINGS when every table it names is one of
    SMALL_TABLES, else CATEGORY_SETTINGS (also when it names none: nothing is known about its size)."""
    tables = tables_read(sql)
    return SMALL_READ_SETTINGS if tables and tables <= SMALL_TABLES else CATEGORY_SETTINGS
