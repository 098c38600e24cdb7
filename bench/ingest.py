"""Ingest throughput (rows/s) on one JSONL file of Torus-shaped statements: Python path, SQL path, ClickHouse ceiling.

(a) python:  read_lines → map_lines (orjson, the field specs) → Arrow → insert_arrow (xolap.ingest.pipeline)
(b) sql:     ingest_local_file_sql: one SELECT <expressions generated from the same specs, + rejection reason>
             FROM file(…, 'LineAsString') into a Memory staging table, good rows moved to raw_events
(c) ceiling: INSERT … SELECT FROM file(…, 'JSONEachRow', <typed structure>) — ClickHouse parsing into a typed
             structure with no validation, no line hash, no provenance (the upper bound for any mapping).

Runs in its own process with its own chDB under a temp dir. Usage: python bench/ingest.py [--rows N] [--keep]
[--flagged N] (N statements with a warning or an attribution: the SQL path's detail pass runs for them)
[--stages] (the SQL path's CPU per statement, in µs a line, from system.query_log)
[--warm N] (default 2000: each path first ingests N lines untimed, so that none pays the process's one-time
costs in its timing: imports, e.g. pyarrow's pandas shim on the first Arrow conversion, ~0.3 s, or chDB's first insert)

--memory: peak RSS of `ingest_paths` (python and sql engines, each in a fresh process) on a normal file of --rows
statements and on the same file with one line of --huge-mib MiB in the middle (rejected as over
XOLAP_INGEST_MAX_LINE_BYTES; the rest goes in). Usage: python bench/ingest.py --memory --rows 20000 --huge-mib 256
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from verdicts import goal_row, print_verdicts  # bench/, the script's own folder

OLI = "http://oli.cmu.edu/extensions/"
VX = "https://w3id.org/xapi/video/extensions/"
VV = "https://w3id.org/xapi/video/verbs/"


def _statement(rng: random.Random, ts_ms: int) -> dict:
    section = rng.randint(1, 200)
    user = str(rng.randint(1, 40_000))
    page = rng.randint(1000, 5000)
    ext = {
        OLI + "section_id": section,
        OLI + "project_id": section % 20 + 1,
        OLI + "publication_id": section % 20 + 100,
        OLI + "enrollment_id": rng.randint(1, 10**6),
        OLI + "page_attempt_guid": str(uuid.UUID(int=rng.getrandbits(128))),
        OLI + "page_attempt_number": rng.randint(1, 3),
    }
    actor = {"objectType": "Agent", "account": {"homePage": "https://torus.example.edu", "name": user}}
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"
    kind = rng.random()
    if kind < 0.35:
        verb = rng.choice(["played", "paused", "seeked", "completed"])
        ext[OLI + ("page_id" if verb == "completed" else "resource_id")] = page
        ext[OLI + "content_element_id"] = f"ce-{rng.randint(1, 999)}"
        ext[VX + "length"] = round(rng.uniform(60, 900), 1)
        t = round(rng.uniform(0, 600), 2)
        result = {VX + "time": t}
        if verb in ("paused", "completed"):
            result |= {VX + "progress": round(rng.random(), 3), VX + "played-segments": f"0[.]{t}"}
        if verb == "seeked":
            result = {VX + "time-from": t, VX + "time-to": round(rng.uniform(0, 600), 2)}
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "actor": actor,
            "verb": {"id": VV + verb, "display": {"en-US": verb}},
            "object": {
                "objectType": "Activity",
                "id": f"https://cdn.example.edu/v/{page}.mp4",
                "definition": {
                    "type": "https://w3id.org/xapi/video/activity-type/video",
                    "name": {"en-US": f"Video {page}"},
                },
            },
            "result": {"extensions": result},
            "context": {
                "registration": str(uuid.UUID(int=rng.getrandbits(128))),
                "contextActivities": {"category": [{"id": "https://w3id.org/xapi/video"}]},
                "extensions": ext,
            },
            "timestamp": when,
        }
    if kind < 0.75:
        out_of = float(rng.randint(1, 4))
        raw = float(rng.randint(0, int(out_of)))
        ext |= {
            OLI + "page_id": page,
            OLI + "activity_id": rng.randint(10**4, 10**5),
            OLI + "activity_revision_id": rng.randint(10**5, 10**6),
            OLI + "activity_attempt_guid": str(uuid.UUID(int=rng.getrandbits(128))),
            OLI + "activity_attempt_number": rng.randint(1, 3),
            OLI + "part_attempt_guid": str(uuid.UUID(int=rng.getrandbits(128))),
            OLI + "part_attempt_number": rng.randint(1, 4),
            OLI + "part_id": str(rng.randint(1, 3)),
            OLI + "hints_requested": ["h"] * rng.randint(0, 2),
            OLI + "attached_objectives": [rng.randint(1, 300)],
            OLI + "session_id": f"s-{rng.getrandbits(40):x}",
        }
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "actor": actor,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
            "object": {
                "objectType": "Activity",
                "id": f"https://torus.example.edu/part_attempt/{rng.getrandbits(48):x}}}",
                "definition": {"type": "http://adlnet.gov/expapi/activities/question", "name": {"en-US": "Question"}},
            },
            "result": {
                "score": {"raw": raw, "min": 0, "max": out_of, "scaled": raw / out_of},
                "response": {"input": rng.choice("abcd")},
                "completion": True,
                "success": raw == out_of,
                "extensions": {OLI + "feedback": {"content": "Try again"}},
            },
            "context": {"extensions": ext},
            "timestamp": when,
        }
    ext[OLI + "page_id"] = page
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "actor": actor,
        "verb": {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en-US": "viewed"}},
        "object": {
            "objectType": "Activity",
            "id": f"https://torus.example.edu/page/{page}",
            "definition": {"type": OLI + "types/page", "subType": "basic", "name": {"en-US": f"Page {page}"}},
        },
        "result": {"completion": True, "success": True},
        "context": {"extensions": ext},
        "timestamp": when,
    }


def _flag(statement: dict, n: int) -> dict:
    """The statement with something only the SQL path's detail pass computes: a malformed optional value (a
    warning) or, every other time, an experiment attribution."""
    ext = statement["context"]["extensions"]
    if n % 2:
        ext[OLI + "experiment_attributions"] = [
            {"role": "assignment", "attribution_type": "assignment", "key": f"k-{n}", "experiment_id": n}
        ]
    else:
        ext[OLI + "session_id"] = {"not": "a string"}
    return statement


def write_corpus(path: Path, rows: int, seed: int = 1, flagged: int = 0) -> int:
    """rows statements; `flagged` of them, spread evenly, carry a warning or an attribution (see _flag)."""
    rng = random.Random(seed)
    start = 1_725_000_000_000
    every = rows // flagged if flagged else 0
    with path.open("wb") as out:
        for i in range(rows):
            statement = _statement(rng, start + i * 37)
            if every and i % every == every // 2 and i // every < flagged:
                statement = _flag(statement, i // every)
            out.write(orjson.dumps(statement) + b"\n")
    return path.stat().st_size


CEILING_STRUCTURE = (
    "id Nullable(String), "
    "actor Tuple(account Tuple(homePage Nullable(String), name Nullable(String))), "
    "verb Tuple(id String), "
    "object Tuple(id Nullable(String), definition Tuple(type Nullable(String), subType Nullable(String), name Map(String, String))), "
    "result Tuple(score Tuple(raw Nullable(Float64), max Nullable(Float64), scaled Nullable(Float64)), success Nullable(Bool), "
    "completion Nullable(Bool), extensions Map(String, String)), "
    "context Tuple(extensions Map(String, String)), "
    "timestamp String"
)


# Goals of issue 14 item 6: each path's rows/s as a share of the ceiling's, measured in the same run.
GOALS = {"python": 0.5, "sql": 0.8}


def goal_verdicts(results: dict[str, dict]) -> list[dict]:
    """Issue 14's ingest goals in this run: each path's rows/s against GOALS x the ceiling's rows/s, measured in the
    same run on the same file ("-" for a path or ceiling not run)."""
    ceiling = results.get("ceiling", {}).get("rows_per_s")
    rows = []
    for name, goal in GOALS.items():
        figure = results.get(name, {}).get("rows_per_s")
        rows.append(
            goal_row(
                "ingest",
                f"{name} path rows/s >= {goal}x the typed JSONEachRow ceiling",
                figure if ceiling else None,
                unit="rows/s",
                at_least=goal * ceiling if ceiling else 0.0,
                baseline=ceiling,
                baseline_name="ceiling",
            )
        )
    return rows


def ceiling_sql(target: str, path: str) -> str:
    e = "context.extensions"
    r = "result.extensions"
    return (
        f"INSERT INTO {target} (user_id, home_page, section_id, project_id, timestamp, event_type, verb_id, page_id, video_url, "
        f"video_time, score, out_of, scaled_score, success, completion, event_hash, object_id, object_type, object_name) "
        f"SELECT actor.account.name, actor.account.homePage, toUInt64OrNull({e}['{OLI}section_id']), "
        f"toUInt64OrNull({e}['{OLI}project_id']), parseDateTime64BestEffort(timestamp, 3, 'UTC'), "
        f"multiIf(startsWith(verb.id, '{VV}'), 'video', verb.id = 'http://id.tincanapi.com/verb/viewed', 'page_viewed', 'part_attempt'), "
        f"verb.id, toUInt64OrNull({e}['{OLI}page_id']), object.id, toFloat64OrNull({r}['{VX}time']), result.score.raw, "
        f"result.score.max, result.score.scaled, result.success, result.completion, '', object.id, object.definition.type, "
        f"object.definition.name['en-US'] "
        f"FROM file('{path}', 'JSONEachRow', '{CEILING_STRUCTURE}') "
        f"SETTINGS input_format_json_read_numbers_as_strings = 1, input_format_json_read_objects_as_strings = 1, "
        f"input_format_skip_unknown_fields = 1, input_format_json_ignore_unnecessary_fields = 1"
    )


def cpu_seconds() -> float:
    """CPU time of this process (chDB's threads included): on a shared machine the wall clock also measures the
    neighbours, so the table shows both."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_child(engine: str, path: str) -> None:
    """In a fresh process: ingest one file with one engine, print seconds, rows, rejected and peak RSS (MiB)."""
    import resource

    from xolap.clickhouse.client import connect
    from xolap.clickhouse.migrations import Migrator, RenderContext
    from xolap.config import load_settings
    from xolap.ingest.paths import ingest_paths

    workdir = Path(tempfile.mkdtemp(prefix="xolap-bench-memory-"))
    settings = load_settings(data_dir=workdir / "var", clickhouse_database="bench")
    client = connect(settings)
    Migrator(client, RenderContext("bench")).up()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = ingest_paths(client, settings, [path], use_sql=engine == "sql")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "engine": engine,
                "seconds": round(seconds, 2),
                "rows": summary.rows,
                "rejected": summary.rejected,
                "failures": [f.message for f in summary.failures],
                "rss_before_mib": before // 1024,
                "peak_rss_mib": peak // 1024,
            }
        )
    )
    import shutil

    from xolap.clickhouse.client import close_thread_client

    client.close()  # chDB writes its system logs when its engine stops: before the folder goes, not at exit
    close_thread_client(settings)
    shutil.rmtree(workdir, ignore_errors=True)


