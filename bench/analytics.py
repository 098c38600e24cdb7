"""bench/analytics: p50/p95 of every curated category for section and project scope, one client and 8 concurrent
clients, on events generated inside ClickHouse; the same categories on Postgres (bench/postgres_baseline: the same
events in a Torus-style indexed table) with the ratio per category and scope; and the warm path (a result-cache hit,
xolap.analytics.result_cache). Prints tables with PASS/MISS against the goals, plus JSON.

    python bench/analytics.py [--events 200000] [--runs 30] [--skip-concurrency] [--skip-postgres] [--explain KEY]
        [--cpu-split] [--keep DIR] [--targets section_largest,...]

Runs in its own process with its own chDB path (a temp dir, removed afterwards unless --keep). Data: sections of
skewed sizes (section k of S holds a (k/S)^0.4 - ((k-1)/S)^0.4 share, so section 1 is the largest), S = events/10,000
(at least 50); projects S/10 with a skewed number of sections; a roster of learners per section sized to the
section; a 120-day term per section; 40 pages, 100 activities and 20 videos per project with skewed popularity;
a Torus-like event-type mix; titles for 90% of the content. Timing is wall clock around run_category (SQL, transfer,
JSON conversion, spec), after 2 warm-ups. Goals: section p95 <= 20 ms at 5M and <= 50 ms at 50M; project p95 <= 50 ms
at 5M and <= 200 ms at 50M; every category faster than Postgres for every scope; a warm answer (cache hit, the
server-side work of a dashboard tab after auth: lookup and the JSON body) p95 <= 2 ms. Goals are stated at 5M events
and checked at whatever --events is (default 200,000, small enough for a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fastapi.responses import Response  # noqa: E402

from timing import percentile  # noqa: E402  (bench/, the script's own folder)
from verdicts import goal_row, print_verdicts  # noqa: E402  (bench/, the script's own folder)
from xolap.analytics import result_cache, rollups  # noqa: E402
from xolap.analytics.categories import event_summary, list_categories, run_category  # noqa: E402
from xolap.analytics.categories.model import QueryContext  # noqa: E402
from xolap.analytics.categories.registry import get_category, with_rollup_builds  # noqa: E402
from xolap.clickhouse.client import connect, thread_client  # noqa: E402
from xolap.clickhouse.events import READ_SETTINGS  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import load_settings  # noqa: E402

DB = "bench_analytics"
CONCURRENCY_GOAL_QPS = 200
CONCURRENCY_GOAL_P95_MS = 100
# ClickHouse JIT-compiles an expression on its third run (min_count_to_compile_expression), once per process:
# ~24 ms each, 27 in the mix, and concurrent queries with the same expression wait for it.
JIT_WARMUPS = 3
CHUNK = 5_000_000

GENERATE = """
INSERT INTO `{db}`.raw_events (user_id, home_page, section_id, project_id, timestamp, event_type, verb_id, page_id,
    video_url, video_time, video_progress, activity_id, scaled_score, success, completion, hints_requested, event_hash)
SELECT
    toString(sec * 10000 + toUInt64(roster * u_user)) AS user_id,
    'https://torus.example' AS home_page,
    sec AS section_id,
    project AS project_id,
    toDateTime64('2025-08-25 00:00:00', 3) + toIntervalSecond((cityHash64(sec, 11) % 90) * 86400 + toUInt64(u_time * 120 * 86400)) AS timestamp,
    multiIf(r < 0.38, 'page_viewed', r < 0.65, 'part_attempt', r < 0.75, 'activity_attempt', r < 0.79, 'page_attempt',
            r < 0.99, 'video', 'unknown') AS event_type,
    multiIf(event_type = 'page_viewed', 'http://id.tincanapi.com/verb/viewed',
            event_type = 'video', ['https://w3id.org/xapi/video/verbs/played', 'https://w3id.org/xapi/video/verbs/paused',
                                   'https://w3id.org/xapi/video/verbs/seeked', 'https://w3id.org/xapi/video/verbs/completed'][video_verb],
            event_type = 'unknown', 'http://activitystrea.ms/schema/1.0/create',
            'http://adlnet.gov/expapi/verbs/completed') AS verb_id,
    if(event_type IN ('page_viewed', 'page_attempt', 'part_attempt', 'activity_attempt'),
       project * 1000 + toUInt64(40 * pow(u_item, 1.5)), NULL) AS page_id,
    if(event_type = 'video', concat('https://videos.example/p', toString(project), '/v', toString(toUInt64(20 * pow(u_item, 1.5))), '.mp4'), NULL) AS video_url,
    if(event_type = 'video', round(u_score * 600, 1), NULL) AS video_time,
    if(event_type = 'video' AND video_verb >= 2, if(video_verb = 4, 1.0, round(u_score, 3)), NULL) AS video_progress,
    if(event_type IN ('part_attempt', 'activity_attempt'), project * 10000 + toUInt64(100 * pow(u_item, 1.3)), NULL) AS activity_id,
    if(event_type IN ('part_attempt', 'activity_attempt', 'page_attempt'), round(pow(u_score, 0.6), 2), NULL) AS scaled_score,
    if(scaled_score IS NULL, NULL, scaled_score >= 0.7) AS success,
    if(event_type = 'page_viewed', u_score < 0.55, NULL) AS completion,
    if(event_type = 'part_attempt', toUInt32(floor(4 * u_hint * (1 - assumeNotNull(scaled_score)))), NULL) AS hints_requested,
    lower(hex(SHA256(toString(number)))) AS event_hash
