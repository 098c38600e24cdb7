"""bench/http_load: dashboards through HTTP as users see them. Starts `xolap serve` on generated data (a scratch data dir,
a free port on 127.0.0.1, stopped at the end) and drives concurrent simulated instructors for a bounded time.

    python bench/http_load.py [--events 200000] [--users 50] [--duration 30] [--json-out F] [--keep DIR]
                              [--from-analytics DIR]

--from-analytics DIR reuses the events of a kept bench/analytics data dir (e.g. a copy of its 5M-event dir): its
ClickHouse folder is copied into the serve data dir (never opened where it is: chDB locks a data dir to one process)
and served from its own database; Postgres, scopes and instructors are set up beside it.

The simulated users are coroutines of one asyncio loop in this process, each with one keep-alive connection
(bench/loopback_http.py), so they take little of the two cores the server needs; the report prints the client's own
CPU share beside the server's.
Each user signs in (GET /login for the CSRF token, POST /login; LOGINS_AT_ONCE at a time, as people arrive, timed as
the login rows); once every user has (a barrier), each loops: open their section's dashboard page,
load its summary, switch to three category tabs (category JSON), run a custom query, export it as CSV. Data: the
events of bench/analytics.py (sections of skewed sizes) generated inside ClickHouse; 50 instructors spread over the
25 largest sections. Two phases on the same data, each with its own server: "cold" with the result cache off
(XOLAP_RESULT_CACHE_BYTES=0: every tab runs its query) and "warm" with it on (once all have signed in, each user asks
its section's summary, every tab and its custom query once, untimed, and waits for the others again; then answers
about unchanged sections come from xolap.analytics.result_cache, custom queries and their exports included). In each
phase each user signs out and in again once, at its own moment (user i of n at (0.1 + 0.8 i / n) of the duration, so the
busy logins arrive one by one, not as a burst), timed as "login page (busy)" and "login (busy)": a login beside the
other users' pages, as people arrive while others work (the first login rows are timed with only other logins beside).
Prints per page p50/p95 as the client sees it and the server's own time (Server-Timing app;dur), errors (goal 0),
requests/s and the server's RSS per phase; goal p95 <= 150 ms per page (the issue states it at 5M events). Beside the
verdicts, each phase's closed-loop bound (closed_loop): the users have no think time, so a request waits users /
requests-per-second on average, and the goal needs users / 150 ms requests a second, i.e. at most cores / that rate of
server CPU a request: a phase over that budget misses for capacity, one within it for waiting (queueing, unfairness,
other processes on the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from loopback_http import LoopbackClient, Reply  # noqa: E402  (bench/: the simulated users' light client)
from timing import free_port, percentile  # noqa: E402  (bench/, the script's own folder)
from verdicts import goal_row, print_verdicts  # noqa: E402  (bench/, the script's own folder)
from xolap.web.headers import server_time_ms  # noqa: E402  (how the server writes Server-Timing)

PASSWORD = "bench-pass-1"
ADMIN_EMAIL = "admin@bench.example"  # reads the admin /healthz: the warm phase waits for the rollup worker (untimed)
SETTLE_TIMEOUT_S = 600.0
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
LOGIN_PAGES = ("login page", "login", "login page (busy)", "login (busy)")  # not counted in requests/s (the first two
# are timed before the barrier; the busy ones once per user at its own moment, beside the others' pages)
LOGINS_AT_ONCE = 4  # users sign in a few at a time, as people arrive (argon2 is meant to be slow; a burst of 50
# would time the queue of password hashes, not a login)


SERVER_SRC = str(ROOT / "src")  # the code `xolap serve` runs (--server-src: another tree's, for an A/B)


def environment(data_dir: Path, port: int, cache: bool, database: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update(
        {
            "XOLAP_DATA_DIR": str(data_dir),
            "XOLAP_HOST": "127.0.0.1",
            "XOLAP_PORT": str(port),
            "PYTHONPATH": SERVER_SRC,
        }
    )
    if database:
        env["XOLAP_CLICKHOUSE_DATABASE"] = database
    if not cache:
        env["XOLAP_RESULT_CACHE_BYTES"] = "0"
    return env


# ---------------------------------------------------------------- data (run in a child: chDB is one process per path)


ANALYTICS_INFO = "bench-info.json"  # what bench/analytics.py writes beside the events it generated


def reuse_analytics_data(source: Path, data_dir: Path) -> None:
    """Copy a kept bench/analytics data dir's ClickHouse folder and its info into data_dir (once)."""
    if (data_dir / "clickhouse").exists():
        return
    if not (source / ANALYTICS_INFO).exists() or not (source / "clickhouse").is_dir():
        raise SystemExit(f"{source} is not a kept bench/analytics data dir (no {ANALYTICS_INFO} or clickhouse/)")
    print(f"copying the events of {source} into {data_dir}", file=sys.stderr, flush=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "clickhouse", data_dir / "clickhouse", symlinks=True)
    shutil.copy2(source / ANALYTICS_INFO, data_dir / ANALYTICS_INFO)


