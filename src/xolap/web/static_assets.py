"""Static files browsers keep: pages name each asset with its content version (`static_url("js/page.js")` gives
`/static/js/page.js?v=<hash>`), and an answer to the URL of the current version says
`Cache-Control: public, max-age=31536000, immutable`, so a browser never asks for it again; a new build changes the
version, hence the URL. Any other URL of a static file (no version, or an old one) answers `no-cache`: the browser
revalidates it with its ETag (304 when unchanged).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def static_dir() -> Path:
    return Path(str(resources.files("xolap.web").joinpath("static")))


@lru_cache(maxsize=256)
def asset_version(path: str) -> str:
    """A short hash of the asset's content ("" for a file that is not there); read once per process."""
    try:
        content = (static_dir() / path).read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(content).hexdigest()[:12]


def static_url(path: str) -> str:
    """The URL of a static asset (path under static/) that names its content version."""
    version = asset_version(path)
    return f"{PREFIX}{path}?v={version}" if version else f"{PREFIX}{path}"


class VersionedStaticFiles(StaticFiles):
    """StaticFiles whose answers say how long a browser may keep them (see the module docstring)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[-1]
            current = asset_version(path)
            response.headers["Cache-Control"] = IMMUTABLE if asked and asked == current else REVALIDATE
        return response
