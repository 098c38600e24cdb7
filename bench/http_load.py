"""bench/http_load: dashboards through HTTP as users see them. Starts `xolap serve` on generated data (a scratch data dir,
a free port on 127.0.0.1, stopped at the end) and drives concurrent simulated instructors for a bounded time.

    python bench/http_load.py [--events 200000] [--users 50] [--duration 30] [--json-out F] [--keep DIR]

Each user signs in (GET /login for the CSRF token, POST /login); once every user has (a barrier: 50 argon2 logins
at once are a burst of their own, timed as the login rows), each loops: open their section's dashboard page,
load its summary, switch to three category tabs (category JSON), run a custom query, export it as CSV. Data: the
events of bench/analytics.py (sections of skewed sizes) generated inside ClickHouse; 50 instructors spread over the
25 largest sections. Two phases on the same data, each with its own server: "cold" with the result cache off
(XOLAP_RESULT_CACHE_BYTES=0: every tab runs its query) and "warm" with it on (each user first asks its section's
summary and every tab once, untimed; then tabs of unchanged sections come from xolap.analytics.result_cache).
Prints per page p50/p95 as the client sees it and the server's own time (Server-Timing app;dur), errors (goal 0),
requests/s and the server's RSS per phase; goal p95 <= 150 ms per page (the issue states it at 5M events).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from timing import free_port, percentile  # noqa: E402  (bench/, the script's own folder)
from xolap.web.headers import server_time_ms  # noqa: E402  (how the server writes Server-Timing)

PASSWORD = "bench-pass-1"
TABS = (
    "video",
    "assessment",
    "engagement",
    "performance",
    "cross_event",
    "learners_at_risk",
    "weekday_hour",
    "hints_success",
    "course_progress",
)
CUSTOM_SQL = "SELECT event_type, count() AS events, uniqExact(user_id) AS learners FROM raw_events GROUP BY event_type ORDER BY events DESC"
GOAL_P95_MS = 150


def environment(data_dir: Path, port: int, cache: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update(
        {
            "XOLAP_DATA_DIR": str(data_dir),
            "XOLAP_HOST": "127.0.0.1",
            "XOLAP_PORT": str(port),
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    if not cache:
        env["XOLAP_RESULT_CACHE_BYTES"] = "0"
    return env


# ---------------------------------------------------------------- data (run in a child: chDB is one process per path)


def setup(data_dir: Path, events: int, users: int) -> None:
    """Migrate, generate events, create the sections/projects, flags and instructors; then exit (stops Postgres)."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    import analytics  # bench/analytics.py: the generator SQL

    sys.path.remove(str(ROOT / "bench"))

    from xolap.config import load_settings
    from xolap.runtime import Runtime
    from xolap.store import accounts, flags
    from xolap.store.models import Section
    from xolap.store.postgres import stop_embedded
    from xolap.store.scopes_sync import sync_scopes

    settings = load_settings(data_dir=data_dir)
    runtime = Runtime(settings)
    try:
        runtime.migrate_all()
        client = runtime.clickhouse()
        analytics.DB = settings.clickhouse_database
        info = analytics.generate(client, events)
        sync_scopes(runtime)
        sizes = client.query(
            f"SELECT section_id, count() AS n FROM `{settings.clickhouse_database}`.raw_events "
            "GROUP BY section_id ORDER BY n DESC, section_id LIMIT 25"
        ).result_rows
        plan = []
        with runtime.sessions() as session:
            for name in (flags.ANALYTICS, flags.SECTION_DASHBOARD, flags.PROJECT_DASHBOARD):
                flags.set_flag(session, name, True)
            for index in range(users):
                section_id, size = sizes[index % len(sizes)]
                section = session.get(Section, int(section_id))
                user = accounts.create_user(session, f"instructor{index}@bench.example", password=PASSWORD)
                accounts.grant(session, user, section=section)
                plan.append({"email": user.email, "slug": section.slug, "section_events": int(size)})
            session.commit()
        (data_dir / "bench-http.json").write_text(json.dumps({"data": info, "users": plan}))
    finally:
        stop_embedded()


# ---------------------------------------------------------------- the server