def setup(data_dir: Path, events: int, users: int) -> None:
    """Migrate, generate events (or take those copied from bench/analytics), create the sections/projects, flags and
    instructors; then exit (stops Postgres)."""
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
        copied = data_dir / ANALYTICS_INFO
        info = json.loads(copied.read_text()) if copied.exists() else analytics.generate(client, events)
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
            accounts.create_user(session, ADMIN_EMAIL, password=PASSWORD, is_admin=True)
            session.commit()
        (data_dir / "bench-http.json").write_text(
            json.dumps({"data": info, "users": plan, "database": settings.clickhouse_database})
        )
    finally:
        stop_embedded()


# ---------------------------------------------------------------- the server


class Server:
    """`xolap serve` in its own process group; stop() sends SIGINT (a clean shutdown) and waits."""

    def __init__(self, data_dir: Path, cache: bool, log_path: Path, database: str | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            # migrations are applied at start: a kept data dir may predate one (a no-op when it does not)
            [sys.executable, "-c", "from xolap.cli import main; main()", "serve"],
            env=environment(data_dir, self.port, cache, database),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(ROOT),
        )

    def wait_ready(self, timeout: float = 180) -> None:
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

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (every thread: the event loop, the threadpool, chDB's own)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def loop_schedule(self) -> tuple[float, float]:
        """(seconds on a CPU, seconds runnable but waiting for a CPU) of the server's main thread, which runs the
        event loop (/proc schedstat): the wait is what other processes on the machine cost it."""
        try:
            on_cpu, waiting = (
                Path(f"/proc/{self.process.pid}/task/{self.process.pid}/schedstat").read_text().split()[:2]
            )
            return int(on_cpu) / 1e9, int(waiting) / 1e9
        except (OSError, ValueError):
            return 0.0, 0.0

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
    """Per page: client latencies, the server's own time (Server-Timing app;dur), errors and result-cache hits. One
    event loop writes it, so it needs no lock."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []
        self.cache_hits: dict[str, int] = {}
        self.server_ms: dict[str, list[float]] = {}
        self.window: dict[str, float] = {}  # the timed pages' start: wall clock and both sides' CPU seconds
        self.settle_s: float | None = None  # warm phase: how long the rollup worker took after the warm-up (untimed)

    def begin_window(self, server: Server) -> None:
        """Called by each user once all have signed in; the first call marks where requests/s and CPU are counted."""
        if not self.window:
            on_cpu, waiting = server.loop_schedule()
            self.window = {
                "wall": time.perf_counter(),
                "client": time.process_time(),
                "server": server.cpu_seconds(),
                "loop_cpu": on_cpu,
                "loop_wait": waiting,
            }

    async def timed(self, page: str, send: Awaitable[Reply]) -> Reply | None:
        started = time.perf_counter()
        response: Reply | None
        try:
            response = await send
        except Exception as exc:  # noqa: BLE001 - counted as an error of this page
            response, problem = None, f"{page}: {type(exc).__name__}: {exc}"
        else:
            problem = (  # the body's first 600 characters: a failure's technical detail comes after its message
                None if response.status_code < 400 else f"{page}: HTTP {response.status_code} {response.text[:600]}"
            )
        elapsed = (time.perf_counter() - started) * 1000
        self.times.setdefault(page, []).append(elapsed)
        if response is not None:
            if response.headers.get("x-xolap-cache") == "hit":
                self.cache_hits[page] = self.cache_hits.get(page, 0) + 1
            server = server_time_ms(response.headers.get("server-timing", ""), "app")  # the server's own time
            if server is not None:
                self.server_ms.setdefault(page, []).append(server)
        if problem:
            self.errors[page] = self.errors.get(page, 0) + 1
            if len(self.samples) < 10:
                self.samples.append(problem)
        return response if problem is None else None


async def dashboard_csrf(http: LoopbackClient, user: dict, known: str) -> str:
    """The CSRF token on the user's dashboard page (untimed), or the one already known."""
    page = await http.get(f"/sections/{user['slug']}/analytics", headers={"Accept": "text/html"})
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    return found.group(1) if found else known


async def user_loop(
    server: Server,
    user: dict,
    recorder: Recorder,
    duration: float,
    seed: int,
    warm_up: bool,
    ready: asyncio.Barrier,
    arriving: asyncio.Semaphore,
    warmed: asyncio.Barrier | None = None,
    relogin_after: float = 0.5,
    settled: asyncio.Event | None = None,
) -> None:
    """One simulated instructor: sign in, wait for the others, (warm phase: ask every answer once, then wait for the
    others again), then loop over the dashboard page, its summary, three tabs, a custom query and its CSV export until
    `duration` is up, signing out and in again once, at the first round starting after `relogin_after` of the duration
    (timed as the "busy" login rows)."""
    rng = random.Random(seed)
    html, as_json = {"Accept": "text/html"}, {"Accept": "application/json"}
    async with LoopbackClient(server.base, timeout=60) as http:
        async with arriving:
            page = await recorder.timed("login page", http.get("/login", headers=html))
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) if page is not None else None
            token = match.group(1) if match else ""
            signed_in = None
            if page is not None:
                login = {"email": user["email"], "password": PASSWORD, "next": "/", "csrf_token": token}
                signed_in = await recorder.timed("login", http.post("/login", data=login, headers=html))
        if signed_in is None:
            await ready.abort()  # the others stop waiting: this run is not comparable
            return
        api = f"/api/v1/sections/{user['slug']}/analytics"
        csrf = ""  # the signed-in session's token, from its dashboard page (the login page's is a visitor's)
        try:  # pages are timed once every user has signed in (50 argon2 logins at once would swamp 2 cores)
            async with asyncio.timeout(600):
                await ready.wait()
                # the warm phase measures unchanged sections: every answer has been asked once (not timed), after
                # the logins (a burst of 11 uncached asks per user at no think time beside the next logins timed
                # them behind a load no user makes; logins beside pages are the "busy" rows below)
                if warm_up:
                    csrf = await dashboard_csrf(http, user, csrf)
                    for path in ["/summary"] + [f"/categories/{key}" for key in TABS]:
                        await http.get(api + path, headers=as_json)
                    unsafe = {"Accept": "application/json", "X-CSRF-Token": csrf}
                    await http.post(api + "/query", json_body={"sql": CUSTOM_SQL}, headers=unsafe)
                if warmed is not None:
                    await warmed.wait()
                if settled is not None:
                    await settled.wait()
        except (asyncio.BrokenBarrierError, TimeoutError):
            return
        recorder.begin_window(server)
        started = time.monotonic()
        stop_at, relogin_due = started + duration, started + relogin_after * duration
        signed_in_again = False
        while time.monotonic() < stop_at:
            if not signed_in_again and time.monotonic() >= relogin_due:
                # once, while the others browse: sign out, then in again (the next page reads its access)
                signed_in_again = True
                await http.post("/logout", data={}, headers={**html, "X-CSRF-Token": csrf})
                page = await recorder.timed("login page (busy)", http.get("/login", headers=html))
                match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) if page is not None else None
                login = {
                    "email": user["email"],
                    "password": PASSWORD,
                    "next": "/",
                    "csrf_token": match.group(1) if match else "",
                }
                await recorder.timed("login (busy)", http.post("/login", data=login, headers=html))
            dashboard = await recorder.timed(
                "dashboard page", http.get(f"/sections/{user['slug']}/analytics", headers=html)
            )
            if dashboard is not None:
                found = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text)
                csrf = found.group(1) if found else csrf
            await recorder.timed("summary JSON", http.get(api + "/summary", headers=as_json))
            for key in rng.sample(TABS, 3):
                await recorder.timed("category tab JSON", http.get(f"{api}/categories/{key}", headers=as_json))
            unsafe = {"Accept": "application/json", "X-CSRF-Token": csrf}
            await recorder.timed(
                "custom query", http.post(api + "/query", json_body={"sql": CUSTOM_SQL}, headers=unsafe)
            )
            await recorder.timed(
                "export CSV", http.post(api + "/export?format=csv", json_body={"sql": CUSTOM_SQL}, headers=unsafe)
            )