def memory(rows: int, huge_mib: int) -> None:
    """Peak RSS per engine on a normal file and on the same file with one huge line (each run in a new process)."""
    import subprocess

    workdir = Path(tempfile.mkdtemp(prefix="xolap-bench-memory-"))
    normal = workdir / "normal.jsonl"
    write_corpus(normal, rows)
    huge = workdir / "huge_line.jsonl"
    lines = normal.read_bytes().splitlines(keepends=True)
    with huge.open("wb") as out:
        out.writelines(lines[: rows // 2])
        out.write(b'{"pad": "')
        block = b"x" * (1 << 20)
        for _ in range(huge_mib):
            out.write(block)
        out.write(b'"}\n')
        out.writelines(lines[rows // 2 :])
    results = []
    for name, path in (("normal", normal), (f"one {huge_mib} MiB line", huge)):
        for engine in ("python", "sql"):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", engine, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1]) | {"file": name, "bytes": path.stat().st_size}
            results.append(result)
            print(
                f"{name:<22}{engine:<8}{result['seconds']:>8.2f} s{result['rows']:>10,} rows{result['rejected']:>4} rejected"
                f"{result['peak_rss_mib']:>8,} MiB peak RSS (engine started: {result['rss_before_mib']:,} MiB)",
                file=sys.stderr,
            )
    print(json.dumps({"bench": "ingest-memory", "statements": rows, "huge_line_mib": huge_mib, "results": results}))
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


def print_sql_stages(client, since, lines: int) -> None:
    """Each statement of the SQL path's timed run (tagged ingest:bench, finished after `since`): CPU of its threads
    and the wall time of its planning (analysis, plan optimization, pipeline build: ClickHouse times these by the
    clock, so a busy machine inflates them), in µs per line of the corpus."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT substring(replaceRegexpAll(query, '^/[*][^*]*[*]/ |`[^`]*`[.]|`_ingest_stage_[0-9a-f]+`|\\n', ''), 1, 60), "
        "(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']) / {lines:UInt64}, "
        "(ProfileEvents['QueryAnalysisMicroseconds'] + ProfileEvents['QueryPlanOptimizeMicroseconds'] "
        "+ ProfileEvents['QueryPipelineBuildMicroseconds']) / {lines:UInt64}, query_duration_ms FROM system.query_log "
        "WHERE type = 'QueryFinish' AND event_time_microseconds >= {since:DateTime64(6)} "
        "AND startsWith(query, '/* xolap:ingest:bench */') ORDER BY event_time_microseconds",
        parameters={"since": since, "lines": lines},
    ).result_rows
    print(f"{'SQL path statement':<62}{'CPU us/line':>12}{'plan wall':>10}{'ms':>8}", file=sys.stderr)
    for statement, cpu, planning, ms in rows:
        print(f"{statement:<62}{cpu:>12.2f}{planning:>10.2f}{ms:>8}", file=sys.stderr)
    print(f"{'all statements':<62}{sum(r[1] for r in rows):>12.2f}{sum(r[2] for r in rows):>10.2f}", file=sys.stderr)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--memory-child":
        os.environ["XOLAP_CONFIG_FILE"] = "/nonexistent/xolap.toml"
        memory_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--only",
        choices=["python", "python_serial", "sql", "ceiling"],
        action="append",
        help="python_serial (only when named): the Python path without overlapped writes",
    )
    parser.add_argument(
        "--flagged", type=int, default=0, help="statements with a warning or an attribution (the SQL detail pass)"
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=2000,
        help="an untimed run of each path on this many lines first (imports, the engine's first insert); 0: none",
    )
    parser.add_argument(
        "--stages", action="store_true", help="the SQL path's CPU per statement and line (query_log), after its run"
    )
    parser.add_argument("--memory", action="store_true", help="peak RSS with and without one huge line")
    parser.add_argument("--huge-mib", type=int, default=256)
    args = parser.parse_args()
    if args.memory:
        os.environ["XOLAP_CONFIG_FILE"] = "/nonexistent/xolap.toml"
        memory(args.rows, args.huge_mib)
        return
    workdir = Path(tempfile.mkdtemp(prefix="xolap-bench-ingest-"))
    os.environ["XOLAP_CONFIG_FILE"] = "/nonexistent/xolap.toml"

    from xolap.clickhouse.client import connect
    from xolap.clickhouse.migrations import Migrator, RenderContext
    from xolap.config import load_settings
    from xolap.ingest.files import ingest_local_file_sql
    from xolap.ingest.pipeline import EventWriter, ingest_lines, read_lines

    corpus = workdir / "statements.jsonl"
    started = time.perf_counter()
    size = write_corpus(corpus, args.rows, flagged=args.flagged)
    warm_corpus = workdir / "warm.jsonl"
    with corpus.open("rb") as whole, warm_corpus.open("wb") as warm:
        warm.writelines(line for _, line in zip(range(args.warm), whole, strict=False))
    print(
        f"corpus: {args.rows:,} statements ({args.flagged:,} flagged), {size / 1e6:.0f} MB ({size // args.rows} B/line), "
        f"written in {time.perf_counter() - started:.1f} s; each path warmed on {args.warm:,} lines first",
        file=sys.stderr,
    )

    settings = load_settings(data_dir=workdir / "var", clickhouse_database="bench")
    client = connect(settings)
    Migrator(client, RenderContext("bench")).up()
    results: dict[str, dict] = {}

    def run(name: str, action) -> None:
        """action(path) ingests one file; with --warm it runs once untimed on the warm-up file first."""
        if args.only and name not in args.only:
            return
        if args.warm:
            action(warm_corpus)
        client.command("TRUNCATE TABLE bench.raw_events")
        since = client.query("SELECT now64(6)").result_rows[0][0]
        started, cpu_started = time.perf_counter(), cpu_seconds()
        action(corpus)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        rows = client.query("SELECT count() FROM bench.raw_events").result_rows[0][0]
        results[name] = {
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "cpu_seconds": round(cpu, 2),
        }
        print(f"{name}: {rows:,} rows in {seconds:.2f} s ({cpu:.2f} s CPU)", file=sys.stderr)
        if args.stages and name == "sql":
            print_sql_stages(client, since, args.rows)

    def python_path(path: Path, overlap: bool = True) -> None:
        with path.open("rb") as stream:
            writer = EventWriter(client, settings, "bench")
            ingest_lines(writer, read_lines(stream, str(path)), source_file=str(path), overlap=overlap)

    run("python", python_path)
    if args.only and "python_serial" in args.only:
        run("python_serial", lambda path: python_path(path, overlap=False))
    run("sql", lambda path: ingest_local_file_sql(client, settings, path, ingest_path="bench"))
    run("ceiling", lambda path: client.command(ceiling_sql("bench.raw_events", str(path))))

    ceiling = results.get("ceiling", {}).get("rows_per_s")
    ceiling_cpu = results.get("ceiling", {}).get("cpu_seconds")
    print(
        f"\n{'path':<10}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'x ceiling':>11}{'goal':>8}  verdict  CPU s  x ceiling CPU"
    )
    for name, r in results.items():
        goal = GOALS.get(name)
        if ceiling:
            r["ratio_vs_ceiling"] = round(r["rows_per_s"] / ceiling, 3)
        verdict = "-" if goal is None or not ceiling else ("PASS" if r["ratio_vs_ceiling"] >= goal else "MISS")
        r["goal"], r["verdict"] = goal, verdict
        ratio = f"{r['ratio_vs_ceiling']:.2f}" if ceiling else "-"
        if ceiling_cpu:
            r["cpu_ratio_vs_ceiling"] = round(ceiling_cpu / max(r["cpu_seconds"], 0.01), 3)
        cpu_ratio = f"{r['cpu_ratio_vs_ceiling']:.2f}" if ceiling_cpu else "-"
        print(
            f"{name:<10}{r['rows']:>12,}{r['seconds']:>10.2f}{r['rows_per_s']:>12,}{ratio:>11}"
            f"{'' if goal is None else f'>= {goal}':>8}  {verdict:<7}{r['cpu_seconds']:>6.2f}{cpu_ratio:>15}"
        )
    checked = goal_verdicts(results)
    print_verdicts(checked)
    print(
        json.dumps(
            {
                "bench": "ingest",
                "statements": args.rows,
                "flagged": args.flagged,
                "warm": args.warm,
                "bytes": size,
                "results": results,
                "goal_verdicts": checked,
            }
        )
    )
    client.close()  # chDB writes its system logs when its engine stops: before the folder goes, not at exit
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
