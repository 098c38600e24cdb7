-- ingest_errors keeps a window of recent insert block ids, as raw_events (0004) and experiment_attributions (0006)
-- do: a backfill chunk inserted again after a crash between its ClickHouse inserts and its Postgres chunk log sends
-- its rejected lines and warnings with the same deterministic insert_deduplication_token, which single-node
-- ClickHouse ignores without the window, so every such line was recorded twice (tests/faults/test_retried_chunk_errors.py).
-- +up
ALTER TABLE {{db}}.ingest_errors {{on_cluster}} MODIFY SETTING non_replicated_deduplication_window = 10000;
-- +down
ALTER TABLE {{db}}.ingest_errors {{on_cluster}} RESET SETTING non_replicated_deduplication_window;