async def settle(server: Server, warmed: asyncio.Barrier, settled: asyncio.Event, recorder: Recorder) -> None:
    """Warm phase: once every user has asked each answer once, wait (untimed) until the server's rollup worker is
    idle, read from the admin /healthz. A cold server answers a scope's tabs from the raw events and queues its build
    for the worker; the warm phase measures unchanged sections, not the builds the warm-up queued."""
    started = None
    try:
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            await warmed.wait()
            started = time.monotonic()
            async with LoopbackClient(server.base, timeout=60) as http:
                page = await http.get("/login", headers={"Accept": "text/html"})
                match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                login = {
                    "email": ADMIN_EMAIL,
                    "password": PASSWORD,
                    "next": "/",
                    "csrf_token": match.group(1) if match else "",
                }
                await http.post("/login", data=login, headers={"Accept": "text/html"})
                while True:
                    health = (await http.get("/healthz", headers={"Accept": "application/json"})).json()
                    worker = health.get("rollup_worker")
                    if worker is None or worker.get("idle"):
                        break
                    await asyncio.sleep(0.5)
    except (asyncio.BrokenBarrierError, TimeoutError):
        pass
    finally:
        recorder.settle_s = round(time.monotonic() - started, 1) if started is not None else None
        settled.set()


def relogin_at(index: int, users: int) -> float:
    """When user `index` signs out and in again, as a fraction of the phase: spread evenly over its middle 80 %, so the
    busy logins come one at a time beside the others' pages (in one round, all 50 came within half a second: a burst
    of 50 argon2 hashes, whose queue the busy rows then timed)."""
    return 0.1 + 0.8 * index / max(users, 1)


