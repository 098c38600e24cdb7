"""Video category: plays, viewers, completions (learners reaching progress ≥ 0.8 or the completed verb) per video."""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.clickhouse_math import divide, heaviest_key, round_float
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.spec_parts import (
    CONTAINER,
    COUNT_FORMAT,
    LEGEND,
    SCHEMA,
    band_height,
    label_axis,
    percent,
    tip_count,
    tip_percent,
    tip_text,
)
from xolap.analytics.categories.sql import (
    PLAYED_VERB,
    VIDEO_COMPLETION_PROGRESS,
    date_filter,
    day_filter,
    distinct_learners,
    events,
    heaviest_project,
    joined_titles,
    title_project,
    video_completed,
)
from xolap.analytics.labels import add_labels, video_short_id
from xolap.analytics.title_lookup import TitleColumn

COMPLETION_PROGRESS = VIDEO_COMPLETION_PROGRESS
TOP_VIDEOS = 20


TITLE = TitleColumn(
    kind="video", field="video_title", id_field="video_url", fallback=lambda url: f"Video {url.split('/')[-1]}"
)
_FALLBACK = "concat('Video ', arrayElement(splitByChar('/', c.video_url), -1))"  # TITLE's fallback in SQL (raw_sql)
_RATES = """round(if(viewers = 0, 0, completions / viewers) * 100, 1) AS completion_rate_pct,
    round({avg_progress} * 100, 1) AS avg_progress_pct"""
_ORDER = "viewers DESC, plays DESC, video_url"
PROJECT_EVENTS = "sumMapIf(map(assumeNotNull(r.project_id), r.events), r.project_id IS NOT NULL)"
_TOP = f"""GROUP BY video_url
ORDER BY {_ORDER}
LIMIT {TOP_VIDEOS}"""


def build_sql(ctx: QueryContext) -> str:
    """From the content rollup (xolap.analytics.rollups), one SQL level: viewers and completers merged exactly from
    their uniqExact states, plays exact; the title's project is the one with most events (sql.heaviest_project; raw:
    anyHeavy, the same when one project has most of them), its title looked up in Python (TITLE); average progress
    sums the same values in another order."""
    avg_progress = "if(sum(r.progress_n) = 0, NULL, sum(r.progress_sum) / sum(r.progress_n))"
    return f"""WITH {PROJECT_EVENTS} AS project_events
SELECT
    {heaviest_project("project_events")} AS title_project,
    r.content_id AS video_url,
    sum(r.plays) AS plays,
    {rollups.merged_learners("r")} AS viewers,
    {rollups.merged_learners("r", "completer")} AS completions,
    {_RATES.format(avg_progress=avg_progress)}
FROM {_source(ctx)}
{_TOP}"""


def unranked_sql(ctx: QueryContext) -> str:
    """build_sql's per-video facts (the same read and merges) without the title project's pick, the rates, the order
    and the limit, which `rank` adds in Python for a scope with few videos (xolap.analytics.categories.small_scopes):
    one row per video, by URL."""
    return f"""SELECT
    {PROJECT_EVENTS} AS project_events,
    r.content_id AS video_url,
    sum(r.plays) AS plays,
    {rollups.merged_learners("r")} AS viewers,
    {rollups.merged_learners("r", "completer")} AS completions,
    sum(r.progress_sum) AS progress_sum,
    sum(r.progress_n) AS progress_n
FROM {_source(ctx)}
GROUP BY video_url
ORDER BY video_url"""


def _source(ctx: QueryContext) -> str:
    return f"""{rollups.rollup_read(ctx.database, ctx.scope, rollups.daily_or_totals("rollup_content_daily", ctx))}
AND r.kind = 'video'{day_filter(ctx)}"""


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """unranked_sql's rows (by URL) as build_sql gives them: the title project (sql.heaviest_project), the completion
    rate and average progress (clickhouse_math), most viewers first, then plays, then URL (the rows' order), at most
    TOP_VIDEOS."""
    ranked = [
        {
            "title_project": heaviest_key(row["project_events"]),
            "video_url": row["video_url"],
            "plays": row["plays"],
            "viewers": row["viewers"],
            "completions": row["completions"],
            "completion_rate_pct": round_float(
                0.0 if row["viewers"] == 0 else divide(row["completions"], row["viewers"]) * 100, 1
            ),
            "avg_progress_pct": None
            if row["progress_n"] == 0
            else round_float(divide(row["progress_sum"], row["progress_n"]) * 100, 1),
        }
        for row in rows
    ]
    ranked.sort(key=lambda row: (-row["viewers"], -row["plays"]))
    return ranked[:TOP_VIDEOS]


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against), its titles
    joined in SQL (the reference for TITLE's lookup)."""
    chart = f"""SELECT
    {title_project()} AS title_project,
    assumeNotNull(video_url) AS video_url,
    countIf(verb_id = '{PLAYED_VERB}') AS plays,
    {distinct_learners()} AS viewers,
    {distinct_learners(video_completed())} AS completions,
    {_RATES.format(avg_progress="avg(video_progress)")}
FROM {events(ctx)} AS e
WHERE event_type = 'video' AND e.video_url IS NOT NULL{date_filter(ctx)}
{_TOP}"""
    return joined_titles(ctx, TITLE, chart, _FALLBACK, "c.video_url", _ORDER)


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Label each video (one per URL) by its title; repeated titles get the file name after them."""
    spec["height"] = band_height(len(rows))
    return Presented(
        add_labels(
            rows, id_field="video_url", title_field="video_title", label_field="video_label", short_id=video_short_id
        ),
        spec,
    )


CATEGORY = Category(
    key="video",
    title="Video engagement",
    description=f"Per video (one row per video URL): play events, distinct viewers, learners who completed it (the "
    "completed verb or progress ≥ 80%), completion rate (completers ÷ viewers, at most 100%) and average progress "
    f"reported. Top {TOP_VIDEOS} videos by viewers. Videos that share a title get "
    "labels that tell them apart.",
    chart_explanation=f"Each bar is one video (top {TOP_VIDEOS} by viewers); its length is the share of viewers who "
    "completed it. Videos with the same title are told apart by their file name. Hover a bar for plays, viewers and "
    "average progress.",
    build_sql=build_sql,
    unranked_sql=unranked_sql,
    rank=rank,
    present=present,
    content_titles=TITLE,
    spec={
        "$schema": SCHEMA,
        "title": "Video completion rate",
        "width": CONTAINER,
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": label_axis("video_label", "Video", sort="-x"),
            "x": percent("completion_rate_pct", "Completion rate (%)"),
            "color": {
                "field": "viewers",
                "type": "quantitative",
                "title": "Viewers",
                "legend": {"format": COUNT_FORMAT, **LEGEND},
            },
            "tooltip": [
                tip_text("video_title", "Video"),
                tip_text("video_url", "Address"),
                tip_count("plays", "Plays"),
                tip_count("viewers", "Viewers"),
                tip_count("completions", "Completed by"),
                tip_percent("completion_rate_pct", "Completion"),
                tip_percent("avg_progress_pct", "Average progress"),
            ],
        },
    },
)
