"""Rollup-backed categories answer exactly what the raw FINAL reads answer: every rollup category, section and project
scope, with and without dates, on events with duplicates inserted by separate inserts, after new inserts (stale
slices), after OPTIMIZE FINAL merges, a lightweight DELETE, a dropped partition and a second builder of a slice."""

from __future__ import annotations

import copy
import re
from datetime import date

import pytest

from xolap.analytics import rollups
from xolap.analytics.categories import (
    assessment,
    course_progress,
    cross_event,
    engagement,
    event_summary,
    hints_success,
    learners_at_risk,
    performance,
    run_category,
    section_comparison,
    video,
    weekday_hour,
)
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.categories.registry import (
    CATEGORIES,
    _context,
    event_summary_raw_sql,
    event_summary_sql,
    get_category,
    json_value,
    with_rollup_builds,
)
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.analytics.titles import import_titles
from xolap.clickhouse import data_version

RAW_SQL = {
    "video": video.raw_sql,
    "assessment": assessment.raw_sql,
    "engagement": engagement.raw_sql,
    "cross_event": cross_event.raw_sql,
    "weekday_hour": weekday_hour.raw_sql,
    "hints_success": hints_success.raw_sql,
    "performance": performance.raw_sql,
    "learners_at_risk": learners_at_risk.raw_sql,
    "section_comparison": section_comparison.raw_sql,
    "course_progress": course_progress.raw_sql,
}
RANGES = [(None, None), (date(2026, 2, 3), date(2026, 3, 17)), (date(2026, 3, 1), None)]
SCOPES = [("section", 1), ("section", 2), ("project", 10), ("project", 20)]

# Events of 3 sections over Jan..Apr 2026 (4 monthly partitions): section 1 mostly project 10 with some project 20
# rows, section 2 project 10, section 3 project 20; NULL learners, NULL scores and NULL hints among them.
GENERATE = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    scaled_score, success, completion, hints_requested, video_url, video_progress, event_hash)
SELECT s, if(s = 1, if(number % 17 = 0, 20, 10), if(s = 2, 10, 20)) AS p,
    if(number % 23 = 0, NULL, concat('u', toString(s), '-', toString(number % 41))) AS user_id,
    toDateTime64('2026-01-15 00:00:00', 3) + toIntervalSecond((number * 7919) % (85 * 86400)) AS timestamp,
    ['page_viewed', 'part_attempt', 'activity_attempt', 'video', 'page_attempt'][number % 5 + 1] AS event_type,
    if(event_type = 'video', ['https://w3id.org/xapi/video/verbs/played', 'https://w3id.org/xapi/video/verbs/paused',
        'https://w3id.org/xapi/video/verbs/completed'][intDiv(number, 5) % 3 + 1], 'http://adlnet.gov/expapi/verbs/completed'),
    if(event_type = 'page_viewed', number % 9, NULL),
    if(event_type IN ('part_attempt', 'activity_attempt'), 500 + number % 4, NULL),
    if(number % 11 = 0 OR event_type NOT IN ('part_attempt', 'activity_attempt', 'page_attempt'), NULL,
       [0.0, 0.15, 0.2, 0.4, 0.55, 0.6, 0.8, 0.95, 1.0, 1.2, -0.3][number % 11 + 1]) AS scaled_score,
    if(scaled_score IS NULL, NULL, scaled_score >= 0.6),
    if(event_type = 'page_viewed', number % 3 = 0, NULL),
    if(event_type = 'part_attempt' AND number % 13 != 0, toUInt32(number % 6), NULL),
    if(event_type = 'video' AND number % 19 != 0, concat('https://videos.example/v', toString(number % 7), '.mp4'), NULL),
    if(event_type = 'video' AND number % 4 != 0, (number % 10) / 10, NULL),
    concat('h', toString(number))
