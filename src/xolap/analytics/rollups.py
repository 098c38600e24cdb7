"""Exact daily rollups of raw_events for the curated dashboards: which slices are current, rebuilding stale ones, and
the rollup read a category's SQL uses (docs/rollups.md).

A slice is one scope (section or project) in one monthly partition of raw_events. Its build id hashes the scope,
the partition and the partition's token: a hash of the names, row counts and modification times of the partition's
active parts (system.parts, no data read). Parts never change in place: an insert, a merge, a lightweight DELETE
(LRS voiding) or a mutation gives new part names, a dropped partition leaves the list, so the token changes with
any change of the partition's rows. A slice is built from the deduplicated read (raw_events FINAL, the same read the
raw categories use) with INSERT … SELECT, never from insert blocks, so a statement inserted twice by two inserts
counts once, exactly as FINAL counts it. A build reads the stale partitions' events once, into a staging table, and
builds every rollup table from it (the whole-slice tables from the daily rows just written: FROM_DAILY).

`current_builds` reads the tokens (one system.parts query; builds this process has seen complete need nothing
more), asks rollup_slices about the others, builds the stale slices (rollup rows first,
the slice's row in rollup_slices last, so a recorded build is always complete) and returns the build ids a reader
may use: exactly the current partitions of the scope, so rollup rows of older builds, of dropped partitions or of a
build still being written are never read. The token is taken before the rows are read: a change in between gives
the next reader a new token and a rebuild, never a stale answer under a current token. Correct across processes and
restarts (the memory kept: builds seen complete, facts that never change unless rollup tables are emptied by hand,
then call forget_complete_builds; and the check memo below, which reuses the builds found current while the scope's
data version is unchanged, within a max age); two builders of one slice write the same rows, which the
ReplacingMergeTree tables (read with FINAL) keep once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from xolap.analytics import build_gate, rollup_failures
from xolap.analytics.categories.sql import PLAYED_VERB, score_fraction, video_completed
from xolap.analytics.executor import clickhouse_error_code
from xolap.analytics.result_cache import SERVER_MODE_MAX_AGE
from xolap.clickhouse import data_version
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.events import READ_SETTINGS, SCOPE_COLUMNS, SCOPE_PARAMETER, Scope, deduplicated_events

BUILDS_PARAMETER = "xolap_builds"
log = logging.getLogger(__name__)

# Each rollup table: its columns and the SELECT list computing them per slice from the scope's deduplicated events.
# score_fifth is the score's fifth (0..4; a score of exactly 1 falls in 4), NULL without a score.
_SCORED = "event_type = 'activity_attempt' AND scaled_score IS NOT NULL"
# Distinct learners as two exact states (migration 0015): ids that are plain decimal numbers below 2^32 (Torus' user
# ids) in a roaring bitmap (~2 bytes a learner, merged container by container), every other id as its cityHash64 in a
# uniqExact set (8+ bytes a learner, deserialized and inserted again on every merge). No learner is in both, so the
# distinct count is the sum of the two merges (merged_learners).
_INTEGER_ID = "ifNull(toString(toUInt32OrNull(user_id)) = user_id, false)"


def _learner_states(name: str, condition: str | None = None) -> str:
    """`<name>_ids` and `<name>_hashes`: the learners of the rows (matching `condition`), NULL ids left out."""
    only = f" AND ifNull({condition}, false)" if condition else ""
    return (
        f"groupBitmapStateIf(assumeNotNull(toUInt32OrNull(user_id)), {_INTEGER_ID}{only}) AS {name}_ids, "
        f"uniqExactStateIf(cityHash64(assumeNotNull(user_id)), user_id IS NOT NULL AND NOT {_INTEGER_ID}{only}) "
        f"AS {name}_hashes"
    )


def summed_days(days: str, counts: str) -> str:
    """The sum of `counts` per day as a Map(Date32, UInt64) (page engagement's `day_views`), from arrays of days and
    counts: ClickHouse's -Map combinator (`sumMap(map(...))`) takes no Date32 key, the array form of sumMap does."""
    return f"CAST(sumMap({days}, {counts}), 'Map(Date32, UInt64)')"


ROLLUPS: dict[str, dict[str, Any]] = {
    "rollup_events_daily": {
        "keys": "section_id, toDate32(timestamp) AS day, event_type",
        "values": f"count() AS events, {_learner_states('learner')}, "
        f"min(timestamp) AS first_event, max(timestamp) AS last_event, count(scaled_score) AS scored, "
        f"ifNull(sum({score_fraction()}), 0) AS score_sum, countIf(completion) AS completed",
        "where": "",
    },
    "rollup_hourly": {
        "keys": "toDate32(timestamp) AS day, toHour(timestamp) AS hour",
        "values": "count() AS events",
        "where": "",
    },
    "rollup_part_attempts": {
        "keys": "toDate32(timestamp) AS day, ifNull(hints_requested, 0) AS hints, "
        "if(scaled_score IS NULL, NULL, toUInt8(least(greatest(floor(assumeNotNull(scaled_score) * 5), 0), 4))) "
        "AS score_fifth",
        "values": f"count() AS attempts, countIf(success) AS successes, count(scaled_score) AS scored, "
        f"ifNull(sum({score_fraction()}), 0) AS score_sum",
        "where": " AND event_type = 'part_attempt'",
    },
    "rollup_content_daily": {
        "keys": "multiIf(event_type = 'video', 'video', event_type = 'page_viewed', 'page', 'activity') AS kind, "
        "multiIf(kind = 'video', assumeNotNull(video_url), kind = 'page', toString(assumeNotNull(page_id)), "
        "toString(assumeNotNull(activity_id))) AS content_id, "
        "project_id, toDate32(timestamp) AS day",
        "values": f"count() AS events, countIf(verb_id = '{PLAYED_VERB}') AS plays, "
        f"{_learner_states('learner')}, {_learner_states('completer', video_completed())}, "
        f"count(video_progress) AS progress_n, ifNull(sum(video_progress), 0) AS progress_sum, "
        f"countIf(success) AS successes, count(scaled_score) AS scored, ifNull(sum({score_fraction()}), 0) AS score_sum, "
        "countIf(completion) AS completed",
        "where": " AND ((event_type = 'video' AND video_url IS NOT NULL) "
        "OR (event_type = 'activity_attempt' AND activity_id IS NOT NULL) "
        "OR (event_type = 'page_viewed' AND page_id IS NOT NULL))",
    },
    # Per learner and day (whole = 0) and per learner over the whole slice (whole = 1, day at its default), from one
    # read (migration 0014): learners at risk without dates reads the totals and the last 14 days' rows only.
    "rollup_learners": {
        "keys": "user_id, toDate32(timestamp) AS day",
        "whole_slice_without": "day",
        "values": f"count() AS events, countIf({_SCORED}) AS scored, "
        f"sumIf({score_fraction('assumeNotNull(scaled_score)')}, {_SCORED}) AS score_sum, "
        "max(toDate32(timestamp)) AS last_day",
        "where": " AND user_id IS NOT NULL",
    },
}

# Whole-slice totals: the daily tables' facts without the day (one uniqExact state per month, for charts without dates).
ROLLUPS["rollup_events_slice"] = {
    "keys": "section_id, event_type",
    "values": f"count() AS events, {_learner_states('learner')}, min(timestamp) AS first_event, "
    "max(timestamp) AS last_event",
    "where": "",
}
ROLLUPS["rollup_content_slice"] = {
    **ROLLUPS["rollup_content_daily"],
    "keys": ROLLUPS["rollup_content_daily"]["keys"].replace(", toDate32(timestamp) AS day", ""),
    # events per day (migration 0013): page engagement's heatmap without dates reads the slice rows only
    "values": ROLLUPS["rollup_content_daily"]["values"]
    + f", {summed_days('[toDate32(timestamp)]', '[toUInt64(1)]')} AS day_views",
}
# Course progress: the distinct pages each learner viewed, per day and per whole slice (migration 0012).
ROLLUPS["rollup_learner_pages"] = {
    "keys": "user_id, toDate32(timestamp) AS day",
    "values": "uniqExactState(assumeNotNull(page_id)) AS pages",
    "where": " AND event_type = 'page_viewed' AND user_id IS NOT NULL AND page_id IS NOT NULL",
}
ROLLUPS["rollup_learner_pages_slice"] = {**ROLLUPS["rollup_learner_pages"], "keys": "user_id"}

SLICE_TOTALS = {
    "rollup_events_daily": "rollup_events_slice",
    "rollup_content_daily": "rollup_content_slice",
    "rollup_learner_pages": "rollup_learner_pages_slice",
}


def daily_or_totals(daily_table: str, ctx: Any) -> str:
    """The daily table when the chart has dates (`ctx.start` or `ctx.end`), else its whole-slice totals (same
    columns without `day`)."""
    return daily_table if ctx.start is not None or ctx.end is not None else SLICE_TOTALS[daily_table]


def merged_learners(alias: str, name: str = "learner") -> str:
    """The exact distinct learners over a content rollup's rows (`alias`): both states of `name` (`_ids`, a bitmap of
    integer ids, and `_hashes`, the other ids' hashes; no learner in both) merged and added."""
    return f"(groupBitmapMerge({alias}.{name}_ids) + uniqExactMerge({alias}.{name}_hashes))"


_build_locks: dict[tuple[str, str, int], threading.Lock] = {}
_locks_guard = threading.Lock()
# Builds this process has seen complete, per database and its schema version (a migration may drop or empty rollup
# tables): a build id names fixed content (scope, partition, part set), so a complete build stays complete and the
# check needs only system.parts for it. Bounded; cleared when full.
_complete: set[tuple[str, int, int]] = set()
_COMPLETE_MAX = 200_000


def _lock(database: str, scope: str, scope_id: int) -> threading.Lock:
    with _locks_guard:
        return _build_locks.setdefault((database, scope, scope_id), threading.Lock())


@contextmanager
def _scope_lock(database: str, scope: str, scope_id: int, wait: bool) -> Iterator[bool]:
    """The scope's build lock held for the block (yields True); wait=False: only if it is free now, else yields False."""
    lock = _lock(database, scope, scope_id)
    if not lock.acquire(blocking=wait):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def rollup_read(database: str, scope: Scope, table: str, alias: str = "r") -> str:
    """The text after FROM for the scope's rows of one rollup table, current builds only: the table as `alias` (FINAL)
    and a WHERE; the caller appends ` AND …`. The table is read directly, not as a `SELECT *` subquery: each
    subquery level costs the analyzer ~0.4-1 ms of a small scope's answer (measured with EXPLAIN)."""
    if table not in ROLLUPS:
        raise ValueError(f"unknown rollup table {table!r}")
    if not alias.isidentifier():
        raise ValueError(f"bad alias {alias!r}")
    SCOPE_COLUMNS[scope]  # an unknown scope raises KeyError before any SQL is built
    return (
        f"`{database}`.{table} AS {alias} FINAL WHERE {alias}.scope_kind = '{scope}' "
        f"AND {alias}.scope_id = {{{SCOPE_PARAMETER}:UInt64}} AND has({{{BUILDS_PARAMETER}:Array(UInt64)}}, {alias}.build)"
    )


def definition_id() -> int:
    """A 64-bit hash of the rollup definitions (ROLLUPS): part of every build id, so changing what a rollup holds (a
    new table, column or filter) makes every slice stale instead of reading builds made under the old definitions."""
    text = json.dumps(ROLLUPS, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def current_slices_sql() -> str:
    """Per partition of raw_events: the scope's build id for the partition's current part set (metadata only)."""
    return """SELECT partition_id,
    cityHash64({definition:UInt64}, {kind:String}, {scope_id:UInt64}, partition_id,
               sum(cityHash64(name, rows, modification_time)), count())
FROM system.parts
WHERE database = {database:String} AND table = 'raw_events' AND active
GROUP BY partition_id
ORDER BY partition_id"""


def recorded_builds_sql(database: str) -> str:
    """Which of the given builds rollup_slices records as complete."""
    return (
        f"SELECT build FROM `{database}`.rollup_slices WHERE scope_kind = {{kind:String}} "
        "AND scope_id = {scope_id:UInt64} AND has({builds:Array(UInt64)}, build)"
    )


# The raw_events columns the rollup definitions (ROLLUPS) read: a build reads the scope's deduplicated events once,
# these columns only, into a staging table, and builds every rollup table from it.
STAGED_COLUMNS = (
    "section_id",
    "project_id",
    "user_id",
    "timestamp",
    "event_type",
    "verb_id",
    "page_id",
    "activity_id",
    "video_url",
    "video_progress",
    "scaled_score",
    "success",
    "completion",
    "hints_requested",
)
# The most memory the staging of one build may take (its rows stay in memory until the build ends: ~120 bytes an
# event, 51 MB for the largest 5M section's 416k events), and never more than the configured query_max_memory_usage
# (stage_memory_limit); a larger build reads the events once per rollup table instead.
STAGE_MAX_MEMORY = 1 << 30
STAGE_PREFIX = "rollup_stage_"


def stage_memory_limit(settings: Any) -> int:
    """The staging memory limit of builds run for these settings: STAGE_MAX_MEMORY, at most query_max_memory_usage;
    0 (no staging: every table read from raw_events) on a cluster, where a Memory table lives on the one node that
    created it and the build's next statements may reach another node."""
    if getattr(settings, "clickhouse_cluster", None):
        return 0
    return max(1, min(STAGE_MAX_MEMORY, int(settings.query_max_memory_usage)))


def events_select_sql(database: str, scope: Scope) -> str:
    """The scope's deduplicated events in its stale partitions ({partitions}), each with its slice's build id
    ({builds}): the one read of raw_events a build makes (the STAGED_COLUMNS only)."""
    column = SCOPE_COLUMNS[scope]
    return f"""SELECT CAST(transform(_partition_id, {{partitions:Array(String)}}, {{builds:Array(UInt64)}}, toUInt64(0))
        AS UInt64) AS build, {", ".join(STAGED_COLUMNS)}
FROM {deduplicated_events(database)}
WHERE {column} = {{scope_id:UInt64}} AND _partition_id IN {{partitions:Array(String)}}"""


def stage_sql(database: str, scope: Scope, stage: str, memory_limit: int = STAGE_MAX_MEMORY) -> str:
    """CREATE TABLE `stage` (Memory) holding events_select_sql's rows, within memory_limit bytes."""
    if not stage.startswith(STAGE_PREFIX) or not stage.isidentifier():
        raise ValueError(f"bad staging table name {stage!r}")
    return f"""CREATE TABLE `{database}`.{stage} ENGINE = Memory AS
{events_select_sql(database, scope)}
{build_settings(one_part=False, max_memory_usage=int(memory_limit))}"""


def build_sql(database: str, table: str, source: str) -> str:
    """INSERT … SELECT of one rollup table from `source`: a table expression of events with their build id
    (events_select_sql's columns: the staging table, or that SELECT as a subquery)."""
    spec = ROLLUPS[table]
    key_names = [part.rsplit(" AS ", 1)[-1].strip() for part in _split(spec["keys"])]
    keys = ", ".join(key_names)
    values = ", ".join(part.rsplit(" AS ", 1)[-1].strip() for part in _split(spec["values"]))
    group_by = f"build, {keys}"
    whole, whole_value = "", ""
    without = spec.get("whole_slice_without")
    if without is not None:
        # Rows per keys (whole = 0) and per keys but `without` over the whole slice (whole = 1, `without` left at its
        # type's default): GROUPING SETS, one read of the slice's events for both (as cheap as the daily rows alone
        # plus the whole-slice rows aggregated from them, measured at 5M and 50M events once the read is staged).
        whole, whole_value = "whole, ", f"toUInt8(grouping({without})) AS whole, "
        rest = ", ".join(name for name in key_names if name != without)
        group_by = f"GROUPING SETS ((build, {keys}), (build, {rest}))"
    return f"""INSERT INTO `{database}`.{table} (scope_kind, scope_id, build, {whole}{keys}, {values})
SELECT {{kind:String}}, {{scope_id:UInt64}}, build, {whole_value}{spec["keys"]}, {spec["values"]}
FROM {source}
WHERE true{spec["where"]}
GROUP BY {group_by}
{build_settings()}"""


@dataclass(frozen=True)
class FromDaily:
    """Whole-slice rows of a rollup table aggregated from the daily rows of the same builds (`source`, read FINAL):
    `keys` and `values` name the source's columns as `d.<column>` (an alias never shadows a column)."""

    source: str
    keys: str
    values: str


def _merged_states(name: str) -> str:
    """Both learner states of `name` merged over the daily rows into the whole slice's states."""
    return f"groupBitmapMergeState(d.{name}_ids) AS {name}_ids, uniqExactMergeState(d.{name}_hashes) AS {name}_hashes"


# Whole-slice rows built from the daily rows a build has just written, instead of from another read and aggregation of
# every event: a few rows per day and key to aggregate. Sums, min/max and merged states of the daily rows are the
# whole slice's (the same rows: each daily table has its slice table's filter); the float sums (score_sum,
# progress_sum) add the same values in another order. tests/analytics/test_rollup_builds.py compares every row with
# the direct read (build_sql's definitions).
FROM_DAILY: dict[str, FromDaily] = {
    "rollup_events_slice": FromDaily(
        "rollup_events_daily",
        "section_id, event_type",
        f"sum(d.events) AS events, {_merged_states('learner')}, min(d.first_event) AS first_event, "
        "max(d.last_event) AS last_event",
    ),
    "rollup_content_slice": FromDaily(
        "rollup_content_daily",
        "kind, content_id, project_id",
        f"sum(d.events) AS events, sum(d.plays) AS plays, {_merged_states('learner')}, {_merged_states('completer')}, "
        "sum(d.progress_n) AS progress_n, sum(d.progress_sum) AS progress_sum, sum(d.successes) AS successes, "
        "sum(d.scored) AS scored, sum(d.score_sum) AS score_sum, sum(d.completed) AS completed, "
        f"{summed_days('[d.day]', '[d.events]')} AS day_views",
    ),
    "rollup_learner_pages_slice": FromDaily("rollup_learner_pages", "user_id", "uniqExactMergeState(d.pages) AS pages"),
}


def from_daily_sql(database: str, table: str) -> str:
    """INSERT … SELECT of a table's whole-slice rows from its daily rows of the builds being built ({builds})."""
    spec = FROM_DAILY[table]
    keys = [key.strip() for key in spec.keys.split(",")]
    values = [part.rsplit(" AS ", 1)[-1].strip() for part in _split(spec.values)]
    columns = ", ".join(keys + values)
    source_keys = ", ".join(f"d.{key}" for key in keys)
    return f"""INSERT INTO `{database}`.{table} (scope_kind, scope_id, build, {columns})
SELECT {{kind:String}}, {{scope_id:UInt64}}, d.build, {source_keys}, {spec.values}
FROM `{database}`.{spec.source} AS d FINAL
WHERE d.scope_kind = {{kind:String}} AND d.scope_id = {{scope_id:UInt64}} AND has({{builds:Array(UInt64)}}, d.build)
GROUP BY d.build, {source_keys}
{build_settings()}"""


def build_statements(database: str, source: str) -> list[str]:
    """The statements of one build after its events are in `source` (build_sql), in order: the rollup tables from the
    events, then the FROM_DAILY tables from the daily rows just written."""
    from_events = [build_sql(database, table, source) for table in ROLLUPS if table not in FROM_DAILY]
    return from_events + [from_daily_sql(database, table) for table in FROM_DAILY if table in ROLLUPS]


# Each build INSERT writes its rows as one part of its table (the tables are not partitioned): one insert stream, and
# the SELECT's blocks squashed into one up to ONE_PART_MAX_BYTES. With ClickHouse's defaults (1,048,449 rows or 256 MiB
# a block) a build of more rows left a part per million rows (measured: 3,000,000 aggregated rows, 3 parts), and a
# server or profile with max_insert_threads > 1 or smaller blocks one per stream or block; every chart read of the
# scope then merges its rows across those parts under FINAL until a background merge (docs/rollups.md "One part per
# build"). Past ONE_PART_MAX_BYTES a build writes more parts rather than hold more in memory (its rows are already in
# memory once, as the aggregation's result).
ONE_PART_MAX_BYTES = 1 << 30
ONE_PART_PER_INSERT = {
    "max_insert_threads": 1,
    "min_insert_block_size_rows": 1 << 40,
    "min_insert_block_size_bytes": ONE_PART_MAX_BYTES,
}


def build_settings(*, one_part: bool = True, **more: int) -> str:
    """The SETTINGS clause of every build statement: READ_SETTINGS (FINAL within partitions), optimize_on_insert = 0
    and ONE_PART_PER_INSERT (one_part=False: the staging table, whose blocks stay as read, so the rollup INSERTs
    read it in parallel). Written into the statement: chDB's client applies per-command settings by SET, a
    system.settings read and SET back, several round trips a statement. optimize_on_insert = 0: an insert into a
    ReplacingMergeTree otherwise sorts and collapses the block's equal keys; a build's rows are unique by the table's
    sorting key (scope, build and the GROUP BY keys, tested), so there is nothing to collapse (~40% of rollup_learners'
    insert CPU at 5M events)."""
    one_part_settings = ONE_PART_PER_INSERT if one_part else {}
    settings: dict[str, Any] = {**READ_SETTINGS, "optimize_on_insert": 0, **one_part_settings, **more}
    parts = []
    for name, value in settings.items():
        if not name.isidentifier():
            raise ValueError(f"bad setting name {name!r}")
        if isinstance(value, bool | int):
            parts.append(f"{name} = {int(value)}")
        else:
            text = str(value).replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{name} = '{text}'")
    return "SETTINGS " + ", ".join(parts)


def _split(select_list: str) -> list[str]:
    """Top-level comma split of a SELECT list (commas inside parentheses stay)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in select_list:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


# The check memo: per (database, scope kind, scope id), the builds last found current and the scope's data version
# then (xolap.clickhouse.data_version: every insert path bumps it after writing). While the version is unchanged the
# scope's rows are unchanged, so those builds still answer exactly, even after a merge or another scope's insert gave
# the partition a new token (their rows stay in the rollup tables until pruned, and pruning waits longer than any memo
# lives: xolap.analytics.rollup_maintenance.prune_grace_s). Bounded in age (memo_max_age): MEMO_MAX_AGE_S with
# embedded ClickHouse, the result cache's SERVER_MODE_MAX_AGE with a ClickHouse server (other processes write without
# bumping this one's versions) or a TTL on raw_events (expiry removes rows without a write).
MEMO_MAX_AGE_S = 300.0
SERVER_MODE_MEMO_MAX_AGE_S = SERVER_MODE_MAX_AGE
_MEMO_ENTRIES = 20_000


@dataclass(frozen=True)
class _Memo:
    version: tuple[int, int]
    builds: tuple[int, ...]
    checked_at: float  # time.monotonic() before the check's system.parts query
    read_at: float  # last time a reader asked for the scope's builds


_memo: OrderedDict[tuple[str, str, int], _Memo] = OrderedDict()
_memo_lock = threading.Lock()
# Scopes a check found not built (some slice without its recorded build): the scope's data version then and the time
# of that check. A reader that will not build (built_builds) answers from the raw events while its scope is not built
# and asked the check's two queries again on every read (system.parts and rollup_slices: ~17 ms of ClickHouse CPU
# each time, 21 % of a cold server's query CPU at 5M events, 50 users); within UNBUILT_MAX_AGE_S (and max_age) and
# while the version is unchanged it asks nothing. Only a build makes a scope built, and every build in this process
# ends in _remember, which drops the scope from here; another process's build (a ClickHouse server) is seen after
# the age. A raw answer is exact whatever this says, so the age bounds only how long a built scope is read raw.
UNBUILT_MAX_AGE_S = 60.0
_unbuilt: OrderedDict[tuple[str, str, int], tuple[tuple[int, int], float]] = OrderedDict()


def memo_max_age(settings: Any) -> float:
    """How long builds found current may be reused while the scope's data version is unchanged (0: never): the short
    server-mode age where rows change without a bump here (other processes writing to a ClickHouse server; TTL
    expiry of raw_events when raw_events_ttl_months is set), else MEMO_MAX_AGE_S; never longer than the result
    cache keeps answers."""
    unseen_writes = not settings.is_embedded_clickhouse or bool(settings.raw_events_ttl_months)
    return min(SERVER_MODE_MEMO_MAX_AGE_S if unseen_writes else MEMO_MAX_AGE_S, float(settings.result_cache_max_age))


def _remembered(key: tuple[str, str, int], version: tuple[int, int], max_age: float) -> list[int] | None:
    now = time.monotonic()
    with _memo_lock:
        memo = _memo.get(key)
        if memo is None or memo.version != version or now - memo.checked_at > max_age:
            return None
        _memo[key] = _Memo(memo.version, memo.builds, memo.checked_at, now)
        _memo.move_to_end(key)
        return list(memo.builds)


def _remember(
    key: tuple[str, str, int], version: tuple[int, int], builds: list[int], checked_at: float, reading: bool
) -> None:
    with _memo_lock:
        kept = _memo.get(key)
        if kept is not None and kept.checked_at > checked_at and kept.version >= version:
            return  # a later check finished first (versions only grow): keep its answer
        read_at = time.monotonic() if reading or kept is None else kept.read_at
        _memo[key] = _Memo(version, tuple(builds), checked_at, read_at)
        _memo.move_to_end(key)
        while len(_memo) > _MEMO_ENTRIES:
            _memo.popitem(last=False)
        _unbuilt.pop(key, None)


def _known_unbuilt(key: tuple[str, str, int], version: tuple[int, int], max_age: float) -> bool:
    """Whether a check found the scope not built within min(max_age, UNBUILT_MAX_AGE_S), under this data version, and
    no build of it was remembered since."""
    with _memo_lock:
        noted = _unbuilt.get(key)
    return noted is not None and noted[0] == version and time.monotonic() - noted[1] <= min(max_age, UNBUILT_MAX_AGE_S)


def _note_unbuilt(key: tuple[str, str, int], version: tuple[int, int], checked_at: float) -> None:
    with _memo_lock:
        kept = _memo.get(key)
        if kept is not None and kept.checked_at > checked_at and kept.version >= version:
            return  # a build finished after this check began: the scope is built
        _unbuilt[key] = (version, checked_at)
        _unbuilt.move_to_end(key)
        while len(_unbuilt) > _MEMO_ENTRIES:
            _unbuilt.popitem(last=False)


def recently_read(database: str, within_s: float) -> list[tuple[str, int]]:
    """The scopes of `database` whose builds a reader asked for in the last `within_s` seconds (most recent last)."""
    since = time.monotonic() - within_s
    with _memo_lock:
        return [
            (kind, scope_id) for (db, kind, scope_id), memo in _memo.items() if db == database and memo.read_at >= since
        ]


def current_builds(
    client: ClickHouseClient,
    database: str,
    scope: Scope,
    scope_id: int,
    *,
    max_age: float = 0.0,
    reading: bool = True,
    stage_memory: int | None = None,
) -> list[int]:
    """The build ids of the scope's current slices, building the stale ones first (see the module docstring).
    With max_age > 0, the builds found by a check at most max_age seconds ago are reused without a query while the
    scope's data version is unchanged (the check memo above). reading=False (a background rebuild) leaves the time
    the scope was last read (recently_read) as it was. stage_memory: a build's staging memory limit
    (stage_memory_limit(settings); STAGE_MAX_MEMORY when None, 0: no staging)."""
    if scope not in SCOPE_COLUMNS:
        raise ValueError(f"unknown scope {scope!r}")
    builds = _memoized(
        database,
        scope,
        scope_id,
        max_age,
        reading,
        lambda: _checked_builds(client, database, scope, scope_id, stage_memory),
    )
    assert builds is not None  # a check that builds always has every slice built
    return builds


def built_builds(
    client: ClickHouseClient, database: str, scope: Scope, scope_id: int, *, max_age: float = 0.0
) -> list[int] | None:
    """The build ids of the scope's current slices when every one is built (the check memo, else the check's
    queries), else None; builds nothing (a reader that would rather not wait for a build: registry.event_summary).
    None found by a check is kept as the builds are (_unbuilt, UNBUILT_MAX_AGE_S): the next reads ask nothing until
    a build of the scope is remembered or its data version moves."""
    return _memoized(
        database,
        scope,
        scope_id,
        max_age,
        True,
        lambda: _checked_builds(client, database, scope, scope_id, build_stale=False),
        unbuilt_known=True,
    )


def builds_if_free(
    client: ClickHouseClient,
    database: str,
    scope: Scope,
    scope_id: int,
    *,
    max_age: float = 0.0,
    stage_memory: int | None = None,
) -> list[int] | None:
    """current_builds for a reader that will not wait: the builds when every slice is built, or built now because the
    scope's lock and a build slot were free (a build of its own, remembered as current_builds does); None when the
    stale slices would wait (another builder of the scope, or every build slot taken or asked for), building nothing."""
    return _memoized(
        database,
        scope,
        scope_id,
        max_age,
        True,
        lambda: _checked_builds(client, database, scope, scope_id, stage_memory, wait=False),
    )


def _memoized(
    database: str,
    scope: Scope,
    scope_id: int,
    max_age: float,
    reading: bool,
    check: Callable[[], list[int] | None],
    *,
    unbuilt_known: bool = False,
) -> list[int] | None:
    """check()'s builds, or the check memo's while the scope's data version is unchanged and they are at most max_age
    old (max_age 0: always check); builds found are remembered. A check finding the scope not built (None) is noted
    (_unbuilt); with unbuilt_known (a reader that does not build), None is answered from that note, asking nothing."""
    key = (database, scope, int(scope_id))
    version = data_version.version(database, scope, scope_id)  # read before the check: a write after it moves it
    if max_age > 0:
        remembered = _remembered(key, version, max_age)
        if remembered is not None:
            return remembered
        if unbuilt_known and _known_unbuilt(key, version, max_age):
            return None
    checked_at = time.monotonic()
    builds = check()
    if builds is not None:
        _remember(key, version, builds, checked_at, reading)
    elif unbuilt_known:
        _note_unbuilt(key, version, checked_at)
    return builds


def _checked_builds(
    client: ClickHouseClient,
    database: str,
    scope: Scope,
    scope_id: int,
    stage_memory: int | None = None,
    *,
    build_stale: bool = True,
    wait: bool = True,
) -> list[int] | None:
    """The check itself: the scope's build per partition from system.parts, stale slices built first (build_stale=False:
    None when a slice is not built, without waiting for the scope's lock or building; wait=False: stale slices are
    built only if the scope's lock and a build slot are free now, else None)."""
    params = {"kind": scope, "scope_id": int(scope_id), "database": database, "definition": definition_id()}
    schema = data_version.schema_version(database)  # read first: a migration during the build leaves it untrusted
    rows = [
        (partition, int(build))
        for partition, build in client.query(current_slices_sql(), parameters=params).result_rows
    ]
    builds = [build for _, build in rows]
    if all((database, schema, build) in _complete for build in builds):
        return builds
    if not build_stale:
        unknown = [build for build in builds if (database, schema, build) not in _complete]
        recorded = client.query(recorded_builds_sql(database), parameters={**params, "builds": unknown}).result_rows
        if {int(build) for (build,) in recorded} != set(unknown):
            return None
        _note_complete(database, schema, builds)
        return builds
    with _scope_lock(database, scope, int(scope_id), wait) as locked:
        if not locked:  # wait=False: another reader or the worker builds this scope, or waits for a slot to
            return None
        unknown = [build for build in builds if (database, schema, build) not in _complete]
        recorded = client.query(recorded_builds_sql(database), parameters={**params, "builds": unknown}).result_rows
        done = {int(build) for (build,) in recorded}
        stale = [(partition, build) for partition, build in rows if build in unknown and build not in done]
        if stale:
            built_params = {
                **params,
                "partitions": [partition for partition, _ in stale],
                "builds": [build for _, build in stale],
            }
            try:
                # at most one build per core at once, the smallest waiting first (xolap.analytics.build_gate)
                # (wait=False: only a slot free now, so the reader never waits behind other scopes' builds)
                size = _stale_events(client, database, scope, built_params) if wait else 0
                with build_gate.builds.slot(size, wait=wait) as taken:
                    if not taken:
                        return None
                    _build(client, database, scope, built_params, stage_memory)
                client.command(
                    f"INSERT INTO `{database}`.rollup_slices (scope_kind, scope_id, partition, build) "
                    "SELECT {kind:String}, {scope_id:UInt64}, p, b "
                    "FROM (SELECT arrayJoin(arrayZip({partitions:Array(String)}, {builds:Array(UInt64)})) AS pb, "
                    "pb.1 AS p, pb.2 AS b)",
                    parameters=built_params,
                )
            except Exception as exc:  # visible (log, health), never its text; the reader gets the error as before
                failure = rollup_failures.failed(database, scope, int(scope_id), exc)
                log.warning(
                    "rollup build of %s %d (%d partition(s)) failed, nothing recorded (the next read builds it "
                    "again): %s",
                    scope,
                    int(scope_id),
                    len(stale),
                    failure.error,
                )
                raise
        rollup_failures.built(database, scope, int(scope_id))
        _note_complete(database, schema, builds)
    return builds


def _note_complete(database: str, schema: Any, builds: list[int]) -> None:
    """Remember builds seen complete under this schema version (bounded: past _COMPLETE_MAX all are forgotten)."""
    if len(_complete) > _COMPLETE_MAX:
        _complete.clear()
    _complete.update((database, schema, build) for build in builds)


def _stale_events(client: ClickHouseClient, database: str, scope: Scope, params: dict[str, Any]) -> int:
    """About how many events the build of the stale slices reads (rows before deduplication; a section's from the
    primary key's marks): the build gate's order."""
    return int(
        client.query(
            f"SELECT count() FROM `{database}`.raw_events WHERE {SCOPE_COLUMNS[scope]} = {{scope_id:UInt64}} "
            "AND _partition_id IN {partitions:Array(String)}",
            parameters=params,
        ).result_rows[0][0]
    )


def _build(
    client: ClickHouseClient, database: str, scope: Scope, params: dict[str, Any], stage_memory: int | None
) -> None:
    """Every rollup row of the stale slices ({partitions}, {builds}): the scope's events read once into a staging
    table (per table from raw_events when they exceed the staging memory limit), each rollup table built from it, the
    staging table dropped whatever happens (a failed build records nothing: rollup_slices is written after this)."""
    source = f"({events_select_sql(database, scope)})"  # without a stage: each table reads the events itself
    stage = None if stage_memory == 0 else f"{STAGE_PREFIX}{int(time.time())}_{uuid.uuid4().hex}"  # 0: a cluster
    try:
        if stage is not None:
            try:
                limit = STAGE_MAX_MEMORY if stage_memory is None else stage_memory
                client.command(stage_sql(database, scope, stage, limit), parameters=params)
                source = f"`{database}`.{stage}"
            except Exception as exc:  # clickhouse-connect raises several types; only the memory limit is ours to handle
                if clickhouse_error_code(exc) != _MEMORY_LIMIT_EXCEEDED:
                    raise
        for statement in build_statements(database, source):
            client.command(statement, parameters=params)
    finally:
        if stage is not None:
            try:
                client.command(f"DROP TABLE IF EXISTS `{database}`.{stage} SYNC")
            except Exception as exc:  # left for rollup_maintenance.drop_stale_stages; a build's own error goes first
                log.warning("rollup staging table not dropped: %s", type(exc).__name__)


_MEMORY_LIMIT_EXCEEDED = 241


def forget_complete_builds() -> None:
    """Forget which builds this process saw complete and the builds it found current (after rollup tables were
    emptied by hand, say)."""
    _complete.clear()
    with _memo_lock:
        _memo.clear()
        _unbuilt.clear()
