"""bench/postgres_baseline: the curated categories as a Torus-style Postgres app would run them, for bench/analytics.

The same generated events are copied from ClickHouse into a Postgres table `events` (one row per event: a unique
index on event_hash, as an app that inserts with ON CONFLICT DO NOTHING keeps them, so queries need no dedup) with
the indexes such an app has: btree (section_id, timestamp), (project_id, timestamp), (user_id); `content_titles`
has its primary key (project_id, kind, content_id). Postgres is the embedded test-style server of
xolap.store.postgres (pgserver, PostgreSQL 16) in its own scratch directory, stopped and removed at the end.

Each category's SQL here computes what the ClickHouse category computes (same filters, groups and measures; exact
distinct counts; top-N with plain LIMIT where ClickHouse ranks with dense_rank).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

COLUMNS = (
    "user_id",
    "section_id",
    "project_id",
    "timestamp",
    "event_type",
    "verb_id",
    "page_id",
    "video_url",
    "video_progress",
    "activity_id",
    "scaled_score",
    "success",
    "completion",
    "hints_requested",
    "event_hash",
)

SCHEMA = """
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS content_titles;
CREATE TABLE events (
    user_id text, section_id bigint, project_id bigint, "timestamp" timestamp NOT NULL, event_type text NOT NULL,
    verb_id text, page_id bigint, video_url text, video_progress double precision, activity_id bigint,
    scaled_score double precision, success boolean, completion boolean, hints_requested integer, event_hash text NOT NULL
);
CREATE TABLE content_titles (project_id bigint, kind text, content_id text, title text,
                             PRIMARY KEY (project_id, kind, content_id));
"""

INDEXES = """
CREATE UNIQUE INDEX events_hash ON events (event_hash);
CREATE INDEX events_section_time ON events (section_id, "timestamp");
CREATE INDEX events_project_time ON events (project_id, "timestamp");
CREATE INDEX events_user ON events (user_id);
VACUUM ANALYZE events;
VACUUM ANALYZE content_titles;
"""

TITLE = (
    "LEFT JOIN content_titles t ON t.kind = '{kind}' AND t.project_id = {alias}.project_id AND t.content_id = {content}"
)

# {col} is section_id or project_id; %(id)s the scope id.
SQL: dict[str, str] = {
    "event_summary": """
SELECT event_type, count(*) AS events, count(DISTINCT user_id) AS learners, min("timestamp") AS first_event,
       max("timestamp") AS last_event
FROM events WHERE {col} = %(id)s GROUP BY event_type ORDER BY events DESC, event_type""",
    "video": """
WITH v AS (
    SELECT coalesce(project_id, 0) AS project_id, video_url,
           count(*) FILTER (WHERE verb_id = 'https://w3id.org/xapi/video/verbs/played') AS plays,
           count(DISTINCT user_id) AS viewers,
           count(DISTINCT user_id) FILTER (WHERE verb_id = 'https://w3id.org/xapi/video/verbs/completed'
                                           OR video_progress >= 0.8) AS completions,
           avg(video_progress) AS avg_progress
    FROM events WHERE {col} = %(id)s AND event_type = 'video' AND video_url IS NOT NULL
    GROUP BY 1, 2)
SELECT coalesce(nullif(t.title, ''), 'Video ' || split_part(v.video_url, '/', -1)) AS video_title, v.video_url,
       v.plays, v.viewers, v.completions,
       round(CASE WHEN v.viewers = 0 THEN 0 ELSE v.completions::numeric / v.viewers END * 100, 1) AS completion_rate_pct,
       round((v.avg_progress * 100)::numeric, 1) AS avg_progress_pct
FROM v """
    + TITLE.format(kind="video", alias="v", content="v.video_url")
    + """
ORDER BY v.viewers DESC, v.plays DESC, v.video_url LIMIT 20""",
    "assessment": """
