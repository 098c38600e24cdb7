"""How a rollup build runs (xolap.analytics.rollups, docs/rollups.md "One read per build"): the scope's events are read
from raw_events once, into a staging table, every rollup table is built from it and the whole-slice rows from the daily
rows just written; every row equals the direct read of the events; a statement failing in the middle records no build
and leaves no staging table; a scope too large to stage is built from per-table reads with the same rows."""

from __future__ import annotations

import time

import pytest

from xolap.analytics import rollup_maintenance, rollups
from xolap.analytics.categories import run_category
from xolap.analytics.categories.registry import _context, get_category, with_rollup_builds
from xolap.clickhouse import data_version

# Events of sections 1 (project 10) and 2 (projects 10 and 20) over Jan..Mar 2026 (3 monthly partitions): integer,
# padded, e-mail and NULL learner ids, NULL sections, scores NULL, below 0 and above 1, hints, videos, pages,
# activities; a third of them inserted again in another part (FINAL counts them once).
EVENTS = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    scaled_score, success, completion, hints_requested, video_url, video_progress, event_hash)
SELECT if(number % 29 = 0, NULL, 1 + number % 2) AS s, if(s = 2 AND number % 5 = 0, 20, 10),
    [toString(number % 37), concat('0', toString(number % 5)), concat('l', toString(number % 11), '@x.org'),
     NULL][number % 4 + 1],
    toDateTime64('2026-01-03 00:00:00', 3) + toIntervalSecond((number * 7919) % (80 * 86400)),
    ['page_viewed', 'part_attempt', 'activity_attempt', 'video', 'page_attempt'][number % 5 + 1] AS event_type,
    if(event_type = 'video', ['https://w3id.org/xapi/video/verbs/played',
        'https://w3id.org/xapi/video/verbs/completed'][number % 2 + 1], 'http://adlnet.gov/expapi/verbs/completed'),
    if(event_type = 'page_viewed', number % 7, NULL),
    if(event_type IN ('part_attempt', 'activity_attempt'), 300 + number % 3, NULL),
    if(number % 7 = 0, NULL, [0.0, 0.35, 1.0, 1.4, -0.2, 0.8][number % 6 + 1]) AS scaled_score,
    if(scaled_score IS NULL, NULL, scaled_score >= 0.6), number % 3 = 0,
    if(event_type = 'part_attempt' AND number % 4 != 0, toUInt32(number % 3), NULL),
    if(event_type = 'video', concat('https://v.example/', toString(number % 4), '.mp4'), NULL),
    if(event_type = 'video', (number % 10) / 10, NULL),
    concat('b', toString(number))
FROM numbers({start}, {count})
"""
SCOPES = [("section", 1), ("section", 2), ("project", 10)]


@pytest.fixture()
def events(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(f"SYSTEM STOP MERGES `{db}`.raw_events")
    client.command(EVENTS.format(db=db, start=0, count=3000))
    client.command(EVENTS.format(db=db, start=0, count=1000))
    data_version.rows_written(db)
    rollups.forget_complete_builds()
    yield client, settings
    client.command(f"SYSTEM START MERGES `{db}`.raw_events")
    rollups.forget_complete_builds()


def stale_slices(client, db: str, scope: str, scope_id: int) -> dict:
    """The parameters of a build of every slice of the scope (as _checked_builds passes them)."""
    params = {"kind": scope, "scope_id": scope_id, "database": db, "definition": rollups.definition_id()}
    rows = client.query(rollups.current_slices_sql(), parameters=params).result_rows
    return {**params, "partitions": [p for p, _ in rows], "builds": [int(b) for _, b in rows]}


def rows_of(client, db: str, scope: str, scope_id: int, builds: list[int]) -> dict[str, list]:
    """Every rollup table's rows of these builds (FINAL, sorted): states as their exact contents (a bitmap's ids, a
    uniqExact set's size), floats to 9 decimals (the same values summed in another order)."""
    columns: dict[str, list] = {}
    for table, name, kind in client.query(
        "SELECT table, name, type FROM system.columns WHERE database = {db:String} "
        "AND name NOT IN ('scope_kind', 'scope_id') ORDER BY position",
        parameters={"db": db},
    ).result_rows:
        columns.setdefault(table, []).append((name, kind))
    dumped = {}
    for table in rollups.ROLLUPS:
        shown = []
        for name, kind in columns[table]:
            if "groupBitmap" in kind:
                shown.append(f"arraySort(bitmapToArray({name}))")
            elif "AggregateFunction" in kind:
                shown.append(f"finalizeAggregation({name})")
            elif kind == "Float64":
                shown.append(f"round({name}, 9)")
            else:
                shown.append(name)
        dumped[table] = client.query(
            f"SELECT {', '.join(shown)} FROM `{db}`.{table} FINAL WHERE scope_kind = {{k:String}} "
            "AND scope_id = {i:UInt64} AND has({b:Array(UInt64)}, build) ORDER BY ALL",
            parameters={"k": scope, "i": scope_id, "b": builds},
        ).result_rows
    return dumped


