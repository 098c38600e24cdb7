-- Single-node ClickHouse ignores insert_deduplication_token unless the table keeps a window of recent insert
-- block ids. ETL, uploader and backfill send a deterministic token per batch/chunk, so a retried insert is
-- dropped instead of written twice (FINAL reads would hide it, but it would still cost merges and disk).
-- Replicated tables keep their own (replicated_deduplication_window) window; the setting is harmless there.
-- +up
ALTER TABLE {{db}}.raw_events {{on_cluster}} MODIFY SETTING non_replicated_deduplication_window = 10000;
-- +down
ALTER TABLE {{db}}.raw_events {{on_cluster}} RESET SETTING non_replicated_deduplication_window;
