-- The content rollups keyed by kind before build: (scope_kind, scope_id, kind, build, content_id, project_id[, day]).
-- Video, assessment and page engagement each read one kind (r.kind = 'video' / 'activity' / 'page') of the scope's
-- current builds; with build before kind a scope's kinds were interleaved build by build, so a chart read every
-- granule of the scope and deserialized the learner bitmaps of the other two kinds too (the largest 5M project's
-- 1,250 whole-slice rows over 5 granules of 256; PREWHERE cannot skip a state in a granule it reads). With kind first
-- the index narrows the read to the chart's kind: docs/rollups.md "Content rollups keyed by kind first". Rows stay
-- unique by the key (the same columns), so FINAL keeps each row once as before. The key of a table cannot be
-- reordered in place and rollup rows are derived (rebuilt from raw_events on the next read), so both tables are created
-- again, empty, and rollup_slices is emptied so no recorded build names content rows that are gone: every slice is
-- built again on its scope's next read (or by the maintenance worker). Running the up again leaves the same empty
-- tables; the down migration restores 0015's key and empties rollup_slices the same way.
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
ORDER BY (scope_kind, scope_id, kind, build, content_id, project_id, day)
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
ORDER BY (scope_kind, scope_id, kind, build, content_id, project_id)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
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
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
