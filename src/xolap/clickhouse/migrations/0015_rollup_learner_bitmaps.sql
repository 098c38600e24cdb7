-- Content rollups keep distinct learners (and video completers) as two exact states instead of one 64-bit hash set:
-- ids that are plain decimal numbers below 2^32 (Torus' user ids) in a roaring bitmap (groupBitmap, ~2 bytes a learner,
-- merged by OR of containers), the other ids (emails, padded or large numbers) as cityHash64 values in a uniqExact set,
-- as before. The two never hold the same learner, so the distinct count is the sum of the two merges
-- (xolap.analytics.rollups.merged_learners). Merging one uniqExact state per item and month was half of video's and
-- page engagement's answer on the largest 5M section (16 bytes a learner to deserialize and insert again). Created
-- again, empty: rollup rows are derived, and the changed definitions rebuild every slice; the down migration restores
-- 0013's tables and empties rollup_slices, so no build recorded under the older definitions names rows now gone.
-- +up
DROP TABLE IF EXISTS {{db}}.rollup_content_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_content_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    kind LowCardinality(String),
    content_id String,
    project_id Nullable(UInt64),
    day Date,
    events UInt64,
    plays UInt64,
    learner_ids AggregateFunction(groupBitmap, UInt32),
    learner_hashes AggregateFunction(uniqExact, UInt64),
    completer_ids AggregateFunction(groupBitmap, UInt32),
    completer_hashes AggregateFunction(uniqExact, UInt64),
    progress_n UInt64,
    progress_sum Float64,
    successes UInt64,
    scored UInt64,
    score_sum Float64,
    completed UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_content_daily}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id, day)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_content_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_content_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    kind LowCardinality(String),
    content_id String,
    project_id Nullable(UInt64),
    events UInt64,
    plays UInt64,
    learner_ids AggregateFunction(groupBitmap, UInt32),
    learner_hashes AggregateFunction(uniqExact, UInt64),
    completer_ids AggregateFunction(groupBitmap, UInt32),
    completer_hashes AggregateFunction(uniqExact, UInt64),
    progress_n UInt64,
    progress_sum Float64,
    successes UInt64,
    scored UInt64,
    score_sum Float64,
    completed UInt64,
    day_views Map(Date, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_content_slice}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_content_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_content_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    kind LowCardinality(String),
    content_id String,
    project_id Nullable(UInt64),
    day Date,
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
ENGINE = {{engine ReplacingMergeTree rollup_content_daily}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id, day)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_content_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_content_slice {{on_cluster}}
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
    completed UInt64,
    day_views Map(Date, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_content_slice}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
