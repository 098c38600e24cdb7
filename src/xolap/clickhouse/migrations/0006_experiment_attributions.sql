-- experiment_attributions: one row per attribution a statement carries in its context extension
-- http://oli.cmu.edu/extensions/experiment_attributions, with Torus's columns, order and key (Torus's DDL after its
-- 20260714/20260811/20260813/20260814 migrations; xolap.xapi.attributions maps them). attribution_hash =
-- SHA-256("<raw_event_hash>:<key>"), so re-ingesting a line replaces its rows instead of adding to them.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.experiment_attributions {{on_cluster}}
(
    raw_event_hash String,
    attribution_hash String,
    event_version DateTime64(3) DEFAULT now64(3),
    inserted_at DateTime DEFAULT now(),
    source_file Nullable(String),
    source_etag Nullable(String),
    source_line Nullable(UInt32),
    raw_event_type LowCardinality(String),
    timestamp DateTime64(3),
    section_id Nullable(UInt64),
    project_id Nullable(UInt64),
    publication_id Nullable(UInt64),
    enrollment_id Nullable(UInt64),
    experiment_role LowCardinality(String),
    attribution_type LowCardinality(String),
    experiment_id Nullable(UInt64),
    experiment_uuid Nullable(String),
    condition_id Nullable(UInt64),
    condition_code Nullable(String),
    assignment_id Nullable(UInt64),
    assignment_key Nullable(String),
    assignment_scope LowCardinality(String) DEFAULT 'intervention',
    algorithm Nullable(String),
    policy_version Nullable(String),
    content_revision_id Nullable(UInt64),
    reward_value Nullable(Float64),
    reward_source Nullable(String),
    intervention_id Nullable(UInt64),
    intervention_key Nullable(String),
    assessment_binding_id Nullable(UInt64),
    assessment_page_resource_id Nullable(UInt64),
    resource_attempt_id Nullable(UInt64),
    disposition Nullable(String),
    reward_threshold Nullable(Float64),
    normalized_score Nullable(Float64),
    page_revision_id Nullable(UInt64),
    INDEX idx_experiment_id experiment_id TYPE minmax GRANULARITY 1,
    INDEX idx_experiment_uuid experiment_uuid TYPE bloom_filter() GRANULARITY 1,
    INDEX idx_experiment_role experiment_role TYPE set(0) GRANULARITY 1,
    INDEX idx_attribution_type attribution_type TYPE set(0) GRANULARITY 1,
    INDEX idx_condition_id condition_id TYPE minmax GRANULARITY 1,
    INDEX idx_assignment_id assignment_id TYPE minmax GRANULARITY 1
)
ENGINE = {{engine ReplacingMergeTree experiment_attributions event_version}}
PARTITION BY toYYYYMM(timestamp)
ORDER BY (raw_event_hash, attribution_hash)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;
-- +down
DROP TABLE IF EXISTS {{db}}.experiment_attributions {{on_cluster}} SYNC;
