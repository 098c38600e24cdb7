"""Assessment category: attempts, learners, average score and success rate per activity (activity attempts)."""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.clickhouse_math import divide, heaviest_key, round_float
from xolap.analytics.categories.model import Category, Presented, QueryContext
from xolap.analytics.categories.spec_parts import (
    CONTAINER,
    COUNT_FORMAT,
    LEGEND,
    NAME_LEGEND,
    SCHEMA,
    percent,
    tip_count,
    tip_percent,
    tip_text,
)
from xolap.analytics.categories.sql import (
    date_filter,
    day_filter,
    distinct_learners,
    events,
    heaviest_project,
    joined_titles,
    score_fraction,
    title_project,
)
from xolap.analytics.labels import add_labels
from xolap.analytics.title_lookup import TitleColumn

TOP_ACTIVITIES = 20
CHART_ACTIVITIES = 10


TITLE = TitleColumn(
    kind="activity", field="activity_title", id_field="activity_id", fallback=lambda activity: f"Activity {activity}"
)
_FALLBACK = "concat('Activity ', toString(c.activity_id))"  # TITLE's fallback in SQL (raw_sql)
_RATES = """round({avg_score} * 100, 1) AS avg_score_pct,
    round({successes} / attempts * 100, 1) AS success_rate_pct"""
_ORDER = "attempts DESC, activity_id"
PROJECT_EVENTS = "sumMapIf(map(assumeNotNull(r.project_id), r.events), r.project_id IS NOT NULL)"
_TOP = f"""GROUP BY activity_id
ORDER BY {_ORDER}
LIMIT {TOP_ACTIVITIES}"""


def build_sql(ctx: QueryContext) -> str:
    """From the content rollup (xolap.analytics.rollups), one SQL level: learners merged exactly from their
    uniqExact states, attempts and successes exact; the title's project is the one with most attempts
    (sql.heaviest_project; raw: anyHeavy, the same when one project has most of them), its title looked up in Python
    (TITLE); the average score sums the same held scores in another order."""
    rates = _RATES.format(
        avg_score="if(sum(r.scored) = 0, NULL, sum(r.score_sum) / sum(r.scored))", successes="sum(r.successes)"
    )
    return f"""WITH {PROJECT_EVENTS} AS project_events
SELECT
    {heaviest_project("project_events")} AS title_project,
    toUInt64(r.content_id) AS activity_id,
    sum(r.events) AS attempts,
    {rollups.merged_learners("r")} AS learners,
    {rates}
FROM {_source(ctx)}
{_TOP}"""


def unranked_sql(ctx: QueryContext) -> str:
    """build_sql's per-activity facts (the same read and merges) without the title project's pick, the rates, the
    order and the limit, which `rank` adds in Python for a scope with few activities
    (xolap.analytics.categories.small_scopes): one row per activity, by id."""
    return f"""SELECT
    {PROJECT_EVENTS} AS project_events,
    toUInt64(r.content_id) AS activity_id,
    sum(r.events) AS attempts,
    {rollups.merged_learners("r")} AS learners,
    sum(r.scored) AS scored,
    sum(r.score_sum) AS score_sum,
    sum(r.successes) AS successes
FROM {_source(ctx)}
GROUP BY activity_id
ORDER BY activity_id"""


def _source(ctx: QueryContext) -> str:
    return f"""{rollups.rollup_read(ctx.database, ctx.scope, rollups.daily_or_totals("rollup_content_daily", ctx))}
AND r.kind = 'activity'{day_filter(ctx)}"""


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """unranked_sql's rows (by id) as build_sql gives them: the title project (sql.heaviest_project), the average
    score and success rate (clickhouse_math), most attempts first, then id (the rows' order), at most TOP_ACTIVITIES."""
    ranked = [
        {
            "title_project": heaviest_key(row["project_events"]),
            "activity_id": row["activity_id"],
            "attempts": row["attempts"],
            "learners": row["learners"],
            "avg_score_pct": None
            if row["scored"] == 0
            else round_float(divide(row["score_sum"], row["scored"]) * 100, 1),
            "success_rate_pct": round_float(divide(row["successes"], row["attempts"]) * 100, 1),
        }
        for row in rows
    ]
    ranked.sort(key=lambda row: -row["attempts"])
    return ranked[:TOP_ACTIVITIES]


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against), its titles
    joined in SQL (the reference for TITLE's lookup)."""
    chart = f"""SELECT
    {title_project()} AS title_project,
    assumeNotNull(activity_id) AS activity_id,
    count() AS attempts,
    {distinct_learners()} AS learners,
    {_RATES.format(avg_score=f"avg({score_fraction()})", successes="countIf(success)")}
FROM {events(ctx)} AS e
WHERE event_type = 'activity_attempt' AND e.activity_id IS NOT NULL{date_filter(ctx)}
{_TOP}"""
    return joined_titles(ctx, TITLE, chart, _FALLBACK, "toString(c.activity_id)", _ORDER)


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Label each activity (one per id) by its title; repeated titles get '· #<id>' after them."""
    return Presented(
        add_labels(rows, id_field="activity_id", title_field="activity_title", label_field="activity_label"), spec
    )


CATEGORY = Category(
    key="assessment",
    title="Assessment results",
    description=f"Per activity (evaluated activity attempts, one row per activity id): attempts, distinct learners, "
    f"average scaled score and success rate. Top {TOP_ACTIVITIES} activities by attempts in the table; the chart "
    f"shows the top {CHART_ACTIVITIES}. Activities that share a title get labels that tell them apart.",
    chart_explanation=f"Each bubble is an activity (top {CHART_ACTIVITIES} by attempts): further right means higher "
    "average score, higher up means a larger share of successful attempts, and bigger bubbles had more attempts.",
    build_sql=build_sql,
    unranked_sql=unranked_sql,
    rank=rank,
    present=present,
    content_titles=TITLE,
    spec={
        "$schema": SCHEMA,
        "title": "Activities: average score vs success rate",
        "width": CONTAINER,
        "height": 320,
        "transform": [
            {"window": [{"op": "row_number", "as": "rank"}]},
            {"filter": f"datum.rank <= {CHART_ACTIVITIES}"},
        ],
        "mark": {"type": "circle", "opacity": 0.7, "tooltip": True},
        "encoding": {
            "x": percent("avg_score_pct", "Average score (%)"),
            "y": percent("success_rate_pct", "Success rate (%)"),
            "size": {
                "field": "attempts",
                "type": "quantitative",
                "title": "Attempts",
                "legend": {"format": COUNT_FORMAT, **LEGEND},
            },
            "color": {"field": "activity_label", "type": "nominal", "title": "Activity", "legend": NAME_LEGEND},
            "tooltip": [
                tip_text("activity_title", "Activity"),
                tip_text("activity_id", "Activity id"),
                tip_count("attempts", "Attempts"),
                tip_count("learners", "Learners"),
                tip_percent("avg_score_pct", "Average score"),
                tip_percent("success_rate_pct", "Success"),
            ],
        },
    },
)