FROM (
    SELECT number, sec, r, u_user, u_time, u_item, u_score, u_hint, video_verb,
        toUInt64(1 + floor({projects} * pow((cityHash64(sec, 12) % 1000000) / 1000000, 2))) AS project,
        greatest(20, least(3000, toUInt64({events} * (pow(sec / {sections}, 0.4) - pow((sec - 1) / {sections}, 0.4)) / 150))) AS roster
    FROM (
        SELECT number,
            toUInt64(1 + floor({sections} * pow((cityHash64(number, 1) % 1000000) / 1000000, 2.5))) AS sec,
            (cityHash64(number, 2) % 1000000) / 1000000 AS r,
            (cityHash64(number, 3) % 1000000) / 1000000 AS u_user,
            (cityHash64(number, 4) % 1000000) / 1000000 AS u_time,
            (cityHash64(number, 5) % 1000000) / 1000000 AS u_item,
            (cityHash64(number, 6) % 1000000) / 1000000 AS u_score,
            (cityHash64(number, 7) % 1000000) / 1000000 AS u_hint,
            toUInt8(1 + multiIf(u_hint < 0.45, 0, u_hint < 0.8, 1, u_hint < 0.9, 2, 3)) AS video_verb
        FROM numbers({offset}, {count})
    )
)
"""

TITLES = """
INSERT INTO `{db}`.content_titles (project_id, kind, content_id, title, updated_at)
SELECT project_id, kind, content_id, title, now64(3) FROM (
    SELECT p AS project_id, 'page' AS kind, toString(p * 1000 + k) AS content_id,
           concat('Module ', toString(intDiv(k, 8) + 1), ': lesson ', toString(k % 8 + 1)) AS title
    FROM (SELECT number + 1 AS p FROM numbers({projects})) ARRAY JOIN range(40) AS k WHERE (p + k) % 10 != 0
    UNION ALL
    SELECT p, 'activity', toString(p * 10000 + k), concat('Check your understanding ', toString(k + 1))
    FROM (SELECT number + 1 AS p FROM numbers({projects})) ARRAY JOIN range(100) AS k WHERE (p + k) % 10 != 0
    UNION ALL
    SELECT p, 'video', concat('https://videos.example/p', toString(p), '/v', toString(k), '.mp4'), concat('Lecture video ', toString(k + 1))
    FROM (SELECT number + 1 AS p FROM numbers({projects})) ARRAY JOIN range(20) AS k WHERE (p + k) % 10 != 0
)
"""


def generate(client, events: int) -> dict:
    sections = max(50, events // 10_000)
    projects = max(5, sections // 10)
    started = time.perf_counter()
    for offset in range(0, events, CHUNK):
        count = min(CHUNK, events - offset)
        client.command(
            GENERATE.format(db=DB, sections=sections, projects=projects, events=events, offset=offset, count=count),
            settings={"max_insert_threads": 2},
        )
        print(f"  generated {offset + count:,} events", file=sys.stderr, flush=True)
    load_s = time.perf_counter() - started
    client.command(TITLES.format(db=DB, projects=projects))
    started = time.perf_counter()
    client.command(f"OPTIMIZE TABLE `{DB}`.raw_events FINAL")
    optimize_s = time.perf_counter() - started
    disk, parts = client.query(
        f"SELECT sum(bytes_on_disk), count() FROM system.parts WHERE database = '{DB}' AND table = 'raw_events' AND active"
    ).result_rows[0]
    return {
        "events": events,
        "sections": sections,
        "projects": projects,
        "load_s": round(load_s, 1),
        "optimize_s": round(optimize_s, 1),
        "bytes_on_disk": int(disk),
        "active_parts": int(parts),
    }


def pick_targets(client) -> dict:
    sizes = client.query(
        f"SELECT section_id, count() AS n FROM `{DB}`.raw_events GROUP BY section_id ORDER BY n DESC, section_id"
    ).result_rows
    projects = client.query(
        f"SELECT project_id, count() AS n, uniqExact(section_id) FROM `{DB}`.raw_events GROUP BY project_id ORDER BY n DESC LIMIT 1"
    ).result_rows
    largest, median = sizes[0], sizes[len(sizes) // 2]
    return {
        "section_largest": {"scope": "section", "id": int(largest[0]), "events": int(largest[1])},
        "section_median": {"scope": "section", "id": int(median[0]), "events": int(median[1])},
        "project_largest": {
            "scope": "project",
            "id": int(projects[0][0]),
            "events": int(projects[0][1]),
            "sections": int(projects[0][2]),
        },
    }


def rollup_builds(client, targets: dict) -> list[dict]:
    """Per target: the first build of its rollup slices (every slice stale) and a check when all are current."""
    results = []
    for target_name, target in targets.items():
        times = []
        for _ in range(2):
            started = time.perf_counter()
            builds = rollups.current_builds(client, DB, target["scope"], target["id"])
            times.append((time.perf_counter() - started) * 1000)
        results.append(
            {
                "target": target_name,
                "slices": len(builds),
                "build_ms": round(times[0], 1),
                "check_ms": round(times[1], 1),
            }
        )
        print(
            f"  rollups {target_name:16} {len(builds)} slices: build {times[0]:7.1f} ms, check {times[1]:5.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    return results


def call(client, settings, key: str, scope: str, scope_id: int) -> float:
    started = time.perf_counter()
    if key == "event_summary":
        event_summary(client, settings, scope, scope_id)
    else:
        run_category(client, settings, key, scope=scope, scope_id=scope_id)
    return (time.perf_counter() - started) * 1000


# The stages of a chart query ClickHouse times (system.query_log ProfileEvents, microseconds), shown by --cpu-split.
SPLIT_EVENTS = (
    "OSCPUVirtualTimeMicroseconds",
    "QueryParseMicroseconds",
    "QueryAnalysisMicroseconds",
    "QueryPlanBuildMicroseconds",
    "QueryPlanOptimizeMicroseconds",
    "QueryPipelineBuildMicroseconds",
)
SPLIT_SQL = f"""SELECT {", ".join(f"quantileExact(0.5)(ProfileEvents['{name}'])" for name in SPLIT_EVENTS)}, count()
FROM system.query_log
WHERE type = 'QueryFinish' AND event_time_microseconds BETWEEN {{first:DateTime64(6)}} AND {{last:DateTime64(6)}}
    AND query LIKE {{tag:String}}"""


class EngineCalls:
    """CPU the calling thread spends inside chDB's query call (ClickHouse's work on that thread and chDB's result
    copy), counted by wrapping chdb's Connection.query for the bench's lifetime: the rest of the thread's CPU is
    Python (our code, clickhouse-connect's binding and Native decoding)."""

    def __init__(self) -> None:
        from chdb.state import sqlitelike

        self._local = threading.local()
        self._class = sqlitelike.Connection
        self._original = self._class.query
        local, original = self._local, self._original

        def timed(connection, *args, **kwargs):
            started = time.thread_time()
            try:
                return original(connection, *args, **kwargs)
            finally:
                local.seconds = getattr(local, "seconds", 0.0) + time.thread_time() - started

        self._class.query = timed

    def seconds(self) -> float:
        return getattr(self._local, "seconds", 0.0)

    def close(self) -> None:
        self._class.query = self._original


def cpu_split(client, settings, targets: dict, runs: int) -> list[dict]:
    """Per target and category, CPU per answer (medians of `runs` calls after 4 warm-ups): the whole process
    (process_time: every thread), Python on the calling thread outside chDB's query call, that call's CPU on the
    calling thread, chDB's other threads (the rest), and what system.query_log says the query's threads used
    (OSCPUVirtualTime) with its planning stages. process - python - ClickHouse's own is chDB's work outside the query
    log (the call, result copy, logging)."""
    engine = EngineCalls()
    try:
        measured = []
        for target_name, target in targets.items():
            for key in keys_for(target["scope"]):
                for _ in range(4):
                    call(client, settings, key, target["scope"], target["id"])
                process, python, calls = [], [], []
                first = datetime.now()
                for _ in range(runs):
                    engine_before, thread_before, process_before = (
                        engine.seconds(),
                        time.thread_time(),
                        time.process_time(),
                    )
                    call(client, settings, key, target["scope"], target["id"])
                    process.append(time.process_time() - process_before)
                    inside = engine.seconds() - engine_before
                    calls.append(inside)
                    python.append(time.thread_time() - thread_before - inside)
                measured.append((target_name, key, first, datetime.now(), process, python, calls))
    finally:
        engine.close()
    client.command("SYSTEM FLUSH LOGS")
    results = []
    for target_name, key, first, last, process, python, calls in measured:
        tag = "summary" if key == "event_summary" else key
        logged = client.query(
            SPLIT_SQL, parameters={"first": first, "last": last, "tag": f"%xolap:category.{tag}.%"}
        ).result_rows[0]
        stages = {name: round(value / 1000, 2) for name, value in zip(SPLIT_EVENTS, logged, strict=False)}
        row = {
            "target": target_name,
            "key": key,
            "process_ms": round(1000 * percentile(process, 0.5), 2),
            "python_ms": round(1000 * percentile(python, 0.5), 2),
            "engine_call_ms": round(1000 * percentile(calls, 0.5), 2),
            "clickhouse_ms": stages.pop("OSCPUVirtualTimeMicroseconds"),
            "planning_ms": round(sum(stages.values()), 2),
            "stages_ms": stages,
            "logged": logged[-1],
        }
        row["outside_log_ms"] = round(row["process_ms"] - row["python_ms"] - row["clickhouse_ms"], 2)
        results.append(row)
    return results


def print_cpu_split(split: list[dict]) -> None:
    header = (
        f"{'target':16} {'category':20} | {'process':>7} | {'python':>6} | {'CH log':>6} | {'chDB+':>6} | "
        f"{'parse':>5} {'analys':>6} {'plan':>5} {'optim':>5} {'pipe':>5}"
    )
    print("\nCPU per answer, ms (medians; CH log: the query's threads in system.query_log; chDB+: the rest)")
    print(header)
    print("-" * len(header))
    sums: dict[str, list[float]] = {}
    for row in split:
        stages = list(row["stages_ms"].values())
        print(
            f"{row['target']:16} {row['key']:20} | {row['process_ms']:7.2f} | {row['python_ms']:6.2f} | "
            f"{row['clickhouse_ms']:6.2f} | {row['outside_log_ms']:6.2f} | "
            + " ".join(f"{value:5.2f}" for value in stages)
        )
        total = sums.setdefault(row["target"], [0.0, 0.0, 0.0, 0.0])
        for index, name in enumerate(("process_ms", "python_ms", "clickhouse_ms", "outside_log_ms")):
            total[index] += row[name]
    for target, (process, python, logged, rest) in sums.items():
        print(f"{target:16} {'sum':20} | {process:7.1f} | {python:6.1f} | {logged:6.1f} | {rest:6.1f}")


def keys_for(scope: str) -> list[str]:
    return ["event_summary"] + [info.key for info in list_categories(scope)]


def single_client(client, settings, targets: dict, runs: int) -> list[dict]:
    results = []
    for target_name, target in targets.items():
        for key in keys_for(target["scope"]):
            for _ in range(2):
                call(client, settings, key, target["scope"], target["id"])
            times = [call(client, settings, key, target["scope"], target["id"]) for _ in range(runs)]
            results.append(
                {
                    "target": target_name,
                    "key": key,
                    "p50_ms": round(percentile(times, 0.5), 2),
                    "p95_ms": round(percentile(times, 0.95), 2),
                    "runs": runs,
                }
            )
            print(
                f"  {target_name:16} {key:20} p50 {results[-1]['p50_ms']:7.1f}  p95 {results[-1]['p95_ms']:7.1f}",
                file=sys.stderr,
                flush=True,
            )
    return results


def concurrent(settings, targets: dict, clients: int, rounds: int) -> dict:
    work = [(name, key, t["scope"], t["id"]) for name, t in targets.items() for key in keys_for(t["scope"])]
    latencies: dict[tuple[str, str], list[float]] = {}
    lock = threading.Lock()
    errors: list[str] = []
    client_cpu: list[float] = []

    def worker(seed: int) -> None:
        cpu_started = time.thread_time()
        client = thread_client(settings)  # one client per thread, same engine
        order = work * rounds
        random.Random(seed).shuffle(order)
        for name, key, scope, scope_id in order:
            try:
                elapsed = call(client, settings, key, scope, scope_id)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{name}/{key}: {exc}")
                continue
            with lock:
                latencies.setdefault((name, key), []).append(elapsed)
        client_cpu.append(time.thread_time() - cpu_started)

    warm_client = thread_client(settings)
    for _, key, scope, scope_id in work * JIT_WARMUPS:  # each query's expressions compiled before the timing starts
        call(warm_client, settings, key, scope, scope_id)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    cpu_before, machine_before = process_cpu_seconds(), machine_busy_seconds()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    process_cpu = process_cpu_seconds() - cpu_before
    # client threads: Python and chDB's work on the calling thread; other threads: chDB's pools (and the rest)
    cpu = {
        "client_threads": round(sum(client_cpu), 2),
        "other_threads": round(process_cpu - sum(client_cpu), 2),
        "process": round(process_cpu, 2),
        "machine": round(machine_busy_seconds() - machine_before, 2),
    }
    every = [t for values in latencies.values() for t in values]
    per = [
        {
            "target": name,
            "key": key,
            "p50_ms": round(percentile(v, 0.5), 2),
            "p95_ms": round(percentile(v, 0.95), 2),
            "n": len(v),
        }
        for (name, key), v in sorted(latencies.items())
    ]
    return {
        "clients": clients,
        "queries": len(every),
        "wall_s": round(wall, 2),
        "qps": round(len(every) / wall, 1),
        "p50_ms": round(percentile(every, 0.5), 2),
        "p95_ms": round(percentile(every, 0.95), 2),
        "errors": errors[:10],
        "cpu_s": cpu,
        "cpu_ms_per_query": {
            name: round(1000 * value / max(1, len(every)), 2) for name, value in cpu.items() if name != "machine"
        },
        "per_query": per,
    }


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (Linux /proc/stat, all but idle and iowait);
    NaN elsewhere. With process_cpu_seconds it tells how much of the machine this bench had: others' load."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds() -> float:
    """CPU seconds (user + system) of this whole process so far, including threads that have ended (chDB's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def answer_rows(client, settings, key: str, scope: str, scope_id: int) -> int:
    if key == "event_summary":
        return len(event_summary(client, settings, scope, scope_id))
    return len(run_category(client, settings, key, scope=scope, scope_id=scope_id).rows)


def postgres_baseline(client, settings, targets: dict, runs: int) -> dict:
    """p50/p95 of every category on Postgres (same events, Torus-style indexes) and the rows each engine answers
    (a check that the Postgres SQL computes the same thing)."""
    from postgres_baseline import PostgresBaseline

    pg = PostgresBaseline()
    try:
        print("loading Postgres baseline", file=sys.stderr, flush=True)
        loaded = pg.load(client, DB)
        results = []
        for target_name, target in targets.items():
            for key in keys_for(target["scope"]):
                pg_rows = len(pg.rows(key, target["scope"], target["id"]))
                ch_rows = answer_rows(client, settings, key, target["scope"], target["id"])
                times = [pg.run(key, target["scope"], target["id"]) for _ in range(runs)]
                results.append(
                    {
                        "target": target_name,
                        "key": key,
                        "p50_ms": round(percentile(times, 0.5), 2),
                        "p95_ms": round(percentile(times, 0.95), 2),
                        "runs": runs,
                        "rows": pg_rows,
                        "clickhouse_rows": ch_rows,
                    }
                )
                print(
                    f"  postgres {target_name:16} {key:20} p50 {results[-1]['p50_ms']:7.1f}  "
                    f"p95 {results[-1]['p95_ms']:7.1f}",
                    file=sys.stderr,
                    flush=True,
                )
        return {"load": loaded, "results": results}
    finally:
        pg.close()


def warm_answers(client, settings, targets: dict, runs: int) -> list[dict]:
    """A dashboard tab answered from the result cache: the server-side work after authorization (cache key, version
    check, LRU touch) and the response body, as api_analytics.warm_json does."""
    results = []
    for target_name, target in targets.items():
        for key in keys_for(target["scope"]):

            def produce(key=key, target=target):
                if key == "event_summary":
                    return event_summary(client, settings, target["scope"], target["id"])
                return run_category(client, settings, key, scope=target["scope"], scope_id=target["id"]).__dict__

            question = ("bench", key, None, None)
            result_cache.cached_json(settings, target["scope"], target["id"], question, produce)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                body, hit = result_cache.cached_json(settings, target["scope"], target["id"], question, produce)
                Response(body, media_type="application/json", headers={"X-Xolap-Cache": "hit"})
                times.append((time.perf_counter() - started) * 1000)
                assert hit
            results.append(
                {
                    "target": target_name,
                    "key": key,
                    "p50_ms": round(percentile(times, 0.5), 3),
                    "p95_ms": round(percentile(times, 0.95), 3),
                    "bytes": len(body),
                }
            )
    return results


def goals(events: int) -> dict:
    big = events >= 50_000_000
    return {
        "section_p95_ms": 50 if big else 20,
        "project_p95_ms": 200 if big else 50,
        "warm_p95_ms": 2,
        "basis": "50M goals" if big else "5M goals",
    }


def print_baseline(single: list[dict], pg: dict, warm: list[dict], goal: dict) -> dict:
    """Per category and scope: ClickHouse p95, Postgres p95, their ratio, warm p95; PASS/MISS; returns the tally."""
    pby = {(r["target"], r["key"]): r for r in pg["results"]} if pg else {}
    wby = {(r["target"], r["key"]): r for r in warm}
    load = pg["load"] if pg else None
    if load:
        print(
            f"\nPostgres baseline: {load['rows']:,} rows copied in {load['copy_s']} s, indexes {load['index_s']} s, "
            f"{load['bytes'] / 2**20:.0f} MiB with indexes"
        )
    header = (
        f"{'target':16} {'category':20} | {'CH p95':>8} | {'PG p95':>8} | {'PG/CH':>6} | {'warm p95':>8} | "
        f"{'cold goal':>9} | {'rows CH/PG':>10} | verdict"
    )
    print("\n" + header)
    print("-" * len(header))
    tally = {"pass": 0, "miss": 0}
    for r in single:
        limit = goal["project_p95_ms"] if r["target"].startswith("project") else goal["section_p95_ms"]
        p, w = pby.get((r["target"], r["key"])), wby.get((r["target"], r["key"]))
        ratio = p["p95_ms"] / r["p95_ms"] if p and r["p95_ms"] else float("nan")
        misses = []
        if r["p95_ms"] > limit:
            misses.append("cold goal")
        if p and not ratio > 1:
            misses.append("slower than Postgres")
        if w and w["p95_ms"] > goal["warm_p95_ms"]:
            misses.append("warm goal")
        tally["miss" if misses else "pass"] += 1
        print(
            f"{r['target']:16} {r['key']:20} | {r['p95_ms']:8.1f} | {p['p95_ms'] if p else float('nan'):8.1f} | "
            f"{ratio:6.1f} | {w['p95_ms'] if w else float('nan'):8.3f} | {limit:>9} | "
            f"{(str(p['clickhouse_rows']) + '/' + str(p['rows'])) if p else '-':>10} | "
            + ("PASS" if not misses else "MISS (" + ", ".join(misses) + ")")
        )
    print(f"{tally['pass']} PASS, {tally['miss']} MISS; PG/CH > 1 means ClickHouse is faster")
    return tally


def goal_verdicts(single: list[dict], pg: dict | None, warm: list[dict], conc: dict | None, goal: dict) -> list[dict]:
    """Issue 14's analytics goals in this run: each category and scope cold (p95 within the goal and, when Postgres
    ran, faster than it), the slowest warm answer, and the concurrent clients' queries/s and p95."""
    pby = {(r["target"], r["key"]): r for r in pg["results"]} if pg else {}
    rows = []
    for r in single:
        limit = goal["project_p95_ms"] if r["target"].startswith("project") else goal["section_p95_ms"]
        p = pby.get((r["target"], r["key"]))
        rows.append(
            goal_row(
                "analytics",
                f"{r['target']} {r['key']} cold p95 <= {limit} ms" + (", faster than Postgres" if pg else ""),
                r["p95_ms"],
                unit="ms",
                at_most=limit,
                baseline=p["p95_ms"] if p else None,
                baseline_name="Postgres p95" if pg else None,
                beat_baseline=pg is not None,
            )
        )
    if warm:
        slowest = max(warm, key=lambda r: r["p95_ms"])
        rows.append(
            goal_row(
                "analytics",
                f"warm answers p95 <= {goal['warm_p95_ms']} ms (slowest of {len(warm)}: {slowest['key']})",
                slowest["p95_ms"],
                unit="ms",
                at_most=goal["warm_p95_ms"],
            )
        )
    if conc:
        clients = f"{conc['clients']} clients"
        rows.append(
            goal_row(
                "analytics",
                f"{clients} >= {CONCURRENCY_GOAL_QPS} q/s",
                conc["qps"],
                unit="q/s",
                at_least=CONCURRENCY_GOAL_QPS,
            )
        )
        rows.append(
            goal_row(
                "analytics",
                f"{clients} p95 <= {CONCURRENCY_GOAL_P95_MS} ms",
                conc["p95_ms"],
                unit="ms",
                at_most=CONCURRENCY_GOAL_P95_MS,
            )
        )
    return rows


