-- rollup_content_daily also holds page views (kind 'page', content_id the page id) for page engagement: completed
-- counts the completed views. Build ids hash the rollup definitions (xolap.analytics.rollups.definition_id), so
-- slices built before this column are stale and built again.
-- +up
ALTER TABLE {{db}}.rollup_content_daily {{on_cluster}} ADD COLUMN IF NOT EXISTS completed UInt64 DEFAULT 0;
-- +down
ALTER TABLE {{db}}.rollup_content_daily {{on_cluster}} DROP COLUMN IF EXISTS completed;
