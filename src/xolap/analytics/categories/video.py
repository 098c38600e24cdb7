"""Video category: plays, viewers, completions (learners reaching progress ≥ 0.8 or the completed verb) per video."""

from __future__ import annotations

from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.sql import (
    PLAYED_VERB,
    VIDEO_COMPLETED_VERB,
    date_filter,
    distinct_learners,
    events,
    title_or,
    titles,
)

COMPLETION_PROGRESS = 0.8


def build_sql(ctx: QueryContext) -> str:
    fallback = "concat('Video ', arrayElement(splitByChar('/', v.video_url), -1))"
    return f"""SELECT
    {title_or(fallback)} AS video_title,
    v.video_url AS video_url,
    v.plays AS plays,
    v.viewers AS viewers,
    v.completions AS completions,
    round(if(v.viewers = 0, 0, v.completions / v.viewers) * 100, 1) AS completion_rate_pct,
    round(v.avg_progress * 100, 1) AS avg_progress_pct
FROM (
    SELECT
        ifNull(project_id, 0) AS project_id,
        assumeNotNull(video_url) AS video_url,
        countIf(verb_id = '{PLAYED_VERB}') AS plays,
        {distinct_learners()} AS viewers,
        {distinct_learners(f"verb_id = '{VIDEO_COMPLETED_VERB}' OR video_progress >= {COMPLETION_PROGRESS}")} AS completions,
        avg(video_progress) AS avg_progress
    FROM {events(ctx)} AS e
    WHERE event_type = 'video' AND video_url IS NOT NULL{date_filter(ctx)}
    GROUP BY project_id, video_url
) AS v
LEFT JOIN {titles(ctx, 'video')} AS t ON t.project_id = v.project_id AND t.content_id = v.video_url
ORDER BY v.viewers DESC, v.plays DESC, v.video_url
LIMIT 20"""


CATEGORY = Category(
    key="video",
    title="Video engagement",
    description="Per video: play events, distinct viewers, learners who completed it (the completed verb or progress "
    "≥ 80%), completion rate (completers ÷ viewers) and average progress reported. Top 20 videos by viewers.",
    chart_explanation="Each bar is a video (top 10 by viewers); its length is the share of viewers who completed it. "
    "Hover a bar for plays, viewers and average progress.",
    build_sql=build_sql,
    spec={
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Video completion rate",
        "width": 480,
        "transform": [{"window": [{"op": "row_number", "as": "rank"}]}, {"filter": "datum.rank <= 10"}],
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "video_title", "type": "nominal", "sort": "-x", "title": "Video"},
            "x": {"field": "completion_rate_pct", "type": "quantitative", "title": "Completion rate (%)",
                  "scale": {"domain": [0, 100]}},
            "color": {"field": "viewers", "type": "quantitative", "title": "Viewers"},
            "tooltip": [
                {"field": "video_title", "title": "Video"},
                {"field": "plays", "type": "quantitative", "title": "Plays"},
                {"field": "viewers", "type": "quantitative", "title": "Viewers"},
                {"field": "completions", "type": "quantitative", "title": "Completed by"},
                {"field": "completion_rate_pct", "type": "quantitative", "title": "Completion %"},
                {"field": "avg_progress_pct", "type": "quantitative", "title": "Avg progress %"},
            ],
        },
    },
)
