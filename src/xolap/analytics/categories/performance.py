"""Performance category: part-attempt score distribution in 20% buckets, with the average hints requested per bucket."""

from __future__ import annotations

from typing import Any

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, Presented, QueryContext, every_bucket
from xolap.analytics.categories.spec_parts import CONTAINER, DECIMAL_FORMAT, LEGEND, SCHEMA, count, tip_count
from xolap.analytics.categories.sql import date_filter, day_filter, events

_OUTER = """SELECT
    b.bucket AS bucket,
    concat(toString(b.bucket * 20), '–', toString(b.bucket * 20 + 20), '%') AS score_range,
    b.attempts AS attempts,
    round(b.avg_hints, 2) AS avg_hints
FROM ("""


BUCKETS = 5
COLUMNS = ["bucket", "score_range", "attempts", "avg_hints"]


def score_range(bucket: int) -> str:
    """A bucket's words as the SQL spells them: '0–20%' … '80–100%'."""
    return f"{bucket * 20}–{bucket * 20 + 20}%"


def build_sql(ctx: QueryContext) -> str:
    """From the part-attempt rollup (xolap.analytics.rollups; its score_fifth is this bucket), exact as raw_sql, in one
    SQL level: buckets without attempts and every bucket's words are added by `present` (raw_sql's WITH FILL)."""
    return f"""SELECT
    assumeNotNull(r.score_fifth) AS bucket,
    sum(r.attempts) AS attempts,
    round(sum(r.hints * r.attempts) / attempts, 2) AS avg_hints
FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_part_attempts")}
AND r.score_fifth IS NOT NULL{day_filter(ctx)}
GROUP BY bucket
ORDER BY bucket"""


def present(rows: list[dict[str, Any]], spec: dict[str, Any]) -> Presented:
    """Every bucket in order with its words, one without attempts as 0 attempts and 0 hints (as raw_sql's WITH FILL
    gives it)."""
    filled = every_bucket(rows, BUCKETS, lambda bucket: {"bucket": bucket, "attempts": 0, "avg_hints": 0.0})
    return Presented(
        [
            {
                "bucket": row["bucket"],
                "score_range": score_range(row["bucket"]),
                "attempts": row["attempts"],
                "avg_hints": row["avg_hints"],
            }
            for row in filled
        ],
        spec,
        columns=COLUMNS,
    )


def raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    return f"""{_OUTER}
    SELECT
        toUInt8(least(greatest(floor(assumeNotNull(scaled_score) * 5), 0), 4)) AS bucket,
        count() AS attempts,
        avg(ifNull(hints_requested, 0)) AS avg_hints
    FROM {events(ctx)} AS e
    WHERE event_type = 'part_attempt' AND scaled_score IS NOT NULL{date_filter(ctx)}
    GROUP BY bucket
    ORDER BY bucket WITH FILL FROM 0 TO 5
) AS b
ORDER BY bucket"""


CATEGORY = Category(
    key="performance",
    title="Score distribution",
    description="Evaluated question attempts (part attempts) grouped by scaled score in 20% buckets (a score of "
    "exactly 100% falls in 80–100%), with the average number of hints requested in each bucket.",
    chart_explanation="Bar height is the number of question attempts scoring in that range; darker bars mean learners "
    "asked for more hints on average.",
    build_sql=build_sql,
    present=present,
    count_field="attempts",
    min_count=1,
    spec={
        "$schema": SCHEMA,
        "title": "Question-attempt scores",
        "width": CONTAINER,
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "score_range", "type": "ordinal", "title": "Score", "sort": {"field": "bucket"}},
            "y": count("attempts", "Question attempts"),
            "color": {
                "field": "avg_hints",
                "type": "quantitative",
                "title": "Average hints",
                "scale": {"scheme": "oranges"},
                "legend": {"format": ".1f", **LEGEND},
            },
            "tooltip": [
                {"field": "score_range", "title": "Score"},
                tip_count("attempts", "Question attempts"),
                {"field": "avg_hints", "type": "quantitative", "title": "Average hints", "format": DECIMAL_FORMAT},
            ],
        },
    },
)
