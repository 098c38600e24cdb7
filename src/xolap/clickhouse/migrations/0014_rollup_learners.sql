-- Learners at risk from per-learner slice totals: rollup_learners replaces rollup_learners_daily and holds, per slice,
-- one row per learner and day (whole = 0) and one row per learner for the whole slice (whole = 1, day left at its
-- default; last_day the learner's latest day), both from one GROUPING SETS read (xolap.analytics.rollups). Without
-- dates the chart reads the whole-slice rows and the daily rows of the last 14 days only (the key starts with whole,
-- day), not every learner-day of the scope (237k rows for the largest section at 5M events); with dates it reads the
-- daily rows in range. Created empty: rollup rows are derived, and the changed definitions rebuild every slice. The
-- down migration empties rollup_slices too, so no build recorded under the older definitions names rows now gone.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.rollup_learners {{on_cluster}}
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
DROP TABLE IF EXISTS {{db}}.rollup_learners_daily {{on_cluster}} SYNC;
-- +down
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
DROP TABLE IF EXISTS {{db}}.rollup_learners {{on_cluster}} SYNC;
TRUNCATE TABLE IF EXISTS {{db}}.rollup_slices {{on_cluster}};