FROM (SELECT number, 1 + number % 3 AS s FROM numbers({start}, {count}))
"""


def insert(client, settings, start: int, count: int) -> None:
    """Events written as an insert path writes them: the rows, then the data version bump (which every insert path
    makes, and which the rollup check memo relies on: tests/analytics/test_rollups_write_paths.py)."""
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(GENERATE.format(table=table, start=start, count=count))
    data_version.rows_written(settings.clickhouse_database)


@pytest.fixture()
def warehouse(ch_db):
    """3,000 events, then 600 of them inserted again by separate inserts (duplicates FINAL collapses), merges
    stopped so the copies stay in separate parts."""
    client, settings = ch_db
    client.command(f"SYSTEM STOP MERGES `{settings.clickhouse_database}`.raw_events")
    insert(client, settings, 0, 3000)
    insert(client, settings, 100, 400)
    insert(client, settings, 2700, 200)
    import_titles(
        client,
        settings,
        [
            {"project_id": 10, "kind": "video", "content_id": "https://videos.example/v1.mp4", "title": "Intro"},
            {"project_id": 20, "kind": "video", "content_id": "https://videos.example/v2.mp4", "title": "Other"},
            {"project_id": 10, "kind": "activity", "content_id": "501", "title": "Quiz"},
        ],
    )
    yield client, settings
    client.command(f"SYSTEM START MERGES `{settings.clickhouse_database}`.raw_events")


def raw_answer(client, settings, key, scope, scope_id, start=None, end=None):
    """What the category answers from raw_events FINAL (its raw_sql, then the same presentation)."""
    ctx = _context(settings, scope, scope_id, start, end)
    if key == "event_summary":
        result = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, scope_id))
        return [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]
    result = run(client, settings, RAW_SQL[key](ctx), parameters=parameters(ctx, scope_id))
    rows = [dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows]
    category = get_category(key, scope)
    if category.present is not None:
        rows = category.present(rows, copy.deepcopy(category.spec)).rows
    return rows


def rollup_answer(client, settings, key, scope, scope_id, start=None, end=None):
    if key == "event_summary":
        return [
            {k: v for k, v in row.items() if k != "label"}
            for row in event_summary(client, settings, scope, scope_id, start, end)
        ]
    return run_category(client, settings, key, scope=scope, scope_id=scope_id, start=start, end=end).rows


def same(rollup_rows, raw_rows):
    """Equal row by row: counts, ids, days and labels exactly; averages shown in percent up to their last digit (the
    rollup sums the same scores in another order, so a float can differ in its last bits)."""
    assert len(rollup_rows) == len(raw_rows), (rollup_rows, raw_rows)
    for got, want in zip(rollup_rows, raw_rows, strict=True):
        assert got.keys() == want.keys()
        for name, value in want.items():
            if isinstance(value, float) and not name.startswith("avg_hints"):
                assert got[name] == pytest.approx(value, abs=0.1 + 1e-9), (name, got, want)
            else:  # counts, ids, days, labels, flags and avg_hints (integer sums divided once, as avg does)
                assert got[name] == value, (name, got, want)


def rollup_keys(scope):
    keys = ["event_summary", "cross_event", "weekday_hour", "hints_success", "performance", "learners_at_risk"]
    keys += ["video", "assessment", "engagement", "course_progress"]
    return keys + (["section_comparison"] if scope == "project" else [])


def check_all(client, settings):
    checked = 0
    for scope, scope_id in SCOPES:
        for key in rollup_keys(scope):
            for start, end in RANGES:
                raw = raw_answer(client, settings, key, scope, scope_id, start, end)
                same(rollup_answer(client, settings, key, scope, scope_id, start, end), raw)
                checked += bool(raw)
    return checked


def test_the_rolled_up_categories_read_rollups_only():
    for scope in ("section", "project"):
        for ctx in (QueryContext("db", scope, date(2026, 1, 1), date(2026, 2, 1)), QueryContext("db", scope)):
            for key in rollup_keys(scope):
                sql = event_summary_sql(ctx) if key == "event_summary" else get_category(key, scope).build_sql(ctx)
                assert "raw_events" not in sql and f"{{{rollups.BUILDS_PARAMETER}:Array(UInt64)}}" in sql, key
    assert set(rollup_keys("project")) | {"event_summary"} == {"event_summary", *CATEGORIES}  # every answer rolled up


def test_every_rollup_category_equals_raw_final_with_duplicates_in_separate_parts(warehouse):
    client, settings = warehouse
    table = f"`{settings.clickhouse_database}`.raw_events"
    plain, final = (client.query(f"SELECT count() FROM {table}{f}").result_rows[0][0] for f in ("", " FINAL"))
    assert (plain, final) == (3600, 3000)  # the copies are really there, unmerged
    assert check_all(client, settings) > 50


def test_duplicate_inserted_again_after_the_build_counts_once(warehouse):
    client, settings = warehouse
    before = {
        row["event_type"]: row["events"] for row in rollup_answer(client, settings, "event_summary", "section", 1)
    }
    insert(client, settings, 0, 3000)  # every event once more, in a new part: a stale slice whose FINAL read is equal
    after = {row["event_type"]: row["events"] for row in rollup_answer(client, settings, "event_summary", "section", 1)}
    assert after == before and sum(after.values()) == 1000


def test_new_events_after_the_build_are_counted_on_the_next_read(warehouse):
    client, settings = warehouse
    first = rollup_answer(client, settings, "event_summary", "project", 10)
    insert(client, settings, 3000, 900)  # new events (a stale slice in every partition)
    second = rollup_answer(client, settings, "event_summary", "project", 10)
    assert sum(r["events"] for r in second) > sum(r["events"] for r in first)
    assert check_all(client, settings) > 50


def test_equal_after_optimize_final_merges(warehouse):
    client, settings = warehouse
    check_all(client, settings)
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(f"SYSTEM START MERGES {table}")
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert client.query(f"SELECT count() FROM {table}").result_rows[0][0] == 3000
    assert check_all(client, settings) > 50


def test_deleted_events_and_dropped_partitions_leave_the_answer(warehouse):
    client, settings = warehouse
    table = f"`{settings.clickhouse_database}`.raw_events"
    rollup_answer(client, settings, "event_summary", "section", 1)
    client.command(f"SYSTEM START MERGES {table}")  # a lightweight DELETE waits for its mutation, which merges run
    client.command(f"DELETE FROM {table} WHERE event_hash IN ('h3', 'h6', 'h9', 'h102')")  # as LRS voiding does
    client.command(f"ALTER TABLE {table} DROP PARTITION '202602'")
    data_version.rows_written(settings.clickhouse_database)  # as LRS voiding does after its DELETE
    rows = rollup_answer(client, settings, "event_summary", "section", 1)
    same(rows, raw_answer(client, settings, "event_summary", "section", 1))
    assert all(not row["first_event"].startswith("2026-02") for row in rows)
    assert check_all(client, settings) > 30


def test_a_second_builder_of_the_same_slices_does_not_double_count(warehouse):
    """Another process (or one that lost its slice records) builds the same slices again: its rows carry the same
    build ids and keys, and the FINAL read of the rollup keeps them once."""
    client, settings = warehouse
    database = settings.clickhouse_database
    builds = rollups.current_builds(client, database, "section", 1)
    client.command(f"TRUNCATE TABLE `{database}`.rollup_slices")
    rollups.forget_complete_builds()  # as a process that never saw these builds
    assert rollups.current_builds(client, database, "section", 1) == builds
    plain = client.query(
        f"SELECT count() FROM `{database}`.rollup_events_daily WHERE scope_kind = 'section' AND scope_id = 1"
    ).result_rows[0][0]
    final = client.query(
        f"SELECT count() FROM `{database}`.rollup_events_daily FINAL WHERE scope_kind = 'section' AND scope_id = 1"
    ).result_rows[0][0]
    assert plain == 2 * final  # the rows really were written twice
    for key in rollup_keys("section"):
        same(rollup_answer(client, settings, key, "section", 1), raw_answer(client, settings, key, "section", 1))


def test_an_unbuilt_scope_and_an_empty_scope(warehouse):
    client, settings = warehouse
    assert rollup_answer(client, settings, "event_summary", "section", 999) == []
    assert rollup_answer(client, settings, "event_summary", "project", 999) == []
    same(
        rollup_answer(client, settings, "weekday_hour", "section", 3),
        raw_answer(client, settings, "weekday_hour", "section", 3),
    )


def test_attempts_without_a_score_leave_average_scores_alone(ch_db):
    """greatest()/least() skip NULL in this ClickHouse, so a score held to 0..1 must stay NULL when there is none:
    an unscored attempt is no 0% attempt (it was one in every average score before)."""
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(
        f"INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, activity_id, "
        "scaled_score, success, hints_requested, event_hash) VALUES "
        "(1, 10, 'a', '2026-03-02 10:00:00', 'part_attempt', 'v', 500, 0.8, true, 0, 'n1'), "
        "(1, 10, 'b', '2026-03-02 11:00:00', 'part_attempt', 'v', 500, NULL, NULL, 0, 'n2'), "
        "(1, 10, 'a', '2026-03-02 10:00:00', 'activity_attempt', 'v', 500, 0.6, true, NULL, 'n3'), "
        "(1, 10, 'b', '2026-03-02 11:00:00', 'activity_attempt', 'v', 500, NULL, NULL, NULL, 'n4')"
    )
    for answer in (rollup_answer, raw_answer):
        assert answer(client, settings, "hints_success", "section", 1)[0]["avg_score_pct"] == 80.0
        comparison = answer(client, settings, "section_comparison", "project", 10)
        assert comparison[0]["avg_score_pct"] == 60.0
    assessment = run_category(client, settings, "assessment", scope="section", scope_id=1).rows
    assert assessment[0]["avg_score_pct"] == 60.0


def test_events_without_their_content_id_make_no_row(ch_db):
    """`assumeNotNull(video_url) AS video_url` made `WHERE video_url IS NOT NULL` test the alias (always true), so a
    video event without a URL became a video '' row (an attempt without an activity id activity 0, a page view
    without a page id page 0, an event without a section section 0); the filters name the table's column now."""
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(
        f"INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, video_url, "
        "activity_id, page_id, scaled_score, success, completion, event_hash) VALUES "
        "(1, 10, 'a', '2026-03-02 10:00:00', 'video', 'https://w3id.org/xapi/video/verbs/played', 'https://v/1.mp4', "
        "NULL, NULL, NULL, NULL, NULL, 'c1'), "
        "(1, 10, 'b', '2026-03-02 10:00:00', 'video', 'https://w3id.org/xapi/video/verbs/played', NULL, "
        "NULL, NULL, NULL, NULL, NULL, 'c2'), "
        "(1, 10, 'a', '2026-03-02 10:00:00', 'activity_attempt', 'v', NULL, 7, NULL, 0.5, true, NULL, 'c3'), "
        "(1, 10, 'b', '2026-03-02 10:00:00', 'activity_attempt', 'v', NULL, NULL, NULL, 0.5, true, NULL, 'c4'), "
        "(1, 10, 'a', '2026-03-02 10:00:00', 'page_viewed', 'v', NULL, NULL, 3, NULL, NULL, true, 'c5'), "
        "(1, 10, 'b', '2026-03-02 10:00:00', 'page_viewed', 'v', NULL, NULL, NULL, NULL, NULL, true, 'c6'), "
        "(NULL, 10, 'b', '2026-03-02 10:00:00', 'page_viewed', 'v', NULL, NULL, 3, NULL, NULL, true, 'c7')"
    )
    for answer in (rollup_answer, raw_answer):
        assert [row["video_url"] for row in answer(client, settings, "video", "section", 1)] == ["https://v/1.mp4"]
        assert [row["activity_id"] for row in answer(client, settings, "assessment", "section", 1)] == [7]
        assert [row["section_id"] for row in answer(client, settings, "section_comparison", "project", 10)] == [1]
        assert {row["page_id"] for row in answer(client, settings, "engagement", "section", 1)} == {3}