class Server:
    """`xolap serve` in its own process group; stop() sends SIGINT (a clean shutdown) and waits."""

    def __init__(self, data_dir: Path, cache: bool, log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from xolap.cli import main; main()", "serve", "--no-migrate"],
            env=environment(data_dir, self.port, cache),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(ROOT),
        )

    def wait_ready(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xolap serve exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"xolap serve not ready after {timeout} s; see {self.log.name}")

    def rss_bytes(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()  # our own child only
                self.process.wait(10)
        self.log.close()


# ---------------------------------------------------------------- simulated users


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []
        self.cache_hits: dict[str, int] = {}
        self.server_ms: dict[str, list[float]] = {}

    def timed(self, page: str, send) -> object | None:
        started = time.perf_counter()
        try:
            response = send()
        except Exception as exc:  # noqa: BLE001 - counted as an error of this page
            response, problem = None, f"{page}: {type(exc).__name__}: {exc}"
        else:
            problem = (
                None if response.status_code < 400 else f"{page}: HTTP {response.status_code} {response.text[:160]}"
            )
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.times.setdefault(page, []).append(elapsed)
            if response is not None and response.headers.get("x-xolap-cache") == "hit":
                self.cache_hits[page] = self.cache_hits.get(page, 0) + 1
            timing = response.headers.get("server-timing", "") if response is not None else ""
            server = server_time_ms(timing, "app")  # the server's own time for this request
            if server is not None:
                self.server_ms.setdefault(page, []).append(server)
            if problem:
                self.errors[page] = self.errors.get(page, 0) + 1
                if len(self.samples) < 10:
                    self.samples.append(problem)
        return response if problem is None else None


def user_loop(
    base: str, user: dict, recorder: Recorder, duration: float, seed: int, warm_up: bool, ready: threading.Barrier
) -> None:
    import httpx

    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as http:
        page = recorder.timed("login page", lambda: http.get("/login", headers={"Accept": "text/html"}))
        if page is None:
            ready.abort()
            return
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        token = match.group(1) if match else ""
        signed_in = recorder.timed(
            "login",
            lambda: http.post(
                "/login",
                data={"email": user["email"], "password": PASSWORD, "next": "/", "csrf_token": token},
                headers={"Accept": "text/html"},
            ),
        )
        if signed_in is None:
            ready.abort()  # the others stop waiting: this run is not comparable
            return
        api = f"/api/v1/sections/{user['slug']}/analytics"
        if warm_up:  # the warm phase measures unchanged sections: every answer has been asked once (not timed)
            for path in ["/summary"] + [f"/categories/{key}" for key in TABS]:
                http.get(api + path, headers={"Accept": "application/json"})
        try:  # pages are timed once every user has signed in (50 argon2 logins at once would swamp 2 cores)
            ready.wait(timeout=600)
        except threading.BrokenBarrierError:
            return
        stop_at = time.monotonic() + duration
        while time.monotonic() < stop_at:
            dashboard = recorder.timed(
                "dashboard page",
                lambda: http.get(f"/sections/{user['slug']}/analytics", headers={"Accept": "text/html"}),
            )
            csrf = token
            if dashboard is not None:
                found = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text) or re.search(
                    r'name="csrf_token" value="([^"]+)"', dashboard.text
                )
                csrf = found.group(1) if found else token
            json_headers = {"Accept": "application/json"}
            recorder.timed(
                "summary JSON", lambda json_headers=json_headers: http.get(api + "/summary", headers=json_headers)
            )
            for key in rng.sample(TABS, 3):
                recorder.timed(
                    "category tab JSON",
                    lambda key=key, json_headers=json_headers: http.get(
                        f"{api}/categories/{key}", headers=json_headers
                    ),
                )
            unsafe = {"Accept": "application/json", "X-CSRF-Token": csrf}
            recorder.timed(
                "custom query",
                lambda unsafe=unsafe: http.post(api + "/query", json={"sql": CUSTOM_SQL}, headers=unsafe),
            )
            recorder.timed(
                "export CSV",
                lambda unsafe=unsafe: http.post(api + "/export?format=csv", json={"sql": CUSTOM_SQL}, headers=unsafe),
            )


