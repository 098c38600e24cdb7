"""How a rollup build lays out its rows (xolap.analytics.rollups, docs/rollups.md "One part per build"): each build
INSERT writes one part per table whatever the session's block and insert-thread settings, and the content rollups are
keyed by kind before build (migration 0017): the up migration on a warehouse with build-first content rollups keeps
every content chart equal to the raw FINAL read, and a chart reads only its kind's granules."""

from __future__ import annotations

import copy
import uuid

import pytest

from xolap.analytics import rollups
from xolap.analytics.categories import assessment, engagement, run_category, video
from xolap.analytics.categories.registry import _context, get_category, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse import data_version
from xolap.clickhouse.migrations import Migrator, RenderContext, load_migrations, split_statements

# 4,000 events of sections 1 and 2 (projects 10 and 20) over Jan..Mar 2026 (3 monthly partitions): 60 learners on ~80
# days, 700 pages, 300 activities and 60 videos (content rows of each kind over several 256-row granules), some
# inserted twice by a second insert (FINAL counts them once).
EVENTS = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    scaled_score, success, completion, video_url, video_progress, event_hash)
SELECT 1 + number % 2 AS s, if(s = 2 AND number % 5 = 0, 20, 10),
    if(number % 31 = 0, NULL, toString(number % 60)),
    toDateTime64('2026-01-03 00:00:00', 3) + toIntervalSecond((number * 7919) % (80 * 86400)),
    ['page_viewed', 'part_attempt', 'activity_attempt', 'video', 'page_viewed'][number % 5 + 1] AS event_type,
    if(event_type = 'video', ['https://w3id.org/xapi/video/verbs/played',
        'https://w3id.org/xapi/video/verbs/completed'][intDiv(number, 5) % 2 + 1], 'http://adlnet.gov/expapi/verbs/completed'),
    if(event_type = 'page_viewed', number % 700, NULL),
    if(event_type IN ('part_attempt', 'activity_attempt'), number % 300, NULL),
    if(number % 7 = 0, NULL, [0.0, 0.35, 1.0, 0.8][number % 4 + 1]) AS scaled_score,
    if(scaled_score IS NULL, NULL, scaled_score >= 0.6), number % 3 = 0,
    if(event_type = 'video', concat('https://v.example/', toString(number % 60), '.mp4'), NULL),
    if(event_type = 'video', (number % 10) / 10, NULL),
    concat('p', toString(number))
FROM numbers({start}, {count})
"""
SCOPES = [("section", 1), ("section", 2), ("project", 10)]
CONTENT = {"video": video.raw_sql, "assessment": assessment.raw_sql, "engagement": engagement.raw_sql}
CONTENT_TABLES = ("rollup_content_daily", "rollup_content_slice")


@pytest.fixture()
def events(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(f"SYSTEM STOP MERGES `{db}`.raw_events")
    client.command(EVENTS.format(db=db, start=0, count=4000))
    client.command(EVENTS.format(db=db, start=0, count=800))
    data_version.rows_written(db)
    rollups.forget_complete_builds()
    yield client, settings
    rollups.forget_complete_builds()


def session_setting(client, name: str) -> str:
    """The session's value of a setting as SET takes it back: DEFAULT when it was not changed."""
    value, changed = client.query(
        "SELECT value, changed FROM system.settings WHERE name = {n:String}", parameters={"n": name}
    ).result_rows[0]
    return value if changed else "DEFAULT"


def parts_per_table(client, db: str, scope: str, scope_id: int, builds: list[int]) -> dict[str, int]:
    """How many parts hold the rows of these builds, per rollup table that has any."""
    found = {}
    for table in rollups.ROLLUPS:
        parts, rows = client.query(
            f"SELECT uniqExact(_part), count() FROM `{db}`.{table} WHERE scope_kind = {{k:String}} "
            "AND scope_id = {i:UInt64} AND has({b:Array(UInt64)}, build)",
            parameters={"k": scope, "i": scope_id, "b": builds},
        ).result_rows[0]
        if rows:
            found[table] = int(parts)
    return found


def test_a_build_writes_one_part_per_rollup_table_whatever_the_session_block_settings(events):
    """A build's rows of a table in several parts cost every chart read of the scope a merge across them under FINAL
    until a background merge: ClickHouse's defaults cut an INSERT … SELECT into a part per 1,048,449 rows (a large
    scope's learner rows at 50M events), and smaller blocks or parallel insert streams, as a server profile may set,
    into a part per block or stream. The build's own settings keep one part (merges stopped, so none is merged after)."""
    client, settings = events
    db = settings.clickhouse_database
    for table in rollups.ROLLUPS:
        client.command(f"SYSTEM STOP MERGES `{db}`.{table}")
    small = {"max_block_size": 64, "min_insert_block_size_rows": 64, "min_insert_block_size_bytes": 4096}
    small["max_insert_threads"] = 4
    before = {name: session_setting(client, name) for name in small}
    try:
        for name, value in small.items():
            client.command(f"SET {name} = {value}")
        built = {scope: rollups.current_builds(client, db, *scope) for scope in SCOPES}
    finally:
        for name, value in before.items():
            client.command(f"SET {name} = {value}")
    rows = client.query(f"SELECT count() FROM `{db}`.rollup_learners").result_rows[0][0]
    assert rows > 10 * 64  # enough rows for several blocks of 64
    for (scope, scope_id), builds in built.items():
        assert len(builds) == 3
        parts = parts_per_table(client, db, scope, scope_id, builds)
        assert set(parts) == set(rollups.ROLLUPS), parts
        assert parts == dict.fromkeys(rollups.ROLLUPS, 1), (scope, scope_id, parts)


