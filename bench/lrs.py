"""bench/lrs: statements/s through the xAPI LRS (POST /xAPI/statements in batches of 1, 10 and 100; GET paging with
`more`) beside the direct uploader (POST /api/v1/statements, same statements, same batches) in the same run.

Starts `xolap serve` on a scratch data dir (a free port on 127.0.0.1; stopped at the end), creates an LRS credential
with `xolap lrs credentials add --json`, then sends Torus-shaped statements (each POST is a new statement set, so
every one is stored). One client, sequential requests, after an untimed warm-up (20 requests per path, so the
server's worker threads have opened their ClickHouse clients): the per-statement cost of each path.

    python bench/lrs.py [--statements 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from timing import free_port  # bench/, the script's own folder
from verdicts import goal_row, print_verdicts  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
GOAL_X_DIRECT = 2.0  # docs/lrs.md: a statement through the LRS costs at most twice the direct uploader's
OLI = "http://oli.cmu.edu/extensions/"


def statement(rng: random.Random) -> dict:
    page = rng.randint(1000, 5000)
    return {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": "https://torus.example", "name": str(rng.randint(1, 40_000))}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en-US": "viewed"}},
        "object": {
            "id": f"https://torus.example/page/{page}",
            "definition": {"type": "http://oli.cmu.edu/extensions/types/page", "name": {"en-US": f"Page {page}"}},
        },
        "context": {
            "extensions": {OLI + "section_id": rng.randint(1, 200), OLI + "project_id": 5, OLI + "page_id": page}
        },
        "timestamp": f"2025-02-{rng.randint(1, 28):02d}T10:{rng.randint(0, 59):02d}:00.000Z",
    }


def goal_verdicts(results: list[tuple[str, int, int, float, float]]) -> list[dict]:
    """Per batch size: the LRS's ms a statement against GOAL_X_DIRECT x the direct uploader's, both measured in this
    run (results rows: path, batch, statements, statements/s, ms a statement)."""
    by = {(name, batch): ms for name, batch, _, _, ms in results}
    rows = []
    for batch in sorted({batch for _, batch, *_ in results}):
        direct, lrs = by.get(("direct uploader", batch)), by.get(("LRS", batch))
        rows.append(
            goal_row(
                "lrs",
                f"LRS ms a statement, batch {batch} <= {GOAL_X_DIRECT:g}x the direct uploader",
                lrs if direct else None,
                unit="ms",
                at_most=GOAL_X_DIRECT * direct if direct else 0.0,
                baseline=direct,
                baseline_name="direct uploader",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=300, help="statements per path and batch size")
    parser.add_argument("--keep", type=Path, help="keep the data dir here")
    args = parser.parse_args()
    import httpx

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="xolap-bench-lrs-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    admin = "bench-" + uuid.uuid4().hex
    env.update(
        {
            "XOLAP_DATA_DIR": str(data_dir),
            "XOLAP_HOST": "127.0.0.1",
            "XOLAP_PORT": str(port),
            "XOLAP_ADMIN_TOKEN": admin,
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    log = (data_dir / "serve.log").open("wb") if data_dir.exists() else None
    server = subprocess.Popen(
        [sys.executable, "-c", "from xolap.cli import main; main()", "serve"],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("xolap serve did not start; see serve.log in the data dir (--keep)")
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        created = subprocess.run(
            [
                sys.executable,
                "-c",
                "from xolap.cli import main; main()",
                "lrs",
                "credentials",
                "add",
                "--name",
                "bench",
                "--json",
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        cred = json.loads(created.stdout)
        lrs = httpx.Client(
            base_url=base,
            auth=(cred["key"], cred["secret"]),
            timeout=120,
            headers={"X-Experience-API-Version": "1.0.3"},
        )
        direct = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {admin}"})
        rng = random.Random(7)
        for _ in range(20):  # warm-up, untimed: each server worker thread opens its own ClickHouse client once
            for client, path in ((direct, "/api/v1/statements"), (lrs, "/xAPI/statements")):
                client.post(path, json=[statement(rng) for _ in range(10)])
        results = []
        for batch in (1, 10, 100):
            for name, client, path in (
                ("direct uploader", direct, "/api/v1/statements"),
                ("LRS", lrs, "/xAPI/statements"),
            ):
                bodies = [[statement(rng) for _ in range(batch)] for _ in range(max(1, args.statements // batch))]
                started = time.perf_counter()
                for body in bodies:
                    response = client.post(path, json=body if batch > 1 else body[0])
                    assert response.status_code == 200, (name, response.status_code, response.text[:300])
                seconds = time.perf_counter() - started
                count = sum(len(b) for b in bodies)
                results.append((name, batch, count, count / seconds, seconds / count * 1000))
        started, fetched, url = time.perf_counter(), 0, "/xAPI/statements?limit=100"
        while url:
            page = lrs.get(url).json()
            fetched += len(page["statements"])
            url = page["more"]
        paging = fetched / (time.perf_counter() - started)
        print(f"{'path':16} {'batch':>5} {'stmts':>6} {'stmts/s':>9} {'ms/stmt':>8}")
        for name, batch, count, rate, ms in results:
            print(f"{name:16} {batch:5d} {count:6d} {rate:9.1f} {ms:8.2f}")
        for batch in (1, 10, 100):
            d = next(r for r in results if r[0] == "direct uploader" and r[1] == batch)
            lrs = next(r for r in results if r[0] == "LRS" and r[1] == batch)
            print(
                f"batch {batch:3d}: LRS costs {lrs[4] / d[4]:.2f}x the direct uploader per statement "
                f"(goal <= {GOAL_X_DIRECT:g}x)"
            )
        print(f"GET paging (limit 100): {fetched} statements at {paging:.0f} statements/s")
        checked = goal_verdicts(results)
        print_verdicts(checked)
        summary = {
            "bench": "lrs",
            "results": [
                {
                    "path": name,
                    "batch": batch,
                    "statements": count,
                    "statements_per_s": round(rate, 1),
                    "ms": round(ms, 3),
                }
                for name, batch, count, rate, ms in results
            ],
            "paging_statements_per_s": round(paging),
            "goal_verdicts": checked,
        }
        print(json.dumps(summary))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()  # our own child only
                server.wait(10)
        if log:
            log.close()
        if args.keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
