"""The one sanitizer for every Vega-Lite spec we store, draw in a browser or render on the server: it refuses anything
that could make a chart reach the network (data URLs, image and link URLs, embed options, loaders) and bounds the
spec's size, depth, views, dimensions and expressions. A refusal names the rule and the JSON path where it broke.

Pure Python on plain JSON values; `check_spec(spec)` returns the spec unchanged or raises SpecRefused.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

VEGA_LITE_SCHEMA = re.compile(r"^https://vega\.github\.io/schema/vega-lite/v\d+(\.\d+){0,2}\.json$")
DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]*$")
# Identifiers an expression has no business naming: ways out of the expression sandbox, the page, or the data flow.
DENIED_IDENTIFIERS = re.compile(
    r"\b(constructor|__proto__|prototype|eval|Function|fetch|import|XMLHttpRequest|WebSocket|Worker|globalThis|"
    r"window|document|self|top|parent|location|navigator|open|href|url|load|sanitize|setdata|modify|"
    r"loader|http|file)\b"
)
STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
BRACKET_LITERAL = re.compile(r"\[\s*(['\"])([^'\"\\]*)\1\s*\]")
DENIED_MEMBERS = ("constructor", "__proto__", "prototype")
DATUM_FIELD = re.compile(r"\bdatum\s*\.\s*[A-Za-z_$][\w$]*")

DATA_KEYS = frozenset({"values", "name", "format", "sequence", "sphere", "graticule"})
DIMENSION_KEYS = frozenset(
    {"width", "height", "continuousWidth", "continuousHeight", "discreteWidth", "discreteHeight"}
)
EXPRESSION_KEYS = frozenset({"expr", "signal", "calculate", "test", "filter", "update"})  # and every *Expr key
VIEW_LIST_KEYS = ("layer", "concat", "hconcat", "vconcat")
AUTOSIZE_TYPES = frozenset({"pad", "fit", "fit-x", "fit-y", "none"})
# Keys that configure loading or embedding rather than drawing: never allowed anywhere in a spec.
DENIED_KEYS = {
    "href": "links may not be part of a chart (a click would send data to the link's address)",
    "usermeta": "usermeta may carry embed options; it is not allowed",
    "loader": "a chart may not configure a loader",
    "baseURL": "a chart may not configure a base URL",
    "element": "a parameter may not bind to an element of the page",
    "signals": "raw Vega signals are not allowed (write Vega-Lite params)",
}


class SpecRefused(ValueError):
    """A spec the sanitizer refuses: `path` is the JSON path (e.g. $.layer[1].data.url), `reason` the rule."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class SpecLimits:
    """Bounds on a spec's shape; a spec past any of them is refused, not trimmed."""

    max_bytes: int = 256_000  # the spec as compact JSON, inline data included
    max_depth: int = 40  # nesting of objects and arrays
    max_dimension: int = 4000  # width/height and view sizes, in px
    max_step: int = 200  # px per band of a discrete axis
    max_padding: int = 500  # px
    max_views: int = 50  # views in all layers and concatenations together
    max_concat: int = 20  # entries of one layer/concat/hconcat/vconcat/repeat list
    max_params: int = 50
    max_expression_chars: int = 2000
    max_sequence: int = 100_000  # rows a data sequence generator may make
    max_bins: int = 1000


DEFAULT_LIMITS = SpecLimits()


