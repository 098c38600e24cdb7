"""The marks and encoding types Vega-Lite knows, and a spec's first use of another in plain words: Vega-Lite answers
an unknown mark with "Cannot read properties of undefined (reading 'filled')" and an unknown type with
'Invalid field type "undefined"', in the browser and in server-side renders alike.

`spec_mistake(spec)` returns None or the mistake with its JSON path (as xolap.analytics.vega_safety names paths);
`vocabulary()` gives the same words to the dashboard's custom tab, which checks a spec before drawing it.
"""

from __future__ import annotations

import json
from typing import Any

# Vega-Lite 6's mark types (composite marks included)
MARKS = (
    "arc",
    "area",
    "bar",
    "boxplot",
    "circle",
    "errorband",
    "errorbar",
    "geoshape",
    "image",
    "line",
    "point",
    "rect",
    "rule",
    "square",
    "text",
    "tick",
    "trail",
)
# an encoding's measurement type; Vega-Lite also takes them in any case and as q, t, o, n
FIELD_TYPES = ("quantitative", "temporal", "ordinal", "nominal", "geojson")
TYPE_SHORTHANDS = ("q", "t", "o", "n")
VIEW_LISTS = ("layer", "concat", "hconcat", "vconcat")
# what makes a spec a chart: one of these at its top (an empty spec means no chart, data only)
VIEW_KEYS = ("mark", *VIEW_LISTS, "facet", "repeat")


def vocabulary() -> dict[str, list[str]]:
    """The words, for the browser's own check (static/js/dashboard.js specMistake: the same rules and messages)."""
    return {
        "marks": list(MARKS),
        "types": list(FIELD_TYPES),
        "type_shorthands": list(TYPE_SHORTHANDS),
        "view_keys": list(VIEW_KEYS),
    }


def spec_mistake(spec: Any) -> str | None:
    """The first mark or encoding type Vega-Lite would not know, as '<path>: <what> …', or None."""
    if not isinstance(spec, dict):
        return "$: a Vega-Lite spec is a JSON object ({ … })"
    if spec and not any(key in spec for key in VIEW_KEYS):
        return f"$: a chart needs a mark (or {', '.join(VIEW_KEYS[1:])})"
    return _view_mistake(spec, "$")


def _view_mistake(view: dict[str, Any], path: str) -> str | None:
    mark = view.get("mark")
    if mark is not None:
        mark_type, mark_path = (
            (mark.get("type"), f"{path}.mark.type") if isinstance(mark, dict) else (mark, path + ".mark")
        )
        if not isinstance(mark_type, str) or mark_type not in MARKS:
            return f"{mark_path}: unknown mark {_shown(mark_type)}; Vega-Lite draws {', '.join(MARKS)}"
    encoding = view.get("encoding")
    if isinstance(encoding, dict):
        for channel, definitions in encoding.items():
            listed = definitions if isinstance(definitions, list) else [definitions]
            for index, definition in enumerate(listed):
                where = f"{path}.encoding.{channel}" + (f"[{index}]" if isinstance(definitions, list) else "")
                mistake = _type_mistake(definition, where)
                if mistake:
                    return mistake
    for key in VIEW_LISTS:
        views = view.get(key)
        if isinstance(views, list):
            for index, inner in enumerate(views):
                if isinstance(inner, dict):
                    mistake = _view_mistake(inner, f"{path}.{key}[{index}]")
                    if mistake:
                        return mistake
    inner_spec = view.get("spec")  # of a facet or a repeat
    if isinstance(inner_spec, dict):
        return _view_mistake(inner_spec, path + ".spec")
    return None


def _type_mistake(definition: Any, where: str) -> str | None:
    if not isinstance(definition, dict) or "type" not in definition:
        return None
    kind = definition["type"]
    if isinstance(kind, str) and kind.lower() in FIELD_TYPES + TYPE_SHORTHANDS:
        return None
    return f"{where}.type: unknown type {_shown(kind)}; use one of {', '.join(FIELD_TYPES)}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return '"' + (text[:60] + "…" if len(text) > 60 else text) + '"'
