"""Vega-Lite pieces the curated charts share: the schema the dashboard loads, container width, number formats that fit
the measure (counts with thousands separators, percentages, days) and axis/legend label room.

Single and layered views are `"width": "container"` so the dashboard can size them to their card; concatenated views
(engagement, section comparison) keep a fixed width per part, since Vega-Lite sizes only single and layered views to
a container.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
CONTAINER = "container"
BAND_PX = 22  # height per row of a container-wide chart with a discrete y axis


def band_height(rows: int) -> int:
    """A numeric height for a container-wide chart with `rows` bands on its y axis: Vega-Lite warns ("Dropping
    fit-y") when such a chart is left to its default step height."""
    return BAND_PX * max(rows, 2)


COUNT_FORMAT = ",d"  # 12,345
PERCENT_FORMAT = ".1f"  # values already in 0..100; titles say "(%)"
DECIMAL_FORMAT = ",.2f"
DATE_FORMAT = "%d %b %Y"  # 02 Mar 2026

LABEL_LIMIT_PX = 260  # room for a label of labels.MAX_LABEL_CHARS characters
# Legends sit under the chart (a narrow screen keeps its width for the plot); a list of names is one column.
LEGEND = {"labelLimit": LABEL_LIMIT_PX, "titleLimit": LABEL_LIMIT_PX, "orient": "bottom"}
NAME_LEGEND = {**LEGEND, "direction": "vertical"}


def count(field: str, title: str, **more: Any) -> dict[str, Any]:
    """A quantitative count channel: whole numbers with thousands separators on the axis."""
    return {
        "field": field,
        "type": "quantitative",
        "title": title,
        "axis": {"format": COUNT_FORMAT, "tickMinStep": 1},
        **more,
    }


def percent(field: str, title: str, **more: Any) -> dict[str, Any]:
    """A quantitative 0..100 channel with a fixed 0–100 scale."""
    return {
        "field": field,
        "type": "quantitative",
        "title": title,
        "scale": {"domain": [0, 100]},
        "axis": {"format": ".0f"},
        **more,
    }


def tip_count(field: str, title: str) -> dict[str, Any]:
    return {"field": field, "type": "quantitative", "title": title, "format": COUNT_FORMAT}


def tip_percent(field: str, title: str) -> dict[str, Any]:
    return {"field": field, "type": "quantitative", "title": f"{title} (%)", "format": PERCENT_FORMAT}


def tip_text(field: str, title: str) -> dict[str, Any]:
    return {"field": field, "type": "nominal", "title": title}


def label_axis(field: str, title: str | None, **more: Any) -> dict[str, Any]:
    """A nominal channel of short unique labels (see xolap.analytics.labels), with room for them on the axis."""
    return {"field": field, "type": "nominal", "title": title, "axis": {"labelLimit": LABEL_LIMIT_PX}, **more}
