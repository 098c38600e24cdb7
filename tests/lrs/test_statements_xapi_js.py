"""@xapi/xapi (npm; a devDependency in package.json, installed by `make`) drives the statements resource of a live
app from Node: save one and a batch, get by id, query by agent + verb with limit 2 following `more` to the end, void
one (then only reachable by voidedStatementId, and gone from queries). The driver (js/xapi_statements.js) prints
what it read back as one JSON line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lrs_support import live_lrs

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("js") / "xapi_statements.js"


@pytest.fixture()
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("needs Node")
    return found


def test_statements_through_xapi_js(runtime, node):
    assert (ROOT / "node_modules" / "@xapi" / "xapi").is_dir(), "run `npm ci` (make): @xapi/xapi is a devDependency"
    with live_lrs(runtime) as (endpoint, key, secret):
        run = subprocess.run(
            [node, str(DRIVER), endpoint, key, secret], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    saved = [out["oneId"], *out["manyIds"]]
    assert len(set(saved)) == 5 and all(len(i) == 36 for i in saved)
    assert out["gotObject"] == "https://example.org/xapi/js/statements/0" and out["gotStored"]
    # ascending by stored; one batch shares one stored time, so its order within is the LRS's tie-break (id)
    assert out["queried"][0] == out["oneId"] and sorted(out["queried"][1:]) == sorted(out["manyIds"])
    assert out["pages"] == 3
    assert out["voidedByIdStatus"] == 404
    assert out["voidedObject"] == "https://example.org/xapi/js/statements/1"
    # the voided statement leaves queries; the voiding statement stays (its StatementRef targets a matching one)
    assert out["manyIds"][0] not in out["afterVoid"]
    assert sorted(out["afterVoid"]) == sorted(saved[:1] + saved[2:] + [out["voidingId"]])