async def drive(server: Server, plan: list[dict], users: int, duration: float, warm_up: bool) -> tuple:
    """Every user as a coroutine of this one event loop, the server's RSS sampled each second beside them."""
    recorder = Recorder()
    ready, arriving = asyncio.Barrier(users), asyncio.Semaphore(LOGINS_AT_ONCE)
    warmed = asyncio.Barrier(users + 1 if warm_up else users)
    settled = asyncio.Event() if warm_up else None
    settling = asyncio.create_task(settle(server, warmed, settled, recorder)) if settled is not None else None
    rss: list[int] = []
    loops = [
        asyncio.create_task(
            user_loop(
                server,
                plan[i % len(plan)],
                recorder,
                duration,
                i,
                warm_up,
                ready,
                arriving,
                warmed,
                relogin_at(i, users),
                settled,
            )
        )
        for i in range(users)
    ]
    while not all(task.done() for task in loops):
        rss.append(server.rss_bytes())
        await asyncio.wait(loops, timeout=1)
    for task in loops:
        task.result()  # a bug in the bench itself is raised, not counted
    if settling is not None:
        await settling
    return recorder, rss


def phase(data_dir: Path, info: dict, users: int, duration: float, cache: bool, log_dir: Path) -> dict:
    name = "warm" if cache else "cold"
    server = Server(data_dir, cache, log_dir / f"serve-{name}.log", info.get("database"))
    try:
        started = time.monotonic()
        server.wait_ready()
        ready_s = time.monotonic() - started
        recorder, rss = asyncio.run(drive(server, info["users"], users, duration, cache))
        window = recorder.window or {
            "wall": time.perf_counter(),
            "client": time.process_time(),
            "server": 0.0,
            "loop_cpu": 0.0,
            "loop_wait": 0.0,
        }
        on_cpu, waiting = server.loop_schedule()
        loop_cpu, loop_wait = on_cpu - window["loop_cpu"], waiting - window["loop_wait"]
        wall = time.perf_counter() - window["wall"]  # requests/s and CPU over the timed pages, not the logins
        client_cpu = time.process_time() - window["client"]
        server_cpu = server.cpu_seconds() - window["server"]
        requests = sum(len(v) for page, v in recorder.times.items() if page not in LOGIN_PAGES)
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
            "rollup_worker_settle_s": recorder.settle_s,
            "wall_s": round(wall, 1),
            "requests": requests,
            "requests_per_s": round(requests / wall, 1) if requests else 0.0,
            "errors": sum(recorder.errors.values()),
            "error_samples": recorder.samples,
            "rss_max_mib": round(max(rss or [0]) / 2**20),
            "rss_end_mib": round((rss or [0])[-1] / 2**20),
            "client_cpu_s": round(client_cpu, 1),
            "server_cpu_s": round(server_cpu, 1),
            "client_cpu_share": round(client_cpu / max(client_cpu + server_cpu, 1e-9), 3),
            # what a request costs the server whatever else runs on the machine (latency here is queueing: 50 users
            # without think time wait behind each other for a starved event loop, users / requests per second)
            "server_cpu_ms_per_request": round(server_cpu * 1000 / requests, 2) if requests else 0.0,
            "closed_loop": closed_loop(
                users,
                requests / wall if requests else 0.0,
                server_cpu * 1000 / requests if requests else 0.0,
                server_cpu,
                wall,
                os.cpu_count() or 1,
            ),
            "event_loop_cpu_s": round(loop_cpu, 1),
            "event_loop_cpu_wait_s": round(loop_wait, 1),
            "pages": pages,
        }
    finally:
        server.stop()