def phase(data_dir: Path, plan: list[dict], users: int, duration: float, cache: bool, log_dir: Path) -> dict:
    name = "warm" if cache else "cold"
    server = Server(data_dir, cache, log_dir / f"serve-{name}.log")
    rss: list[int] = []
    try:
        started = time.monotonic()
        server.wait_ready()
        ready_s = time.monotonic() - started
        recorder = Recorder()
        ready = threading.Barrier(users)
        threads = [
            threading.Thread(
                target=user_loop,
                args=(server.base, plan[i % len(plan)], recorder, duration, i, cache, ready),
                daemon=True,
            )
            for i in range(users)
        ]
        begun = time.perf_counter()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            rss.append(server.rss_bytes())
            time.sleep(1)
        wall = time.perf_counter() - begun
        requests = sum(len(v) for v in recorder.times.values())
        pages = {
            page: {
                "n": len(v),
                "p50_ms": round(percentile(v, 0.5), 1),
                "p95_ms": round(percentile(v, 0.95), 1),
                "errors": recorder.errors.get(page, 0),
                "cache_hits": recorder.cache_hits.get(page, 0),
                "server_p50_ms": round(percentile(recorder.server_ms.get(page, []), 0.5), 2),
                "server_p95_ms": round(percentile(recorder.server_ms.get(page, []), 0.95), 2),
            }
            for page, v in recorder.times.items()
        }
        return {
            "phase": name,
            "ready_s": round(ready_s, 1),
            "wall_s": round(wall, 1),
            "requests": requests,
            "requests_per_s": round(requests / wall, 1),
            "errors": sum(recorder.errors.values()),
            "error_samples": recorder.samples,
            "rss_max_mib": round(max(rss or [0]) / 2**20),
            "rss_end_mib": round((rss or [0])[-1] / 2**20),
            "pages": pages,
        }
    finally:
        server.stop()


def print_report(info: dict, users: int, duration: float, phases: list[dict]) -> None:
    data = info["data"]
    print(
        f"\nbench/http_load: {data['events']:,} events, {data['sections']} sections; {users} users for {duration:.0f} s "
        f"per phase; users' sections hold {min(u['section_events'] for u in info['users']):,}–"
        f"{max(u['section_events'] for u in info['users']):,} events"
    )
    pages = list(dict.fromkeys(page for p in phases for page in p["pages"]))
    header = (
        f"{'page':20}"
        + "".join(f" | {p['phase'] + ' p50/p95 ms':>22} | {'n':>6} | {'err':>4}" for p in phases)
        + f" | goal p95 <= {GOAL_P95_MS}"
    )
    print(header)
    print("-" * len(header))
    for page in pages:
        line = f"{page:20}"
        verdicts = []
        for p in phases:
            r = p["pages"].get(page)
            if r is None:
                line += f" | {'-':>22} | {'-':>6} | {'-':>4}"
                continue
            line += f" | {r['p50_ms']:>10.1f} / {r['p95_ms']:>9.1f} | {r['n']:>6} | {r['errors']:>4}"
            server = f"server {r['server_p50_ms']}/{r['server_p95_ms']} ms"
            hits = f", cache hits {r['cache_hits']}/{r['n']}" if r["cache_hits"] else ""
            verdicts.append(f"{p['phase']} {server}{hits}")
            ok = r["p95_ms"] <= GOAL_P95_MS and r["errors"] == 0
            verdicts.append(f"{p['phase']} {'PASS' if ok else 'MISS'}")
        print(line + " | " + ", ".join(verdicts))
    for p in phases:
        print(
            f"{p['phase']}: {p['requests']} requests in {p['wall_s']} s = {p['requests_per_s']} requests/s; "
            f"errors {p['errors']} (goal 0); server RSS max {p['rss_max_mib']} MiB, at end {p['rss_end_mib']} MiB; "
            f"server ready in {p['ready_s']} s"
        )
        for sample in p["error_samples"]:
            print(f"  error: {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds each phase drives the users")
    parser.add_argument("--phases", default="cold,warm", help="comma list of cold, warm")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep", type=Path, help="use (and keep) this data dir; reuse its data when present")
    parser.add_argument("--setup-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_only:
        setup(args.setup_only, args.events, args.users)
        return
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="xolap-bench-http-"))
    try:
        info_path = data_dir / "bench-http.json"
        if not info_path.exists():
            print(
                f"generating {args.events:,} events and {args.users} users in {data_dir}", file=sys.stderr, flush=True
            )
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--setup-only",
                    str(data_dir),
                    "--events",
                    str(args.events),
                    "--users",
                    str(args.users),
                ],
                check=True,
                env=environment(data_dir, free_port(), True),
            )
        info = json.loads(info_path.read_text())
        phases = []
        for name in (p.strip() for p in args.phases.split(",")):
            print(f"phase {name}: {args.users} users for {args.duration:.0f} s", file=sys.stderr, flush=True)
            phases.append(phase(data_dir, info["users"], args.users, args.duration, name == "warm", data_dir))
        print_report(info, args.users, args.duration, phases)
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        report = {
            "bench": "http",
            "data": info["data"],
            "users": args.users,
            "duration_s": args.duration,
            "goal_p95_ms": GOAL_P95_MS,
            "load_average_after": load,
            "phases": phases,
        }
        text = json.dumps(report, indent=2)
        print(text)
        if args.json_out:
            args.json_out.write_text(text)
    finally:
        if args.keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
