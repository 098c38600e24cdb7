-- rollup_content_daily: per content item (video URL, activity id), project and day, the facts the video and
-- assessment charts need, built like the other rollups (0008, xolap.analytics.rollups): from raw_events FINAL per
-- slice, keyed by build, read with FINAL. Distinct learners and video completers are uniqExact states of
-- cityHash64(user_id) (NULL ignored), so any range merges them exactly.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.rollup_content_daily {{on_cluster}}
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
    score_sum Float64
)
ENGINE = {{engine ReplacingMergeTree rollup_content_daily}}
ORDER BY (scope_kind, scope_id, build, kind, content_id, project_id, day)
SETTINGS allow_nullable_key = 1;
-- +down
DROP TABLE IF EXISTS {{db}}.rollup_content_daily {{on_cluster}} SYNC;
