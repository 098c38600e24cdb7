"""@xapi/xapi (npm; a devDependency in package.json, installed by `make`) drives the document resources of a live
app from Node: State create (POST merge), set, list, delete one and all; activity and agent profiles created with
If-None-Match: *, a stale If-Match refused with 412, updated with the ETag, merged, listed, deleted; Agents and
Activities. The driver (js/xapi_documents.js) prints what it read back as one JSON line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lrs_support import live_lrs

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("js") / "xapi_documents.js"


@pytest.fixture()
def node() -> str:
    found = shutil.which("node")
    if found is None or not (ROOT / "node_modules" / "@xapi" / "xapi").is_dir():
        pytest.skip("needs Node and `npm ci` (make) for @xapi/xapi")
    return found


def test_document_resources_through_xapi_js(runtime, node):
    with live_lrs(runtime) as (endpoint, key, secret):
        run = subprocess.run(
            [node, str(DRIVER), endpoint, key, secret], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["state"] == {"page": 1, "seen": True}
    assert out["stateIds"] == ["bookmark", "notes"] and out["afterDelete"] == ["bookmark"] and out["afterClear"] == []
    assert out["etag"].startswith('"') and len(out["etag"]) == 42 and out["staleStatus"] == 412
    assert out["activityProfile"] == {"theme": "light", "font": "large"} and out["activityProfileIds"] == ["settings"]
    assert out["agentProfile"] == {"lang": "en", "audio": "on"} and out["agentProfileIds"] == ["prefs"]
    assert out["agentProfileIdsAfter"] == []
    assert out["person"] == {
        "objectType": "Person",
        "name": ["Learner Two"],
        "mbox": ["mailto:learner.two@example.org"],
    }
    assert out["activity"] == {"objectType": "Activity", "id": "https://example.org/xapi/course/js"}