def test_changed_rollup_definitions_make_every_slice_stale(warehouse, monkeypatch):
    """Builds made under other definitions (say, before a rollup table was added) are never read as current."""
    client, settings = warehouse
    database = settings.clickhouse_database
    before = rollups.current_builds(client, database, "section", 1)
    changed = copy.deepcopy(rollups.ROLLUPS)
    changed["rollup_hourly"]["where"] = " AND event_type != 'video'"
    monkeypatch.setattr(rollups, "ROLLUPS", changed)
    after = rollups.current_builds(client, database, "section", 1)
    assert not set(before) & set(after)
    hours = run_category(client, settings, "weekday_hour", scope="section", scope_id=1).rows
    assert sum(row["events"] for row in hours) < 1000  # built again under the new definition (videos left out)


def test_rollup_tables_with_states_read_small_granules(ch_db):
    """A read decompresses and deserializes whole granules: with ~1,000-row granules of ~1.5 KB uniqExact states, a
    small section's chart merged thousands of other scopes' states (20 of 23 ms at 5M events). Every rollup table that
    holds states is created with 256-row granules (migration 0013)."""
    client, settings = ch_db
    with_states = {table for table, spec in rollups.ROLLUPS.items() if re.search(r"State(If)?\(", spec["values"])}
    assert {"rollup_content_slice", "rollup_events_daily", "rollup_learner_pages"} <= with_states
    engines = dict(
        client.query(
            "SELECT name, engine_full FROM system.tables WHERE database = {db:String}",
            parameters={"db": settings.clickhouse_database},
        ).result_rows
    )
    for table in with_states:
        assert "index_granularity = 256" in engines[table], table


