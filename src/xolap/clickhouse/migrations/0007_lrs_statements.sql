-- lrs_statements: the LRS's full statements as stored (xolap.lrs.storage), one row per statement id (a voided
-- statement is re-inserted with voided = 1 and a higher row_version; reads use FINAL, as raw_events does).
-- Lookup columns are filled at insert: actor/object agent keys, related agents and activities, verb, registration,
-- the statement a StatementRef object targets (ref_target).
-- lrs_attachments: attachment content by sha2.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.lrs_statements {{on_cluster}}
(
    statement_id String,
    stored DateTime64(3, 'UTC'),
    statement String,
    sent String,
    voided UInt8 DEFAULT 0,
    voiding_target String DEFAULT '',
    ref_target String DEFAULT '',
    verb_id String,
    activity_id String,
    agent_keys Array(String),
    related_agent_keys Array(String),
    related_activity_ids Array(String),
    registration String,
    credential_key String,
    section_id UInt64 DEFAULT 0,
    project_id UInt64 DEFAULT 0,
    attachment_hashes Array(String),
    row_version UInt64,
    INDEX lrs_stored_idx stored TYPE minmax GRANULARITY 1
)
ENGINE = {{engine ReplacingMergeTree lrs_statements row_version}}
ORDER BY statement_id;
CREATE TABLE IF NOT EXISTS {{db}}.lrs_attachments {{on_cluster}}
(
    sha2 String,
    content_type String,
    content String,
    stored DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{engine ReplacingMergeTree lrs_attachments}}
ORDER BY sha2;
-- +down
DROP TABLE IF EXISTS {{db}}.lrs_attachments {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.lrs_statements {{on_cluster}} SYNC;