WITH a AS (
    SELECT coalesce(project_id, 0) AS project_id, activity_id, count(*) AS attempts,
           count(DISTINCT user_id) AS learners, avg(scaled_score) AS avg_score,
           count(*) FILTER (WHERE success) AS successes
    FROM events WHERE {col} = %(id)s AND event_type = 'activity_attempt' AND activity_id IS NOT NULL
    GROUP BY 1, 2)
SELECT coalesce(nullif(t.title, ''), 'Activity ' || a.activity_id) AS activity_title, a.activity_id, a.attempts,
       a.learners, round((a.avg_score * 100)::numeric, 1) AS avg_score_pct,
       round(a.successes::numeric / a.attempts * 100, 1) AS success_rate_pct
FROM a """
    + TITLE.format(kind="activity", alias="a", content="a.activity_id::text")
    + """
ORDER BY a.attempts DESC, a.activity_id LIMIT 20""",
    "engagement": """
WITH daily AS (
    SELECT coalesce(project_id, 0) AS project_id, page_id, "timestamp"::date AS day, count(*) AS views
    FROM events WHERE {col} = %(id)s AND event_type = 'page_viewed' AND page_id IS NOT NULL GROUP BY 1, 2, 3),
pages AS (
    SELECT coalesce(project_id, 0) AS project_id, page_id, count(*) AS views, count(DISTINCT user_id) AS viewers,
           count(*) FILTER (WHERE completion) AS completed
    FROM events WHERE {col} = %(id)s AND event_type = 'page_viewed' AND page_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY views DESC, 1, 2 LIMIT 20),
g AS (SELECT CASE WHEN max(day) - min(day) <= 25 THEN 'day' WHEN max(day) - min(day) <= 175 THEN 'week'
                  ELSE 'month' END AS granularity FROM daily)
SELECT coalesce(nullif(t.title, ''), 'Page ' || p.page_id) AS page_title, p.page_id,
       date_trunc(g.granularity, d.day)::date AS period, g.granularity, sum(d.views) AS period_views,
       p.views, p.viewers, p.completed, round(p.completed::numeric / p.views * 100, 1) AS completion_pct
FROM pages p JOIN daily d USING (project_id, page_id) CROSS JOIN g
"""
    + TITLE.format(kind="page", alias="p", content="p.page_id::text")
    + """
GROUP BY 1, 2, 3, 4, 6, 7, 8, 9 ORDER BY p.views DESC, p.page_id, period LIMIT 500""",
    "performance": """
SELECT b AS bucket, (b * 20) || '–' || (b * 20 + 20) || '%%' AS score_range, coalesce(x.attempts, 0) AS attempts,
       round(coalesce(x.avg_hints, 0)::numeric, 2) AS avg_hints
FROM generate_series(0, 4) AS b LEFT JOIN (
    SELECT least(greatest(floor(scaled_score * 5), 0), 4)::int AS bucket, count(*) AS attempts,
           avg(coalesce(hints_requested, 0)) AS avg_hints
    FROM events WHERE {col} = %(id)s AND event_type = 'part_attempt' AND scaled_score IS NOT NULL GROUP BY 1
) AS x ON x.bucket = b ORDER BY b""",
    "cross_event": """
WITH daily AS (
    SELECT "timestamp"::date AS day, event_type, count(*) AS day_events FROM events WHERE {col} = %(id)s GROUP BY 1, 2),
g AS (SELECT min(day) AS first_day, max(day) AS last_day,
             CASE WHEN max(day) - min(day) <= 42 THEN 'day' WHEN max(day) - min(day) <= 182 THEN 'week'
                  ELSE 'month' END AS grain FROM daily),
p AS (SELECT date_trunc(g.grain, d.day)::date AS period, g.grain, g.first_day, g.last_day, d.event_type, d.day_events
      FROM daily d CROSS JOIN g),
