-- Rollups: exact per-day aggregates of raw_events for the curated dashboards (xolap.analytics.rollups, docs/rollups.md).
-- They are computed from the deduplicated read (raw_events FINAL) one slice at a time, never from insert blocks, so a
-- statement inserted twice counts once. A slice is one scope (section or project) in one monthly partition of
-- raw_events; its build id hashes the scope, the partition and the partition's part set (the token), so new rows,
-- merges, deletes or a dropped partition give a new build, and readers read only the builds of the current parts.
-- Every rollup table is keyed by (scope_kind, scope_id, build, dims): two processes building the same slice at once
-- write the same rows, which ReplacingMergeTree (read with FINAL) keeps once.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.rollup_slices {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    partition String,
    build UInt64,
    built_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = {{engine ReplacingMergeTree rollup_slices}}
ORDER BY (scope_kind, scope_id, build);
CREATE TABLE IF NOT EXISTS {{db}}.rollup_events_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    section_id Nullable(UInt64),
    day Date,
    event_type LowCardinality(String),
    events UInt64,
    learners AggregateFunction(uniqExact, Nullable(UInt64)),
    first_event DateTime64(3),
    last_event DateTime64(3),
    scored UInt64,
    score_sum Float64,
    completed UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_events_daily}}
ORDER BY (scope_kind, scope_id, build, section_id, day, event_type)
SETTINGS allow_nullable_key = 1;
CREATE TABLE IF NOT EXISTS {{db}}.rollup_hourly {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    day Date,
    hour UInt8,
    events UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_hourly}}
ORDER BY (scope_kind, scope_id, build, day, hour);
CREATE TABLE IF NOT EXISTS {{db}}.rollup_part_attempts {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    day Date,
    hints UInt32,
    score_fifth Nullable(UInt8),
    attempts UInt64,
    successes UInt64,
    scored UInt64,
    score_sum Float64
)
ENGINE = {{engine ReplacingMergeTree rollup_part_attempts}}
ORDER BY (scope_kind, scope_id, build, day, hints, score_fifth)
SETTINGS allow_nullable_key = 1;
CREATE TABLE IF NOT EXISTS {{db}}.rollup_learners_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    day Date,
    events UInt64,
    scored UInt64,
    score_sum Float64
)
ENGINE = {{engine ReplacingMergeTree rollup_learners_daily}}
ORDER BY (scope_kind, scope_id, build, user_id, day);
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_learners_daily {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_part_attempts {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_hourly {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_events_daily {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}} SYNC;