# One section, LEARNERS learners each active on every one of 120 days from January 2026 (four monthly partitions).
LEARNERS = 100
EVERY_DAY = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, scaled_score,
    completion, event_hash)
SELECT 7, 70, concat('d', toString(number % {learners})),
    toDateTime64('2026-01-01 10:00:00', 3) + toIntervalDay(intDiv(number, {learners})) + toIntervalSecond(number % 97),
    if(number % 3 = 0, 'activity_attempt', 'page_viewed'), 'http://adlnet.gov/expapi/verbs/completed',
    if(number % 3 = 0, NULL, number % 11), if(number % 3 = 0, (number % 10) / 10, NULL), number % 2 = 0,
    concat('e', toString(number))
FROM numbers({count})
"""


def test_learners_at_risk_without_dates_reads_learner_totals_not_every_learner_day(ch_db):
    """Without dates the chart needs each learner's totals and the last 14 days only: it reads per-learner slice totals
    and the recent days' rows (~1,800 here, in 256-row granules), not all 12,000 learner-days of the scope (the
    largest 5M section: 237k rows). Dates still read the learner-day rows in range; both equal the raw FINAL read."""
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(EVERY_DAY.format(table=table, learners=LEARNERS, count=LEARNERS * 120))
    data_version.rows_written(settings.clickhouse_database)
    ctx = _context(settings, "section", 7, None, None)
    sql = learners_at_risk.build_sql(ctx)
    params = with_rollup_builds(client, settings, ctx, sql, 7)
    limited = {"max_rows_to_read": 6000, "read_overflow_mode": "throw"}
    rows = client.query(sql, parameters=params, settings=limited).result_rows
    assert len(rows) == LEARNERS
    for start, end in [(None, None), (date(2026, 2, 20), date(2026, 3, 10)), (None, date(2026, 4, 1))]:
        raw = raw_answer(client, settings, "learners_at_risk", "section", 7, start, end)
        same(rollup_answer(client, settings, "learners_at_risk", "section", 7, start, end), raw)
        assert len(raw) == LEARNERS


# Learner ids as sources send them: plain decimal numbers (Torus' user ids) and others (emails, zero-padded, too large,
# signed or spaced numbers; '01005' beside '1005'), one video, one activity and one page in one section over four months.
MIXED_IDS = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    scaled_score, completion, video_url, video_progress, event_hash)
SELECT 9, 90,
    if(number % 50 = 49, ['01005', '4294967296', '-1', ' 5', 'a@example.org', '', '4294967295'][intDiv(number, 50) % 7 + 1],
       toString(1000 + number % {learners})) AS user_id,
    toDateTime64('2026-01-01 10:00:00', 3) + toIntervalDay(number % 110) + toIntervalSecond(number % 61),
    ['video', 'activity_attempt', 'page_viewed'][number % 3 + 1] AS event_type,
    if(event_type = 'video', if(number % 4 = 0, 'https://w3id.org/xapi/video/verbs/completed',
        'https://w3id.org/xapi/video/verbs/played'), 'http://adlnet.gov/expapi/verbs/completed'),
    if(event_type = 'page_viewed', 5, NULL), if(event_type = 'activity_attempt', 77, NULL),
    if(event_type = 'activity_attempt', (number % 10) / 10, NULL), event_type = 'page_viewed',
    if(event_type = 'video', 'https://videos.example/one.mp4', NULL), if(event_type = 'video', (number % 5) / 5, NULL),
    concat('m', toString(number))
FROM numbers({count})
"""