e AS (SELECT period, grain, first_day, last_day, event_type, sum(day_events) AS events,
             CASE grain WHEN 'day' THEN period WHEN 'week' THEN period + 6
                  ELSE (date_trunc('month', period) + interval '1 month - 1 day')::date END AS period_end
      FROM p GROUP BY 1, 2, 3, 4, 5)
SELECT period, grain, event_type, events, period_end - period + 1 AS period_days,
       least(period_end, last_day) - greatest(period, first_day) + 1 AS covered_days,
       least(period_end, last_day) - greatest(period, first_day) < period_end - period AS partial
FROM e ORDER BY period, event_type LIMIT 5000""",
    "learners_at_risk": """
WITH ref AS (SELECT max("timestamp")::date AS ref_day FROM events WHERE {col} = %(id)s),
l AS (
    SELECT user_id AS learner, count(*) AS events,
           count(*) FILTER (WHERE "timestamp"::date > ref.ref_day - 14) AS recent_events,
           max("timestamp")::date AS last_active, ref.ref_day - max("timestamp")::date AS days_inactive,
           count(*) FILTER (WHERE event_type = 'activity_attempt' AND scaled_score IS NOT NULL) AS scored_attempts,
           round((sum(scaled_score) FILTER (WHERE event_type = 'activity_attempt')
                  / nullif(count(*) FILTER (WHERE event_type = 'activity_attempt' AND scaled_score IS NOT NULL), 0)
                  * 100)::numeric, 1) AS avg_score_pct
    FROM events CROSS JOIN ref WHERE {col} = %(id)s AND user_id IS NOT NULL GROUP BY user_id, ref.ref_day),
m AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY recent_events) AS med FROM l),
f AS (SELECT l.*, days_inactive >= 7 AS inactive, recent_events < 0.25 * m.med AS low_activity,
             coalesce(scored_attempts >= 3 AND avg_score_pct < 50, false) AS low_scores FROM l CROSS JOIN m)
SELECT learner, inactive OR low_activity OR low_scores AS at_risk,
       concat_ws(', ', CASE WHEN inactive THEN 'inactive 7+ days' END, CASE WHEN low_activity THEN 'low recent activity' END,
                 CASE WHEN low_scores THEN 'low scores' END) AS reasons,
       events, recent_events, last_active, days_inactive, scored_attempts, avg_score_pct, inactive, low_activity, low_scores
FROM f ORDER BY inactive::int + low_activity::int + low_scores::int DESC, days_inactive DESC, recent_events, learner
LIMIT 100""",
    "weekday_hour": """
