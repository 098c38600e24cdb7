-- Rollup days as Date32: raw_events keeps timestamps of the years 1901-2298 (DateTime64(3)), but a `Date` day holds
-- 1970-2149 only and toDate() wraps outside it, so an event stamped 2290 was charted on 2110-12-26 and one stamped
-- 1905 on 2084-08-04, and learners at risk counted days from 2110 (tests/faults/test_clock_jumps.py). Every day column
-- of the rollups (day, last_day, the keys of day_views) becomes Date32, whose range covers raw_events'. A key column's
-- type cannot change in place and rollup rows are derived (rebuilt from raw_events on the next read), so the tables
-- are created again, empty, and rollup_slices is emptied so no recorded build names rows that are gone. The down
-- migration restores the Date tables and empties rollup_slices the same way.
-- +up
DROP TABLE IF EXISTS {{db}}.rollup_events_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_events_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    section_id Nullable(UInt64),
    day Date32,
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
DROP TABLE IF EXISTS {{db}}.rollup_hourly {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_hourly {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    day Date32,
    hour UInt8,
    events UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_hourly}}
ORDER BY (scope_kind, scope_id, build, day, hour);
DROP TABLE IF EXISTS {{db}}.rollup_part_attempts {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_part_attempts {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    day Date32,
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
DROP TABLE IF EXISTS {{db}}.rollup_content_daily {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_content_daily {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    kind LowCardinality(String),
    content_id String,
    project_id Nullable(UInt64),
    day Date32,
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
    day_views Map(Date32, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_content_slice}}
ORDER BY (scope_kind, scope_id, kind, build, content_id, project_id)
SETTINGS allow_nullable_key = 1, index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learner_pages {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    day Date32,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages}}
ORDER BY (scope_kind, scope_id, build, user_id, day)
SETTINGS index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_learners {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learners {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    whole UInt8,
    day Date32,
    user_id String,
    events UInt64,
    scored UInt64,
    score_sum Float64,
    last_day Date32
)
ENGINE = {{engine ReplacingMergeTree rollup_learners}}
ORDER BY (scope_kind, scope_id, build, whole, day, user_id)
SETTINGS index_granularity = 256;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
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
DROP TABLE IF EXISTS {{db}}.rollup_hourly {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_hourly {{on_cluster}}
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
DROP TABLE IF EXISTS {{db}}.rollup_part_attempts {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_part_attempts {{on_cluster}}
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
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learner_pages {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    day Date,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages}}
ORDER BY (scope_kind, scope_id, build, user_id, day)
SETTINGS index_granularity = 256;
DROP TABLE IF EXISTS {{db}}.rollup_learners {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learners {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    whole UInt8,
    day Date,
    user_id String,
    events UInt64,
    scored UInt64,
    score_sum Float64,
    last_day Date
)
ENGINE = {{engine ReplacingMergeTree rollup_learners}}
ORDER BY (scope_kind, scope_id, build, whole, day, user_id)
SETTINGS index_granularity = 256;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
