-- Whole-slice totals beside the daily rollups: the same facts without the day, one row per slice and dimensions.
-- A chart without dates (the dashboard's default) merges one uniqExact state per month instead of one per day, so
-- it re-inserts each learner once per month, not once per active day (xolap.analytics.rollups, docs/rollups.md).
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.rollup_events_slice {{on_cluster}}
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
SETTINGS allow_nullable_key = 1;
CREATE TABLE IF NOT EXISTS {{db}}.rollup_content_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    kind LowCardinality(String),
    content_id String,
    project_id Nullable(UInt64),
    events UInt64,
    plays UInt64,
    learners AggregateFunction(uniqExact, Nullable(UInt64)),
    completers AggregateFunction(uniqExact, Nullable(UInt64)),
    progress_n UInt64,
    progress_sum Float64,
    successes UInt64,
    scored UInt64,
    score_sum Float64,
    completed UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_content_slice}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id)
SETTINGS allow_nullable_key = 1;
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_content_slice {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_events_slice {{on_cluster}} SYNC;