def closed_loop(
    users: int, requests_per_s: float, server_cpu_ms: float, server_cpu_s: float, wall_s: float, cores: int
) -> dict:
    """What bounds a phase's latency. The users have no think time: a closed loop, so by Little's law each request
    waits users / requests_per_s on average, and a page p95 within GOAL_P95_MS needs at least users / GOAL_P95_MS
    requests a second (a p95 is never below the mean). On `cores` cores that rate leaves each request at most
    cores / that rate of server CPU (cpu_budget_ms). A phase whose CPU a request is over the budget misses for
    capacity: even with the cores to itself and perfectly fair queueing the server cannot serve the goal's rate. One
    within the budget that still misses waits for something other than its own CPU: other processes on the cores,
    locks or slots, one user's request behind others' (queueing, unfairness); the share of the cores the server used
    (core_share) tells which."""
    needed_rps = users * 1000 / GOAL_P95_MS
    budget = cores * 1000 / needed_rps
    capacity_rps = cores * 1000 / server_cpu_ms if server_cpu_ms > 0 else float("inf")
    return {
        "users": users,
        "cores": cores,
        "mean_wait_ms": round(users * 1000 / requests_per_s, 1) if requests_per_s else None,
        "needed_requests_per_s": round(needed_rps, 1),
        "cpu_budget_ms": round(budget, 2),
        "capacity_requests_per_s": round(capacity_rps, 1) if server_cpu_ms > 0 else None,
        "capacity_mean_wait_ms": round(users * 1000 / capacity_rps, 1) if server_cpu_ms > 0 else 0.0,
        "core_share": round(server_cpu_s / (wall_s * cores), 3) if wall_s > 0 else 0.0,
        "bound": "capacity" if server_cpu_ms > budget else "waiting",
    }


def closed_loop_line(p: dict) -> str:
    """The closed-loop bound of a phase in words, printed beside its verdicts."""
    c = p["closed_loop"]
    cause = (
        f"CAPACITY: {p['server_cpu_ms_per_request']} ms of server CPU a request is over the "
        f"{c['cpu_budget_ms']} ms budget; {c['cores']} cores serve at most {c['capacity_requests_per_s']} requests/s at "
        f"that cost, a mean wait of at least {c['capacity_mean_wait_ms']} ms a request"
        if c["bound"] == "capacity"
        else f"WAITING: {p['server_cpu_ms_per_request']} ms of server CPU a request is within the "
        f"{c['cpu_budget_ms']} ms budget; the wait is queueing, unfairness or other processes on the cores"
    )
    rest = (
        f"; of the {c['mean_wait_ms']} ms mean wait, {c['capacity_mean_wait_ms']} ms is what the CPU a request costs "
        f"on {c['cores']} free cores, the other {c['mean_wait_ms'] - c['capacity_mean_wait_ms']:.0f} ms waiting"
        if c["bound"] == "capacity" and c["mean_wait_ms"] is not None
        else ""
    )
    return (
        f"{p['phase']} closed loop: {c['users']} users / {p['requests_per_s']} requests/s = {c['mean_wait_ms']} ms mean "
        f"wait a request (Little's law, no think time); p95 <= {GOAL_P95_MS} ms needs >= {c['needed_requests_per_s']} "
        f"requests/s, <= {c['cpu_budget_ms']} ms of server CPU a request on {c['cores']} cores; {cause}{rest}; the "
        f"server used {c['core_share']:.0%} of the cores (the rest: idle, or taken by other processes)"
    )


