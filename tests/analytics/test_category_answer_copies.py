"""Per-answer shortcuts keep their meaning: each answer's spec is a fresh copy (presenting and filling it never
reaches the category's own spec or another answer), and is_embedded_clickhouse (no path resolve) agrees with the
effective URL for every kind of clickhouse_url."""

from __future__ import annotations

import orjson
import pytest

from xolap.analytics.categories import run_category
from xolap.analytics.categories.registry import CATEGORIES


def test_each_answer_has_its_own_spec(ch_db):
    client, settings = ch_db
    for key in ("cross_event", "engagement"):
        before = orjson.dumps(CATEGORIES[key].spec)
        first = run_category(client, settings, key, scope="section", scope_id=1)
        first.spec["data"]["values"].append({"mutated": True})
        first.spec["title"] = "changed"
        second = run_category(client, settings, key, scope="section", scope_id=1)
        assert second.spec["data"]["values"] == [] and second.spec.get("title") != "changed"
        assert orjson.dumps(CATEGORIES[key].spec) == before
        assert second.spec is not first.spec and second.spec != CATEGORIES[key].spec


@pytest.mark.parametrize("url", [None, "", "chdb:///tmp/x/clickhouse", "http://127.0.0.1:8123/", "https://ch:8443"])
def test_embedded_means_the_effective_url_is_chdb(base_settings, url):
    settings = base_settings.model_copy(update={"clickhouse_url": url})
    assert settings.is_embedded_clickhouse == settings.effective_clickhouse_url.startswith("chdb://")
