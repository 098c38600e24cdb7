-- content_titles: page / activity / video titles for charts, latest per id. A materialized view keeps it fed from
-- raw_events, so every ingest path (ETL, uploader, backfill) maintains it; catalogue imports insert directly.
-- +up
CREATE TABLE IF NOT EXISTS {{db}}.content_titles {{on_cluster}}
(
    project_id UInt64,
    kind LowCardinality(String),
    content_id String,
    title String,
    updated_at DateTime64(3)
)
ENGINE = {{engine ReplacingMergeTree content_titles updated_at}}
ORDER BY (project_id, kind, content_id);
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.content_titles_mv {{on_cluster}} TO {{db}}.content_titles AS
SELECT
    ifNull(project_id, 0) AS project_id,
    multiIf(event_type = 'page_viewed', 'page', event_type = 'video', 'video', 'activity') AS kind,
    multiIf(event_type = 'page_viewed', toString(page_id), event_type = 'video', video_url, toString(activity_id)) AS content_id,
    assumeNotNull(object_name) AS title,
    timestamp AS updated_at
FROM {{db}}.raw_events
WHERE object_name IS NOT NULL AND object_name != ''
  AND multiIf(event_type = 'page_viewed', page_id IS NOT NULL, event_type = 'video', video_url IS NOT NULL,
              event_type = 'activity_attempt', activity_id IS NOT NULL, 0);
-- +down
DROP VIEW IF EXISTS {{db}}.content_titles_mv {{on_cluster}} SYNC;
DROP TABLE IF EXISTS {{db}}.content_titles {{on_cluster}} SYNC;