def goal_verdicts(phases: list[dict]) -> list[dict]:
    """Issue 14's HTTP goals in this run, per phase: each page's client p95 within GOAL_P95_MS, and no errors. No
    baseline: the issue states them as bounds (its figures from before are the demo's, not this bench's)."""
    rows = []
    for p in phases:
        for page, r in p["pages"].items():
            rows.append(
                goal_row(
                    "http_load",
                    f"{p['phase']} {page} p95 <= {GOAL_P95_MS} ms",
                    r["p95_ms"],
                    unit="ms",
                    at_most=GOAL_P95_MS,
                )
            )
        rows.append(goal_row("http_load", f"{p['phase']} errors = 0", p["errors"], at_most=0))
    return rows


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
            f"{p['phase']}: {p['requests']} requests (logins apart) in {p['wall_s']} s = {p['requests_per_s']} "
            "requests/s; "
            f"errors {p['errors']} (goal 0); server RSS max {p['rss_max_mib']} MiB, at end {p['rss_end_mib']} MiB; "
            f"server ready in {p['ready_s']} s"
            + (
                f"; the rollup worker built what the warm-up queued in {p['rollup_worker_settle_s']} s (untimed)"
                if p.get("rollup_worker_settle_s") is not None
                else ""
            )
        )
        print(
            f"{p['phase']}: CPU seconds client {p['client_cpu_s']} (this process, "
            f"{p['client_cpu_s'] / max(p['wall_s'], 0.1):.0%} of a core), server {p['server_cpu_s']} "
            f"({p['server_cpu_s'] / max(p['wall_s'], 0.1):.0%} of a core); the client took "
            f"{p['client_cpu_share']:.0%} of the CPU the two used; server CPU {p['server_cpu_ms_per_request']} ms a "
            "request"
        )
        print(
            f"{p['phase']}: the event loop thread ran {p['event_loop_cpu_s']} s and waited {p['event_loop_cpu_wait_s']} "
            f"s runnable for a CPU taken by other processes ({p['event_loop_cpu_wait_s'] / max(p['wall_s'], 0.1):.0%} "
            "of the window)"
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
    parser.add_argument(
        "--from-analytics",
        type=Path,
        help="copy the events of this kept bench/analytics data dir (e.g. 5M events) instead of generating them",
    )
    parser.add_argument(
        "--server-src",
        help="PYTHONPATH of the served code (default: this tree's src; another tree's src for an A/B on the same bench)",
    )
    parser.add_argument("--setup-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server_src:
        global SERVER_SRC
        SERVER_SRC = args.server_src
    if args.setup_only:
        setup(args.setup_only, args.events, args.users)
        return
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="xolap-bench-http-"))
    try:
        info_path = data_dir / "bench-http.json"
        if args.from_analytics and not info_path.exists():
            reuse_analytics_data(args.from_analytics, data_dir)
        database = None
        if (data_dir / ANALYTICS_INFO).exists():  # events from bench/analytics live in its database
            import analytics

            database = analytics.DB
        if not info_path.exists():
            what = "the copied events" if database else f"{args.events:,} events"
            print(f"setting up {what} and {args.users} users in {data_dir}", file=sys.stderr, flush=True)
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
                env=environment(data_dir, free_port(), True, database),
            )
        info = json.loads(info_path.read_text())
        phases = []
        for name in (p.strip() for p in args.phases.split(",")):
            print(f"phase {name}: {args.users} users for {args.duration:.0f} s", file=sys.stderr, flush=True)
            phases.append(phase(data_dir, info, args.users, args.duration, name == "warm", data_dir))
        print_report(info, args.users, args.duration, phases)
        checked = goal_verdicts(phases)
        print_verdicts(checked)
        for p in phases:  # beside the verdicts: whether a MISS is the server's CPU a request or waiting
            print(closed_loop_line(p))
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        report = {
            "bench": "http",
            "data": info["data"],
            "users": args.users,
            "duration_s": args.duration,
            "goal_p95_ms": GOAL_P95_MS,
            "load_average_after": load,
            "phases": phases,
            "goal_verdicts": checked,
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