def check_spec(spec: Any, limits: SpecLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The spec itself when it is safe to draw and render; SpecRefused (what and where) otherwise."""
    if not isinstance(spec, dict):
        raise SpecRefused("$", f"a Vega-Lite spec is a JSON object, got {type(spec).__name__}")
    try:
        size = len(json.dumps(spec, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise SpecRefused("$", f"the spec is not plain JSON ({exc})") from None
    except RecursionError:
        raise SpecRefused("$", f"the spec is nested deeper than {limits.max_depth} levels") from None
    if size > limits.max_bytes:
        raise SpecRefused("$", f"the spec is {size:,} bytes, above the limit of {limits.max_bytes:,}")
    _Checker(limits).check_root(spec)
    return spec


def refusal(spec: Any, limits: SpecLimits = DEFAULT_LIMITS) -> str | None:
    """Why the spec is refused, or None when it is safe."""
    try:
        check_spec(spec, limits)
    except SpecRefused as exc:
        return str(exc)
    return None


class _Checker:
    def __init__(self, limits: SpecLimits) -> None:
        self.limits = limits
        self.views = 0

    def check_root(self, spec: dict[str, Any]) -> None:
        schema = spec.get("$schema")
        if schema is not None and not (isinstance(schema, str) and VEGA_LITE_SCHEMA.match(schema)):
            raise SpecRefused(
                "$.$schema",
                "only the Vega-Lite schema URL https://vega.github.io/schema/vega-lite/v<version>.json is allowed",
            )
        self.walk(spec, "$", 0)

    # ------------------------------------------------------------ the walk

    def walk(self, node: Any, path: str, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise SpecRefused(path, f"the spec is nested deeper than {self.limits.max_depth} levels")
        if isinstance(node, dict):
            self.check_object(node, path, depth)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self.walk(item, f"{path}[{index}]", depth + 1)
        elif isinstance(node, str):
            if "url(" in node.lower().replace(" ", ""):
                raise SpecRefused(path, "CSS url(...) references are not allowed")
        elif isinstance(node, float) and not math.isfinite(node):
            raise SpecRefused(path, "numbers must be finite")

    def check_object(self, node: dict[str, Any], path: str, depth: int) -> None:
        if any(key in node for key in ("mark", *VIEW_LIST_KEYS, "facet", "repeat", "spec")):
            self.views += 1
            if self.views > self.limits.max_views:
                raise SpecRefused(path, f"more than {self.limits.max_views} views in one chart")
        for key, value in node.items():
            here = f"{path}.{key}" if _plain_key(key) else f"{path}[{json.dumps(key)}]"
            if not isinstance(key, str):
                raise SpecRefused(here, "object keys must be strings")
            if key in DENIED_KEYS:
                raise SpecRefused(here, DENIED_KEYS[key])
            if key == "$schema":
                if path != "$":
                    raise SpecRefused(here, "$schema is only allowed at the top of the spec")
                continue
            if key == "url":
                self.check_url(value, here)
                continue
            if key == "data":
                self.check_data(value, here, depth)
                continue
            if key == "datasets":
                self.check_datasets(value, here)
                continue
            if key in DIMENSION_KEYS:
                self.check_dimension(value, here)
            elif key == "step" and path.endswith(".view"):  # config.view.step: px per band (a bin step is not)
                self.check_number(value, here, self.limits.max_step, "step")
            elif key == "padding":
                self.check_padding(value, here)
            elif key == "autosize":
                self.check_autosize(value, here)
            elif key == "maxbins":
                self.check_number(value, here, self.limits.max_bins, "maxbins")
            elif (key in EXPRESSION_KEYS or key.endswith("Expr")) and isinstance(value, str):
                self.check_expression(value, here)
            elif key == "params":
                self.check_list_length(value, here, self.limits.max_params, "params")
            elif key in VIEW_LIST_KEYS:
                self.check_list_length(value, here, self.limits.max_concat, key)
            elif key == "repeat":
                self.check_repeat(value, here)
            self.walk(value, here, depth + 1)

    # ------------------------------------------------------------ rules

    def check_url(self, value: Any, path: str) -> None:
        """A url may only be an inline image (data:image/...;base64), as a string or {"value": ...}."""
        literal = value.get("value") if isinstance(value, dict) and set(value) == {"value"} else value
        if isinstance(literal, str) and DATA_IMAGE.match(literal):
            return
        if isinstance(value, dict) and (
            "field" in value or "expr" in value or "signal" in value or "condition" in value or "datum" in value
        ):
            raise SpecRefused(
                path,
                "a url computed from data or an expression is not allowed (image marks may only "
                "use inline data:image URIs)",
            )
        raise SpecRefused(path, "charts may not load anything: only inline data:image/...;base64 URIs are allowed")

    def check_data(self, value: Any, path: str, depth: int) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise SpecRefused(path, "data must be an object")
        for key in value:
            if key == "url":
                raise SpecRefused(f"{path}.url", "charts may not load data from a URL; the query's rows are the data")
            if key not in DATA_KEYS:
                raise SpecRefused(f"{path}.{key}", f"data may only have {', '.join(sorted(DATA_KEYS))}")
        if "values" in value and not isinstance(value["values"], (list, dict, str)):
            raise SpecRefused(f"{path}.values", "data values must be an array of rows")
        if "sequence" in value:
            self.check_sequence(value["sequence"], f"{path}.sequence")
        for key in ("format", "graticule", "sequence"):
            if key in value:  # inline rows ("values") are data, never loaded: they are not walked
                self.walk(value[key], f"{path}.{key}", depth + 1)

    def check_datasets(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise SpecRefused(path, "datasets must be an object of name → rows")
        for name, rows in value.items():
            if not isinstance(rows, (list, dict, str)):
                raise SpecRefused(f"{path}.{name}", "a dataset must be an array of rows")

    def check_sequence(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise SpecRefused(path, "a sequence is {start, stop, step}")
        start, stop, step = value.get("start", 0), value.get("stop"), value.get("step", 1)
        if not all(_is_number(v) for v in (start, stop, step)) or step == 0:
            raise SpecRefused(path, "a sequence needs numeric start, stop and a non-zero step")
        count = (stop - start) / step
        if count > self.limits.max_sequence:
            raise SpecRefused(
                path, f"the sequence makes {count:,.0f} rows, above the limit of {self.limits.max_sequence:,}"
            )

    def check_dimension(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            if value != "container":
                raise SpecRefused(path, 'a size is a number of px, "container" or {"step": n}')
            return
        if isinstance(value, dict):
            if "step" in value:
                self.check_number(value["step"], f"{path}.step", self.limits.max_step, "step")
            return  # {"band": f}, {"expr": ...} are checked by the walk
        self.check_number(value, path, self.limits.max_dimension, "size")

    def check_padding(self, value: Any, path: str) -> None:
        if isinstance(value, dict) and not set(value) <= {"expr", "signal"}:
            for side, amount in value.items():
                self.check_number(amount, f"{path}.{side}", self.limits.max_padding, "padding")
        else:
            self.check_number(value, path, self.limits.max_padding, "padding")

    def check_autosize(self, value: Any, path: str) -> None:
        kind = value.get("type", "pad") if isinstance(value, dict) else value
        if kind not in AUTOSIZE_TYPES:
            raise SpecRefused(path, f"autosize must be one of {', '.join(sorted(AUTOSIZE_TYPES))}")
        if isinstance(value, dict) and not set(value) <= {"type", "contains", "resize"}:
            raise SpecRefused(path, "autosize may only have type, contains and resize")

    def check_number(self, value: Any, path: str, limit: float, what: str) -> None:
        if isinstance(value, dict) and set(value) <= {"expr", "signal"}:
            return  # an expression; checked by the walk
        if not _is_number(value):
            raise SpecRefused(path, f"{what} must be a number")
        if abs(value) > limit:
            raise SpecRefused(path, f"{what} {value:g} is above the limit of {limit:g}")

    def check_expression(self, text: str, path: str) -> None:
        if len(text) > self.limits.max_expression_chars:
            raise SpecRefused(
                path,
                f"the expression is {len(text):,} characters, above the limit of {self.limits.max_expression_chars:,}",
            )
        for opening in re.finditer(r"\[\s*['\"]", text):  # datum['a field'] is fine; computed or escaped names are not
            index = BRACKET_LITERAL.match(text, opening.start())
            if index is None or index.group(2) in DENIED_MEMBERS:
                raise SpecRefused(path, "the expression may only index with a plain quoted field name")
        code = STRING_LITERAL.sub("''", text)
        member = re.search(r"\.\s*(" + "|".join(DENIED_MEMBERS) + r")\b", code)
        if member:
            raise SpecRefused(path, f"the expression may not use {member.group(1)!r}")
        names = DATUM_FIELD.sub("datum", code)
        found = DENIED_IDENTIFIERS.search(names)
        if found:
            raise SpecRefused(path, f"the expression may not use {found.group(0)!r}")

    def check_list_length(self, value: Any, path: str, limit: int, what: str) -> None:
        if not isinstance(value, list):
            raise SpecRefused(path, f"{what} must be an array")
        if len(value) > limit:
            raise SpecRefused(path, f"{what} has {len(value)} entries, above the limit of {limit}")

    def check_repeat(self, value: Any, path: str) -> None:
        if isinstance(value, list):
            self.check_list_length(value, path, self.limits.max_concat, "repeat")
        elif isinstance(value, dict):
            for key in ("row", "column", "layer"):
                if key in value:
                    self.check_list_length(value[key], f"{path}.{key}", self.limits.max_concat, f"repeat.{key}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain_key(key: Any) -> bool:
    return isinstance(key, str) and key.replace("_", "a").replace("$", "a").isalnum()