def test_content_charts_merge_integer_learner_ids_as_bitmaps(ch_db):
    """Distinct viewers, completers and learners per content item merge one state per item and month: as 64-bit hash
    sets that is 16 bytes a learner and row to read and insert again (half of video's and engagement's answer on the
    largest 5M section). Ids that are plain decimal numbers below 2^32 (Torus' user ids) are kept as roaring bitmaps
    (4 bytes a learner stored), the others as hashes; the counts equal the raw FINAL read for every kind of id."""
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(MIXED_IDS.format(table=table, learners=1000, count=12000))
    data_version.rows_written(settings.clickhouse_database)
    for key in ("video", "engagement", "assessment"):
        for start, end in [(None, None), (date(2026, 2, 3), date(2026, 3, 20))]:
            raw = raw_answer(client, settings, key, "section", 9, start, end)
            assert raw and raw[0].get("viewers", raw[0].get("learners")) > 900
            same(rollup_answer(client, settings, key, "section", 9, start, end), raw)
    database = settings.clickhouse_database
    stored = client.query(
        "SELECT sum(data_uncompressed_bytes) FROM system.parts_columns WHERE database = {db:String} AND active "
        "AND table = 'rollup_content_slice' AND (column LIKE 'learner%' OR column LIKE 'completer%')",
        parameters={"db": database},
    ).result_rows[0][0]
    learners = client.query(  # learners per item and month, and completers of the video per month: what the states hold
        f"""SELECT (SELECT count() FROM (SELECT DISTINCT event_type, toYYYYMM(timestamp), user_id FROM {table} FINAL
            WHERE user_id IS NOT NULL))
        + (SELECT count() FROM (SELECT DISTINCT toYYYYMM(timestamp), user_id FROM {table} FINAL WHERE user_id IS NOT NULL
            AND event_type = 'video' AND (verb_id LIKE '%completed' OR video_progress >= 0.8)))"""
    ).result_rows[0][0]
    assert learners > 6_000
    assert stored / learners < 8, (stored, learners)  # 64-bit hash sets: 16 bytes a learner (measured)


