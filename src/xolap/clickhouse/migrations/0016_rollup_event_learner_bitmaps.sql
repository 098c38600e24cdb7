-- The event rollups keep distinct learners as the content rollups do since 0015: plain decimal ids below 2^32 in a
-- roaring bitmap, other ids' cityHash64 in a uniqExact set, counted as the sum of the two merges
-- (xolap.analytics.rollups.merged_learners). Sections compared merges one state per section, day and event type (the
-- largest 5M project: 40k rows), the summary one per event type and month. Created again, empty (derived rows, rebuilt
-- under the changed definitions); the down migration restores 0013's tables and empties rollup_slices.
-- +up
DROP TABLE IF EXISTS {{db}}.rollup_events_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_events_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    section_id Nullable(UInt64),
    day Date,
    event_type LowCardinality(String),
    events UInt64,
    learner_ids AggregateFunction(groupBitmap, UInt32),
    learner_hashes AggregateFunction(uniqExact, UInt64),
    first_event DateTime64(3),
    last_event DateTime64(3),
    scored UInt64,
    score_sum Float64,
    completed UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_events_daily}}
ORDER BY (scope_kind, scope_id, build, section_id, day, event_type)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_events_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_events_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    section_id Nullable(UInt64),
    event_type LowCardinality(String),
    events UInt64,
    learner_ids AggregateFunction(groupBitmap, UInt32),
    learner_hashes AggregateFunction(uniqExact, UInt64),
    first_event DateTime64(3),
    last_event DateTime64(3)
)
ENGINE = {{engine ReplacingMergeTree rollup_events_slice}}
ORDER BY (scope_kind, scope_id, build, section_id, event_type)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_events_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_events_daily {{on_cluster}}
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
SETTINGS allow_nullable_key = 1, index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_events_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_events_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    section_id Nullable(UInt64),
    event_type LowCardinality(String),
    events UInt64,
    learners AggregateFunction(uniqExact, Nullable(UInt64)),
    first_event DateTime64(3),
    last_event DateTime64(3)
)
ENGINE = {{engine ReplacingMergeTree rollup_events_slice}}
ORDER BY (scope_kind, scope_id, build, section_id, event_type)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