def empty_rollups(client, db: str) -> None:
    for table in [*rollups.ROLLUPS, "rollup_slices"]:
        client.command(f"TRUNCATE TABLE `{db}`.{table}")
    rollups.forget_complete_builds()


def staging_tables(client, db: str) -> list[str]:
    return [
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND startsWith(name, {p:String})",
            parameters={"db": db, "p": rollups.STAGE_PREFIX},
        ).result_rows
    ]


def raw_event_reads(client, db: str, since) -> list[str]:
    """The statements run since `since` that read raw_events and wrote a rollup or staging table."""
    client.command("SYSTEM FLUSH LOGS")
    return [
        query
        for (query,) in client.query(
            "SELECT query FROM system.query_log WHERE type = 'QueryFinish' AND event_time_microseconds >= {t:DateTime64(6)} "
            "AND has(tables, {raw:String}) AND query_kind IN ('Insert', 'Create') "
            "AND query NOT LIKE '%system.query_log%'",
            parameters={"t": since, "raw": f"{db}.raw_events"},
        ).result_rows
    ]


def test_a_build_reads_the_scope_events_once_and_drops_its_staging(events):
    client, settings = events
    db = settings.clickhouse_database
    for scope, scope_id in SCOPES:
        since = client.query("SELECT now64(6)").result_rows[0][0]
        builds = rollups.current_builds(client, db, scope, scope_id)
        assert len(builds) == 3
        reads = raw_event_reads(client, db, since)
        assert len(reads) == 1, reads  # 9 before: one FINAL read per rollup table
        assert reads[0].startswith("CREATE TABLE") and f".{rollups.STAGE_PREFIX}" in reads[0]
        assert staging_tables(client, db) == []


def test_every_rollup_row_equals_the_direct_read_of_the_events(events):
    """Staged rows and whole-slice rows from daily rows are the rows each table's definition gives read directly from
    raw_events FINAL."""
    client, settings = events
    db = settings.clickhouse_database
    scopes = [("project", 10)]  # sections 1 and 2, and events without a section
    built = {scope: rows_of(client, db, *scope, rollups.current_builds(client, db, *scope)) for scope in scopes}
    empty_rollups(client, db)
    for scope, scope_id in scopes:
        params = stale_slices(client, db, scope, scope_id)
        source = f"({rollups.events_select_sql(db, scope)})"
        for table in rollups.ROLLUPS:
            client.command(rollups.build_sql(db, table, source), parameters=params)
        direct = rows_of(client, db, scope, scope_id, params["builds"])
        assert all(direct.values()), [table for table, rows in direct.items() if not rows]
        for table in rollups.ROLLUPS:
            assert built[(scope, scope_id)][table] == direct[table], (scope, scope_id, table)


def test_every_rollup_table_is_keyed_by_what_its_build_groups_by(ch_db):
    """Builds insert with optimize_on_insert = 0 (no collapsing of equal keys within the inserted block): safe because
    a build's rows are unique by the table's sorting key, which is the scope, the build and the GROUP BY keys."""
    client, settings = ch_db
    keys = dict(
        client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = {db:String}",
            parameters={"db": settings.clickhouse_database},
        ).result_rows
    )
    for table, spec in rollups.ROLLUPS.items():
        grouped = {part.rsplit(" AS ", 1)[-1].strip() for part in rollups._split(spec["keys"])}
        if spec.get("whole_slice_without"):
            grouped.add("whole")
        assert {key.strip() for key in keys[table].split(",")} == {"scope_kind", "scope_id", "build"} | grouped, table
    for table, derived in rollups.FROM_DAILY.items():
        grouped = {key.strip() for key in derived.keys.split(",")}
        assert grouped <= {key.strip() for key in keys[table].split(",")}, table
    assert "optimize_on_insert = 0" in rollups.build_settings()


