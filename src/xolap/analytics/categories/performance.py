"""Performance category: part-attempt score distribution in 20% buckets, with the average hints requested per bucket."""

from __future__ import annotations

from xolap.analytics import rollups
from xolap.analytics.categories.model import Category, QueryContext
from xolap.analytics.categories.spec_parts import CONTAINER, DECIMAL_FORMAT, LEGEND, SCHEMA, count, tip_count
from xolap.analytics.categories.sql import date_filter, day_filter, events

_OUTER = """SELECT
    b.bucket AS bucket,
    concat(toString(b.bucket * 20), '–', toString(b.bucket * 20 + 20), '%') AS score_range,
    b.attempts AS attempts,
    round(b.avg_hints, 2) AS avg_hints
FROM ("""


def build_sql(ctx: QueryContext) -> str:
    """From the part-attempt rollup (xolap.analytics.rollups; its score_fifth is this bucket), exact as raw_sql."""
    return f"""{_OUTER}
    SELECT
        assumeNotNull(r.score_fifth) AS bucket,
        sum(r.attempts) AS attempts,
        sum(r.hints * r.attempts) / attempts AS avg_hints
    FROM {rollups.rollup_read(ctx.database, ctx.scope, "rollup_part_attempts")}
    AND r.score_fifth IS NOT NULL{day_filter(ctx)}
    GROUP BY bucket
    ORDER BY bucket WITH FILL FROM 0 TO 5
) AS b
ORDER BY bucket"""


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
