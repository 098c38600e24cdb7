-- raw_events columns in Torus's DDL order (page_sub_type after part_id, video_played_segments after video_progress),
-- so `SELECT *` and positional Parquet inserts line up with Torus; inserts by name are unaffected.
-- ingest_errors gets a severity: 'error' (the line was rejected) or 'warning' (the row was stored, a malformed
-- optional value in it was stored NULL; the reason names the field and the value).
-- +up
ALTER TABLE {{db}}.raw_events {{on_cluster}} MODIFY COLUMN page_sub_type Nullable(String) AFTER part_id;
ALTER TABLE {{db}}.raw_events {{on_cluster}} MODIFY COLUMN video_played_segments Nullable(String) AFTER video_progress;
ALTER TABLE {{db}}.ingest_errors {{on_cluster}} ADD COLUMN IF NOT EXISTS severity LowCardinality(String) DEFAULT 'error' AFTER ingest_path;
-- +down
ALTER TABLE {{db}}.ingest_errors {{on_cluster}} DROP COLUMN IF EXISTS severity;
ALTER TABLE {{db}}.raw_events {{on_cluster}} MODIFY COLUMN video_played_segments Nullable(String) AFTER video_url;
ALTER TABLE {{db}}.raw_events {{on_cluster}} MODIFY COLUMN page_sub_type Nullable(String) AFTER page_id;
