"""A chart spec naming a mark or an encoding type Vega-Lite does not know is answered in plain words with its JSON
path and the words it could have used (Vega-Lite itself says "Cannot read properties of undefined (reading
'filled')" or 'Invalid field type "undefined"'); every chart we ship and every spelling Vega-Lite takes passes."""

from __future__ import annotations

import copy

import pytest

from xolap.analytics.categories import CATEGORIES
from xolap.analytics.vega_vocabulary import spec_mistake

BAR = {
    "mark": "bar",
    "encoding": {"x": {"field": "a", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
}


@pytest.mark.parametrize(
    ("spec", "path", "word"),
    [
        ({**BAR, "mark": "nosuchmark"}, "$.mark", '"nosuchmark"'),
        ({**BAR, "mark": {"type": "bars", "tooltip": True}}, "$.mark.type", '"bars"'),
        ({**BAR, "mark": {"tooltip": True}}, "$.mark.type", "null"),
        ({**BAR, "mark": 3}, "$.mark", '"3"'),
        ({**BAR, "encoding": {"x": {"field": "a", "type": "wrongtype"}}}, "$.encoding.x.type", '"wrongtype"'),
        ({**BAR, "encoding": {"x": {"field": "a", "type": None}}}, "$.encoding.x.type", "null"),
        (
            {**BAR, "encoding": {"tooltip": [{"field": "a", "type": "nominal"}, {"field": "n", "type": "number"}]}},
            "$.encoding.tooltip[1].type",
            '"number"',
        ),
        ({"layer": [BAR, {**BAR, "mark": "lines"}]}, "$.layer[1].mark", '"lines"'),
        ({"hconcat": [BAR, {"vconcat": [{**BAR, "mark": "pie"}]}]}, "$.hconcat[1].vconcat[0].mark", '"pie"'),
        ({"facet": {"row": {"field": "a", "type": "nominal"}}, "spec": {**BAR, "mark": "dot"}}, "$.spec.mark", '"dot"'),
        ({"repeat": ["n"], "spec": {**BAR, "encoding": {"y": {"field": "n", "type": "count"}}}}, "$.spec", '"count"'),
        ({"title": "Events", "data": {"values": []}}, "$: a chart needs a mark", "layer, concat"),
        (["mark", "bar"], "$", "JSON object"),
        ("bar", "$", "JSON object"),
    ],
)
def test_an_unknown_mark_or_type_is_named_with_its_path_and_the_known_words(spec, path, word):
    mistake = spec_mistake(spec)
    assert mistake is not None and mistake.startswith(path) and word in mistake, mistake
    if "unknown mark" in mistake:
        assert "bar, boxplot" in mistake  # the marks it could have named
    if "unknown type" in mistake:
        assert "quantitative, temporal, ordinal, nominal" in mistake


@pytest.mark.parametrize(
    "spec",
    [
        BAR,
        {**BAR, "mark": {"type": "boxplot", "extent": "min-max"}},
        {**BAR, "encoding": {"x": {"field": "a", "type": "Q"}, "y": {"field": "n", "type": "ORDINAL"}}},
        {**BAR, "encoding": {"x": {"field": "a"}, "y": {"aggregate": "count"}, "color": {"value": "red"}}},
        {"layer": [BAR, {**BAR, "mark": "rule"}]},
        {"facet": {"row": {"field": "a", "type": "nominal"}}, "spec": BAR},
        {},  # no chart: data only
    ],
)
def test_the_spellings_vega_lite_takes_pass(spec):
    assert spec_mistake(spec) is None


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_the_shipped_category_charts_pass(category):
    spec = copy.deepcopy(CATEGORIES[category].spec)
    assert spec_mistake(spec) is None


def test_the_custom_tabs_default_spec_passes():
    from xolap.web.dashboards import DEFAULT_SPEC

    assert spec_mistake(DEFAULT_SPEC) is None