def raw_answer(client, settings, key: str, scope: str, scope_id: int) -> list[dict]:
    """What the content chart answers from raw_events FINAL (its raw_sql, then the same presentation)."""
    ctx = _context(settings, scope, scope_id, None, None)
    result = run(client, settings, CONTENT[key](ctx), parameters=parameters(ctx, scope_id))
    rows = [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]
    category = get_category(key, scope)
    if category.present is not None:
        rows = category.present(rows, copy.deepcopy(category.spec)).rows
    return rows


def assert_content_charts_equal_raw(client, settings, scopes=SCOPES) -> None:
    for scope, scope_id in scopes:
        for key in CONTENT:
            raw = raw_answer(client, settings, key, scope, scope_id)
            assert raw, (scope, scope_id, key)
            answer = run_category(client, settings, key, scope=scope, scope_id=scope_id).rows
            assert len(answer) == len(raw), (scope, scope_id, key)
            for got, want in zip(answer, raw, strict=True):
                assert got.keys() == want.keys()
                for name, value in want.items():
                    if isinstance(value, float):
                        assert got[name] == pytest.approx(value, abs=0.1 + 1e-9), (key, name, got, want)
                    else:
                        assert got[name] == value, (key, name, got, want)


def sorting_keys(client, db: str) -> dict[str, str]:
    return dict(
        client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = {db:String} AND has({t:Array(String)}, name)",
            parameters={"db": db, "t": list(CONTENT_TABLES)},
        ).result_rows
    )


def test_the_kind_first_migration_on_build_first_content_rollups_keeps_the_answers_equal_to_raw_final(events):
    client, settings = events
    db = settings.clickhouse_database
    migrator = Migrator(client, RenderContext(db))
    migrations = load_migrations()
    kind_first = next(migration for migration in migrations if migration.name == "rollup_content_kind_first")
    assert kind_first.version == 17
    from_kind_first = [migration.version for migration in migrations if migration.version >= kind_first.version]
    migrator.down(len(from_kind_first))  # the warehouse as 0016 left it: content rollups keyed by build first
    assert all(key.startswith("scope_kind, scope_id, build, kind") for key in sorting_keys(client, db).values())
    for scope in SCOPES:  # built under the old key
        rollups.current_builds(client, db, *scope)
    assert client.query(f"SELECT count() FROM `{db}`.rollup_content_slice").result_rows[0][0] > 0

    assert [migration.version for migration in migrator.up()] == from_kind_first
    keys = sorting_keys(client, db)
    assert keys["rollup_content_daily"] == "scope_kind, scope_id, kind, build, content_id, project_id, day"
    assert keys["rollup_content_slice"] == "scope_kind, scope_id, kind, build, content_id, project_id"
    # no recorded build names the content rows the migration dropped: every slice is built again on the next read
    assert client.query(f"SELECT count() FROM `{db}`.rollup_slices").result_rows[0][0] == 0
    assert_content_charts_equal_raw(client, settings, [("project", 10)])  # both sections' rows (tests/analytics/
    assert client.query(f"SELECT count() FROM `{db}`.rollup_content_slice").result_rows[0][0] > 0  # test_rollups: all)

    # the up run again (a retried deployment) leaves the same tables, empty, and no build recorded over them
    for statement in split_statements(RenderContext(db).render(kind_first.up)):
        client.command(statement)
    assert sorting_keys(client, db) == keys
    for table in [*CONTENT_TABLES, "rollup_slices"]:
        assert client.query(f"SELECT count() FROM `{db}`.{table}").result_rows[0][0] == 0


def test_a_content_chart_reads_only_its_kind_of_the_scope_rows(events):
    """With kind before build in the key (0017), video reads the granules of the scope's video rows, not the pages'
    and activities' whose learner states it would deserialize too."""
    client, settings = events
    db = settings.clickhouse_database
    builds = rollups.current_builds(client, db, "section", 1)
    scope_rows = client.query(
        f"SELECT count(), countIf(kind = 'video') FROM `{db}`.rollup_content_slice FINAL WHERE scope_kind = 'section' "
        "AND scope_id = 1 AND has({b:Array(UInt64)}, build)",
        parameters={"b": builds},
    ).result_rows[0]
    # the scope's rows span three granules or more (528 rows), its videos fit in one (90 rows)
    assert scope_rows[0] > 2 * 256 and 0 < scope_rows[1] < 256, scope_rows
    tag = f"kind_read_{uuid.uuid4().hex}"
    client.query(
        f"SELECT groupBitmapMerge(r.learner_ids) FROM {rollups.rollup_read(db, 'section', 'rollup_content_slice')} "
        f"AND r.kind = 'video' SETTINGS log_comment = '{tag}'",
        parameters={"xolap_scope_id": 1, rollups.BUILDS_PARAMETER: builds},
    )
    client.command("SYSTEM FLUSH LOGS")
    read_rows = client.query(
        "SELECT read_rows FROM system.query_log WHERE type = 'QueryFinish' AND log_comment = {t:String}",
        parameters={"t": tag},
    ).result_rows
    assert len(read_rows) == 1
    # the granules holding the video rows (two at most), not every granule of the scope (all of them: build first)
    assert read_rows[0][0] <= 2 * 256 < scope_rows[0], (read_rows, scope_rows)