@pytest.mark.parametrize("failing", ["rollup_content_daily", "rollup_events_slice"])
def test_a_statement_failing_in_the_middle_records_no_build_and_leaves_no_staging(events, failing):
    """A real failure of one INSERT (a CHECK constraint the rows break), in the middle of the staged statements or of
    the whole-slice ones: no rollup_slices row, no staging table; the next read builds the slices completely."""
    client, settings = events
    db = settings.clickhouse_database
    client.command(f"ALTER TABLE `{db}`.{failing} ADD CONSTRAINT fail_build CHECK events > 1000000")
    try:
        with pytest.raises(Exception, match="fail_build"):
            rollups.current_builds(client, db, "section", 1)
        assert client.query(f"SELECT count() FROM `{db}`.rollup_slices").result_rows[0][0] == 0
        assert staging_tables(client, db) == []
    finally:
        client.command(f"ALTER TABLE `{db}`.{failing} DROP CONSTRAINT fail_build")
    builds = rollups.current_builds(client, db, "section", 1)
    recorded = client.query(f"SELECT count() FROM `{db}`.rollup_slices FINAL").result_rows[0][0]
    assert recorded == len(builds) == 3
    complete = rows_of(client, db, "section", 1, builds)
    empty_rollups(client, db)
    assert rows_of(client, db, "section", 1, rollups.current_builds(client, db, "section", 1)) == complete


def test_a_scope_over_the_configured_memory_is_built_from_per_table_reads(events):
    """The staging keeps to the configured query_max_memory_usage (a reader's builds get it from the settings); a
    stage over it is dropped by ClickHouse and the build reads the events per table, with the same rows."""
    client, settings = events
    db = settings.clickhouse_database
    staged = rows_of(client, db, "section", 2, rollups.current_builds(client, db, "section", 2))
    empty_rollups(client, db)
    tight = settings.model_copy(update={"query_max_memory_usage": 1})  # exceeded at once
    assert rollups.stage_memory_limit(tight) == 1
    assert rollups.stage_memory_limit(settings) == min(rollups.STAGE_MAX_MEMORY, settings.query_max_memory_usage)
    ctx = _context(tight, "section", 2, None, None)
    since = client.query("SELECT now64(6)").result_rows[0][0]
    params = with_rollup_builds(client, tight, ctx, get_category("weekday_hour", "section").build_sql(ctx), 2)
    builds = params[rollups.BUILDS_PARAMETER]
    assert rows_of(client, db, "section", 2, builds) == staged
    reads = raw_event_reads(client, db, since)
    assert all(read.startswith("INSERT") for read in reads) and len(reads) == 6, reads  # 1 staged read otherwise
    assert staging_tables(client, db) == []
    answer = run_category(client, settings, "weekday_hour", scope="section", scope_id=2).rows
    assert sum(row["events"] for row in answer) > 0


def test_staging_tables_left_by_a_killed_builder_are_dropped_later(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    old = f"{rollups.STAGE_PREFIX}{int(time.time()) - 7200}_0123456789abcdef"
    new = f"{rollups.STAGE_PREFIX}{int(time.time())}_fedcba9876543210"
    for name in (old, new):
        client.command(f"CREATE TABLE `{db}`.{name} (build UInt64) ENGINE = Memory")
    assert rollup_maintenance.drop_stale_stages(client, db, max_age_s=3600) == [old]
    assert staging_tables(client, db) == [new]
    client.command(f"DROP TABLE `{db}`.{new}")


def test_on_a_cluster_a_build_reads_per_table_and_creates_no_staging(events):
    """A Memory staging table lives on the node that created it, and on a cluster the build's next statements may
    reach another node: there every table is built from raw_events, with the same rows, and no table is created."""
    client, settings = events
    db = settings.clickhouse_database
    staged = rows_of(client, db, "section", 2, rollups.current_builds(client, db, "section", 2))
    empty_rollups(client, db)
    clustered = settings.model_copy(update={"clickhouse_cluster": "analytics"})
    assert rollups.stage_memory_limit(clustered) == 0
    since = client.query("SELECT now64(6)").result_rows[0][0]
    builds = rollups.current_builds(client, db, "section", 2, stage_memory=rollups.stage_memory_limit(clustered))
    assert rows_of(client, db, "section", 2, builds) == staged
    reads = raw_event_reads(client, db, since)
    assert all(read.startswith("INSERT") for read in reads) and len(reads) == 6, reads  # no staging CREATE
    assert staging_tables(client, db) == []
