-- Course progress from rollups: per learner and day (rollup_learner_pages) and per learner over the whole slice
-- (rollup_learner_pages_slice), the distinct pages the learner viewed as a uniqExact state of page ids. Built like the
-- other rollups (0008, xolap.analytics.rollups): from raw_events FINAL per slice, keyed by build, read with FINAL, so
-- merging the states over any range gives the exact distinct pages per learner and, merged over learners, in scope.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.rollup_learner_pages {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    day Date,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages}}
ORDER BY (scope_kind, scope_id, build, user_id, day);
CREATE TABLE IF NOT EXISTS {{db}}.rollup_learner_pages_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages_slice}}
ORDER BY (scope_kind, scope_id, build, user_id);
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages_slice {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages {{on_cluster}} SYNC;
