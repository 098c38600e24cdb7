-- ingest_errors: every rejected input line (file, line, reason), so bad input is reported and never silently lost.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.ingest_errors {{on_cluster}}
(
    recorded_at DateTime64(3) DEFAULT now64(3),
    ingest_path LowCardinality(String),
    source_file String,
    source_line UInt32,
    reason String,
    raw_line String
)
ENGINE = {{engine MergeTree ingest_errors}}
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (source_file, source_line, recorded_at)
TTL toDateTime(recorded_at) + INTERVAL 180 DAY;
-- +down
DROP TABLE IF EXISTS {{db}}.ingest_errors {{on_cluster}} SYNC;