def explain(client, settings, key: str, target: dict) -> str:
    category = get_category(key, target["scope"])
    ctx = QueryContext(DB, target["scope"])
    sql = category.build_sql(ctx)
    rows = client.query(
        f"EXPLAIN indexes = 1 {sql}",
        parameters=with_rollup_builds(client, settings, ctx, sql, target["id"]),
        settings={"do_not_merge_across_partitions_select_final": 1},
    ).result_rows
    return "\n".join(row[0] for row in rows)


def print_table(info: dict, targets: dict, single: list[dict], conc: dict | None, goal: dict) -> None:
    by = {(r["target"], r["key"]): r for r in single}
    cby = {(r["target"], r["key"]): r for r in (conc or {}).get("per_query", [])}
    names = list(targets)
    print(
        f"\nbench/analytics: {info['events']:,} events, {info['sections']} sections, {info['projects']} projects; "
        f"load {info['load_s']} s, OPTIMIZE {info['optimize_s']} s, {info['bytes_on_disk'] / 2**20:.0f} MiB on disk"
    )
    for name, t in targets.items():
        print(
            f"  {name}: {t['scope']} {t['id']} ({t['events']:,} events"
            + (f", {t['sections']} sections)" if "sections" in t else ")")
        )
    header = f"{'category':20}" + "".join(f" | {n + ' p50/p95':>28}" for n in names)
    if conc:
        header += "".join(f" | {'8c ' + n + ' p95':>24}" for n in names)
    header += " | goal"
    print("\n" + header)
    print("-" * len(header))
    keys = list(dict.fromkeys(r["key"] for r in single))
    for key in keys:
        line = f"{key:20}"
        ok = True
        for name in names:
            r = by.get((name, key))
            if r is None:
                line += f" | {'-':>28}"
                continue
            limit = goal["project_p95_ms"] if name.startswith("project") else goal["section_p95_ms"]
            ok = ok and r["p95_ms"] <= limit
            line += f" | {r['p50_ms']:>12.1f} / {r['p95_ms']:>11.1f}"
        if conc:
            for name in names:
                r = cby.get((name, key))
                cell = f"{r['p95_ms']:.1f}" if r else "-"
                line += f" | {cell:>24}"
        line += " | " + ("ok" if ok else "MISS")
        print(line)
    if conc:
        print_concurrency(conc)
    print(
        f"goals ({goal['basis']}): single-client section p95 <= {goal['section_p95_ms']} ms, "
        f"project p95 <= {goal['project_p95_ms']} ms; read settings {READ_SETTINGS}"
    )