SELECT weekday, (ARRAY['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])[weekday] AS day_name, hour, events
FROM (SELECT extract(isodow FROM "timestamp")::int AS weekday, extract(hour FROM "timestamp")::int AS hour,
             count(*) AS events FROM events WHERE {col} = %(id)s GROUP BY 1, 2) AS x
ORDER BY weekday, hour""",
    "hints_success": """
SELECT hints, CASE WHEN hints = 3 THEN '3+' ELSE hints::text END AS hints_label, attempts,
       round(successes::numeric / attempts * 100, 1) AS success_rate_pct, round((avg_score * 100)::numeric, 1) AS avg_score_pct
FROM (SELECT least(coalesce(hints_requested, 0), 3) AS hints, count(*) AS attempts,
             count(*) FILTER (WHERE success) AS successes, avg(scaled_score) AS avg_score
      FROM events WHERE {col} = %(id)s AND event_type = 'part_attempt' GROUP BY 1) AS x
ORDER BY hints""",
    "course_progress": """
WITH v AS (SELECT user_id, page_id FROM events
           WHERE {col} = %(id)s AND event_type = 'page_viewed' AND user_id IS NOT NULL AND page_id IS NOT NULL),
per AS (SELECT user_id, count(DISTINCT page_id) AS viewed FROM v GROUP BY user_id),
tot AS (SELECT count(DISTINCT page_id) AS total_pages FROM v),
b AS (SELECT least(floor(viewed::numeric / total_pages * 10), 9)::int AS bucket, count(*) AS learners,
             max(total_pages) AS total_pages FROM per CROSS JOIN tot GROUP BY 1)
SELECT s AS bucket, (s * 10) || '–' || (s * 10 + 10) || '%%' AS share_range, coalesce(b.learners, 0) AS learners,
       b.total_pages
FROM generate_series(0, 9) AS s LEFT JOIN b ON b.bucket = s ORDER BY s""",
    "section_comparison": """
SELECT 'Section ' || section_id AS section, section_id, count(DISTINCT user_id) AS learners, count(*) AS events,
       round((avg(scaled_score) FILTER (WHERE event_type = 'activity_attempt') * 100)::numeric, 1) AS avg_score_pct,
       round((count(*) FILTER (WHERE event_type = 'page_viewed' AND completion))::numeric
             / nullif(count(*) FILTER (WHERE event_type = 'page_viewed'), 0) * 100, 1) AS page_completion_pct
FROM events WHERE {col} = %(id)s AND section_id IS NOT NULL GROUP BY section_id ORDER BY events DESC, section_id
LIMIT 100""",
}


class PostgresBaseline:
    """An embedded Postgres holding the bench's events; run(key, scope, id) times one category there."""

    def __init__(self):
        from xolap.store.postgres import start_embedded

        root = Path(tempfile.mkdtemp(prefix="xolap-bench-pg-"))
        # Registered before pgserver registers its own exit handler (which leaves a lock file beside pgdata), so it
        # runs after it: the scratch folder goes, lock file included.
        atexit.register(shutil.rmtree, root, True)
        self.pgdata = root / "postgres"
        self.url = start_embedded(self.pgdata)
        import psycopg

        self.conn = psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        from xolap.store.postgres import stop_embedded

        try:
            self.conn.close()
        finally:
            stop_embedded(self.pgdata)

    def load(self, client, database: str, *, parts: int = 8) -> dict:
        """Copy raw_events (deduplicated, FINAL) and content_titles from ClickHouse, then build the indexes."""
        started = time.perf_counter()
        self.conn.execute(SCHEMA)
        rows = 0
        select = ", ".join(f"`{c}`" for c in COLUMNS)
        for part in range(parts):
            data = client.raw_query(
                f"SELECT {select} FROM `{database}`.raw_events FINAL WHERE cityHash64(event_hash) % {parts} = {part} "
                f"FORMAT TabSeparated"
            )
            rows += data.count(b"\n")
            with self.conn.cursor().copy(
                f"COPY events ({', '.join(chr(34) + c + chr(34) for c in COLUMNS)}) FROM STDIN"
            ) as copy:
                for offset in range(0, len(data), 1 << 22):
                    copy.write(data[offset : offset + (1 << 22)])
        titles = client.raw_query(
            f"SELECT project_id, kind, content_id, argMax(title, updated_at) FROM `{database}`.content_titles "
            f"GROUP BY project_id, kind, content_id FORMAT TabSeparated"
        )
        with self.conn.cursor().copy("COPY content_titles FROM STDIN") as copy:
            copy.write(titles)
        copied = time.perf_counter() - started
        started = time.perf_counter()
        for statement in filter(str.strip, INDEXES.split(";")):
            self.conn.execute(statement)
        size = self.conn.execute("SELECT pg_total_relation_size('events')").fetchone()[0]
        return {
            "rows": rows,
            "copy_s": round(copied, 1),
            "index_s": round(time.perf_counter() - started, 1),
            "bytes": int(size),
        }

    def rows(self, key: str, scope: str, scope_id: int) -> list[tuple]:
        column = "section_id" if scope == "section" else "project_id"
        return self.conn.execute(SQL[key].format(col=column), {"id": scope_id}).fetchall()

    def run(self, key: str, scope: str, scope_id: int) -> float:
        started = time.perf_counter()
        self.rows(key, scope, scope_id)
        return (time.perf_counter() - started) * 1000