def test_summary_and_sections_compared_merge_integer_learner_ids_as_bitmaps(ch_db):
    """The summary's and the sections compared's distinct learners merge one state per section, day and event type
    (the largest 5M project: 40k rows of 64-bit hash sets); integer ids are kept as bitmaps there too, equal to the raw
    FINAL read for every kind of id."""
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(MIXED_IDS.format(table=table, learners=1000, count=12000))
    data_version.rows_written(settings.clickhouse_database)
    for key, scope, scope_id in [("event_summary", "section", 9), ("section_comparison", "project", 90)]:
        for start, end in [(None, None), (date(2026, 2, 3), date(2026, 3, 20))]:
            raw = raw_answer(client, settings, key, scope, scope_id, start, end)
            assert raw and max(row["learners"] for row in raw) > 900
            same(rollup_answer(client, settings, key, scope, scope_id, start, end), raw)
    stored = client.query(
        "SELECT sum(data_uncompressed_bytes) FROM system.parts_columns WHERE database = {db:String} AND active "
        "AND table IN ('rollup_events_daily', 'rollup_events_slice') AND column LIKE 'learner%'",
        parameters={"db": settings.clickhouse_database},
    ).result_rows[0][0]
    learners = client.query(  # what the daily and whole-slice states hold, for both scopes
        f"""SELECT 2 * ((SELECT count() FROM (SELECT DISTINCT event_type, toDate(timestamp), user_id FROM {table} FINAL
            WHERE user_id IS NOT NULL)) + (SELECT count() FROM (SELECT DISTINCT event_type, toYYYYMM(timestamp), user_id
            FROM {table} FINAL WHERE user_id IS NOT NULL)))"""
    ).result_rows[0][0]
    assert stored / learners < 8, (stored, learners)
