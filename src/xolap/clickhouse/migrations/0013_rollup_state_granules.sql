-- Rollup tables holding uniqExact states read in granules of 256 rows: a read decompresses and deserializes whole
-- granules, and with the default adaptive granules (~1,000 rows of ~1.5 KB states here) a median section's chart
-- deserialized thousands of other scopes' states (measured at 5M events: merging one section's page viewers took
-- ~20 ms of a 23 ms query; 3.6 ms with 256-row granules). index_granularity cannot be altered, and rollup rows are
-- derived data (rebuilt from raw_events on the next read), so the tables are created again, empty. The whole-slice
-- content rows also hold each item's views per day (day_views), so page engagement without dates reads one table.
-- rollup_slices is emptied too, so no recorded build names rows that are gone (the definitions changed as well, see
-- xolap.analytics.rollups.definition_id, so every slice is built again anyway).
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
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learner_pages_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages_slice}}
ORDER BY (scope_kind, scope_id, build, user_id)
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
SETTINGS allow_nullable_key = 1;
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
    completed UInt64
)
ENGINE = {{engine ReplacingMergeTree rollup_content_slice}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id)
SETTINGS allow_nullable_key = 1;
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
ORDER BY (scope_kind, scope_id, build, user_id, day);
DROP TABLE IF EXISTS {{db}}.rollup_learner_pages_slice {{on_cluster}} SYNC;
CREATE TABLE {{db}}.rollup_learner_pages_slice {{on_cluster}}
(
    scope_kind LowCardinality(String),
    scope_id UInt64,
    build UInt64,
    user_id String,
    pages AggregateFunction(uniqExact, UInt64)
)
ENGINE = {{engine ReplacingMergeTree rollup_learner_pages_slice}}
ORDER BY (scope_kind, scope_id, build, user_id);
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
