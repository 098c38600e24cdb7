"""bench/auth: what authentication and authorization cost per request. Prints a table plus JSON.

    python bench/auth.py [--requests 300] [--json-out F]

Measures argon2 hash and verify (the login cost), and the wall-clock latency (p50/p95) of real requests through the
app (in-process ASGI client) on an embedded Postgres in a temp dir: GET /api/v1/me with a session cookie and with an
API token, a section-scoped route (membership + two flags), an admin page refused with 403, and /healthz without
authentication as the baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from argon2 import PasswordHasher  # noqa: E402


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "n": len(ordered),
    }


def timed(call, n: int) -> dict[str, float]:
    for _ in range(5):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    hasher = PasswordHasher()
    digest = hasher.hash("correct horse battery")
    results: dict[str, dict] = {
        "argon2 hash": timed(lambda: hasher.hash("correct horse battery"), 20),
        "argon2 verify": timed(lambda: hasher.verify(digest, "correct horse battery"), 20),
    }

    data_dir = Path(tempfile.mkdtemp(prefix="xolap-bench-auth-"))
    try:
        from fastapi.testclient import TestClient

        from xolap.config import load_settings
        from xolap.runtime import Runtime
        from xolap.store import accounts, flags
        from xolap.store.models import Project, Section
        from xolap.store.postgres import stop_embedded
        from xolap.web.app import create_app

        runtime = Runtime(load_settings(data_dir=data_dir))
        runtime.migrate_all()
        with runtime.sessions() as session:
            session.add_all([Project(id=7, slug="p"), Section(id=11, slug="a", project_id=7)])
            session.flush()
            user = accounts.create_user(session, "ia@example.org", password="correct horse battery")
            accounts.grant(session, user, section=accounts.resolve_section(session, "a"))
            token = accounts.create_token(session, user)[1]
            flags.set_flag(session, flags.ANALYTICS, True)
            flags.set_flag(session, flags.SECTION_DASHBOARD, True, "section", 11)
            session.commit()
        client = TestClient(create_app(runtime))

        def log_in() -> None:
            client.cookies.clear()
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
            response = client.post(
                "/login",
                data={"email": "ia@example.org", "password": "correct horse battery", "csrf_token": csrf},
                follow_redirects=False,
            )
            assert response.status_code == 303, response.status_code

        results["GET + POST /login (argon2 + session)"] = timed(log_in, 20)
        cookie = {"Accept": "application/json"}
        bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        n = args.requests
        results["GET /healthz (no auth, baseline)"] = timed(lambda: client.get("/healthz"), n)
        results["GET /api/v1/me (session cookie)"] = timed(lambda: client.get("/api/v1/me", headers=cookie), n)
        results["GET /api/v1/me (API token)"] = timed(lambda: client.get("/api/v1/me", headers=bearer), n)
        results["GET /account (session, HTML)"] = timed(lambda: client.get("/account"), n)
        results["GET /admin/users (403)"] = timed(lambda: client.get("/admin/users", headers=cookie), n)
        section_route = "/sections/a/analytics/summary"
        if client.get(section_route, headers=cookie).status_code == 200:
            results[f"GET {section_route} (section access)"] = timed(
                lambda: client.get(section_route, headers=cookie), n
            )
        client.close()
        stop_embedded()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    width = max(len(k) for k in results)
    print(f"{'measurement':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}  {'n':>5}")
    for name, row in results.items():
        print(f"{name:<{width}}  {row['p50_ms']:>9.2f}  {row['p95_ms']:>9.2f}  {row['n']:>5}")
    body = json.dumps(results, indent=2)
    print(body)
    if args.json_out:
        args.json_out.write_text(body)


if __name__ == "__main__":
    main()
