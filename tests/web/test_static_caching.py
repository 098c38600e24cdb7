"""Static assets browsers keep (xolap.web.static_assets): pages name every script, style sheet and icon by its
content version, the current version's URL is cached for good, any other URL is revalidated (ETag, 304)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from xolap.web.app import create_app
from xolap.web.static_assets import IMMUTABLE, REVALIDATE, asset_version


@pytest.fixture(scope="module")
def client(base_settings):
    from xolap.runtime import Runtime

    with TestClient(create_app(Runtime(base_settings))) as test_client:
        yield test_client


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_pages_name_every_static_asset_by_its_content_version(client):
    urls = asset_urls(client.get("/login", headers={"Accept": "text/html"}).text)
    assert {"css/app.css", "js/page.js", "vendor/htmx.min.js", "favicon.svg"} <= {
        url.split("?")[0].removeprefix("/static/") for url in urls
    }
    for url in urls:
        path, _, query = url.partition("?")
        assert query == f"v={asset_version(path.removeprefix('/static/'))}" and len(query) == 14, url


def test_the_current_versions_url_is_kept_for_good(client):
    for path in ("css/app.css", "js/dashboard.js", "favicon.svg"):
        response = client.get(f"/static/{path}?v={asset_version(path)}")
        assert response.status_code == 200 and response.headers["cache-control"] == IMMUTABLE, path


def test_unversioned_or_old_urls_are_revalidated_and_answer_304_when_unchanged(client):
    for url in ("/static/js/page.js", "/static/js/page.js?v=0123456789ab", "/static/js/page.js?v="):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["cache-control"] == REVALIDATE, url
        again = client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == REVALIDATE, url
    missing = client.get("/static/js/nope.js?v=0123456789ab")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("cache-control", "")


def test_a_changed_asset_gets_a_new_url(tmp_path, monkeypatch):
    from xolap.web import static_assets

    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("one")
    monkeypatch.setattr(static_assets, "static_dir", lambda: tmp_path)
    static_assets.asset_version.cache_clear()
    try:
        first = static_assets.static_url("js/a.js")
        (tmp_path / "js" / "a.js").write_text("two")
        static_assets.asset_version.cache_clear()  # a new build is a new process
        assert static_assets.static_url("js/a.js") != first and first.startswith("/static/js/a.js?v=")
        assert static_assets.static_url("js/none.js") == "/static/js/none.js"
    finally:
        static_assets.asset_version.cache_clear()