def print_concurrency(conc: dict) -> None:
    """The concurrent phase in one paragraph: throughput and latency against the goal, and where the CPU went."""
    verdict = "PASS" if conc["qps"] >= CONCURRENCY_GOAL_QPS and conc["p95_ms"] <= CONCURRENCY_GOAL_P95_MS else "MISS"
    per = conc["cpu_ms_per_query"]
    print(
        f"\n{conc['clients']} clients: {conc['queries']} queries in {conc['wall_s']} s = {conc['qps']} q/s; "
        f"p50 {conc['p50_ms']} ms, p95 {conc['p95_ms']} ms; errors {len(conc['errors'])} "
        f"(goal >= {CONCURRENCY_GOAL_QPS} q/s, p95 <= {CONCURRENCY_GOAL_P95_MS} ms: {verdict})\n"
        f"CPU per query: {per['process']} ms in all = {per['client_threads']} ms on the client threads (Python and "
        f"chDB's work on the calling thread) + {per['other_threads']} ms on chDB's other threads; "
        f"{conc['cpu_s']['process'] / conc['wall_s']:.2f} cores busy on average "
        f"(the whole machine: {conc['cpu_s']['machine'] / conc['wall_s']:.2f} of {os.cpu_count()}); the clients "
        "are threads of this process, their own work is the timing around each call\n"
        f"CPU bound on a machine left to it: {os.cpu_count()} cores / {per['process']} ms = "
        f"{1000 * (os.cpu_count() or 1) / max(per['process'], 1e-9):.0f} q/s at most"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-concurrency", action="store_true")
    parser.add_argument(
        "--concurrency-only", action="store_true", help="only the concurrent clients (no single client, PG, warm)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="no Postgres baseline")
    parser.add_argument("--pg-runs", type=int, default=10, help="timed runs per category on Postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="concurrency: times each thread runs every query")
    parser.add_argument(
        "--cpu-split",
        action="store_true",
        help="CPU per answer split into Python, ClickHouse (query log) and chDB's rest, per category; then stop",
    )
    parser.add_argument("--explain", metavar="KEY", help="print EXPLAIN indexes=1 of KEY for each target and stop")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep", type=Path, help="use (and keep) this data dir; reuse its data when present")
    parser.add_argument(
        "--targets", help="comma list of section_largest, section_median, project_largest (default all)"
    )
    parser.add_argument(
        "--read-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what-if: add a ClickHouse setting to READ_SETTINGS for this run (recorded in the JSON)",
    )
    args = parser.parse_args()
    for item in args.read_setting:
        name, _, value = item.partition("=")
        READ_SETTINGS[name.strip()] = int(value) if value.strip().isdigit() else value.strip()

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="xolap-bench-analytics-"))
    settings = load_settings(data_dir=data_dir, clickhouse_database=DB)
    client = connect(settings)
    try:
        existing = client.query(
            f"SELECT count() FROM system.tables WHERE database = '{DB}' AND name = 'raw_events'"
        ).result_rows[0][0]
        rows = client.query(f"SELECT count() FROM `{DB}`.raw_events").result_rows[0][0] if existing else 0
        if rows != args.events:
            client.command(f"DROP DATABASE IF EXISTS `{DB}` SYNC")
            Migrator(client, RenderContext(DB)).up()
            print(f"generating {args.events:,} events in {data_dir}", file=sys.stderr, flush=True)
            info = generate(client, args.events)
            (data_dir / "bench-info.json").write_text(json.dumps(info))
        else:
            Migrator(client, RenderContext(DB)).up()  # kept data from before a new migration (e.g. the rollups)
            info = json.loads((data_dir / "bench-info.json").read_text())
        targets = pick_targets(client)
        if args.targets:
            wanted = [name.strip() for name in args.targets.split(",")]
            unknown = sorted(set(wanted) - set(targets))
            if unknown:
                parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(targets)}")
            targets = {name: targets[name] for name in wanted}
        if args.explain:
            for name, target in targets.items():
                if args.explain in keys_for(target["scope"]):
                    print(f"== {name}\n{explain(client, settings, args.explain, target)}")
            return
        built = rollup_builds(client, targets)
        if args.cpu_split:
            split = cpu_split(client, settings, targets, args.runs)
            print_cpu_split(split)
            print(json.dumps({"bench": "analytics", "targets": targets, "cpu_split": split}, indent=2))
            return
        if args.concurrency_only:
            conc = concurrent(settings, targets, args.clients, args.rounds)
            print_concurrency(conc)
            checked = goal_verdicts([], None, [], conc, goals(args.events))
            print_verdicts(checked)
            summary = {"bench": "analytics", "targets": targets, "concurrency": conc, "goal_verdicts": checked}
            print(json.dumps(summary, indent=2))
            return
        single = single_client(client, settings, targets, args.runs)
        conc = None if args.skip_concurrency else concurrent(settings, targets, args.clients, args.rounds)
        pg = None if args.skip_postgres else postgres_baseline(client, settings, targets, args.pg_runs)
        warm = warm_answers(client, settings, targets, args.runs)
        goal = goals(args.events)
        print_table(info, targets, single, conc, goal)
        tally = print_baseline(single, pg, warm, goal)
        checked = goal_verdicts(single, pg, warm, conc, goal)
        print_verdicts(checked)
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        report = {
            "bench": "analytics",
            "data": info,
            "targets": targets,
            "goals": goal,
            "read_settings": READ_SETTINGS,
            "load_average_after": load,
            "rollup_builds": built,
            "single_client": single,
            "concurrency": conc,
            "postgres": pg,
            "warm": warm,
            "verdicts": tally,
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
