"""bench/schema: section- and project-scoped aggregates on xolap's raw_events layout vs Torus's, with and without
query-time dedup (FINAL), on >= 5M synthetic rows generated inside ClickHouse. Prints a table plus JSON.

    python bench/schema.py [--rows 5000000] [--runs 20] [--dup-tail 0.01]

Layouts: "xolap" is the shipped migration (ORDER BY section_id, event_type, timestamp, event_hash; set(0) on
project_id; bloom on user_id). "torus" is Torus's: ORDER BY event_hash, minmax(section_id), set(event_type),
bloom(user_id). Both hold the same rows. After the merged measurements, a duplicate tail (re-inserted rows, merges
stopped) shows what counting each event once costs before merges run.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from timing import percentile  # noqa: E402  (bench/, the script's own folder)
from verdicts import goal_row, print_verdicts  # noqa: E402  (bench/, the script's own folder)
from xolap.clickhouse.client import connect  # noqa: E402
from xolap.clickhouse.events import READ_SETTINGS  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import load_settings  # noqa: E402

DB = "bench_schema"

GENERATE = """
INSERT INTO {db}.ours (user_id, home_page, section_id, project_id, timestamp, event_type, verb_id, page_id,
    activity_id, video_url, video_progress, scaled_score, success, hints_requested, event_hash)
SELECT
    toString(sec * 1000 + (cityHash64(number, 3) % learners)) AS user_id,
    'https://torus.example' AS home_page,
    sec AS section_id,
    1 + intDiv(sec - 1, 10) + (sec % 3 = 0 ? 0 : 0) AS project_id,
    toDateTime64('2025-01-06 00:00:00', 3) + toIntervalSecond(term_start + (cityHash64(number, 4) % (120 * 86400))) AS timestamp,
    multiIf(r < 0.45, 'page_viewed', r < 0.70, 'part_attempt', r < 0.80, 'activity_attempt', r < 0.83, 'page_attempt', r < 0.98, 'video', 'unknown') AS event_type,
    multiIf(event_type = 'page_viewed', 'http://id.tincanapi.com/verb/viewed', event_type = 'video', 'https://w3id.org/xapi/video/verbs/played', 'http://adlnet.gov/expapi/verbs/completed') AS verb_id,
    (project_id * 1000 + cityHash64(number, 5) % 40) AS page_id,
    if(event_type IN ('part_attempt', 'activity_attempt'), project_id * 10000 + cityHash64(number, 6) % 100, NULL) AS activity_id,
    if(event_type = 'video', concat('https://video.example/', toString(project_id), '/', toString(cityHash64(number, 7) % 20)), NULL) AS video_url,
    if(event_type = 'video', (cityHash64(number, 8) % 1000) / 1000, NULL) AS video_progress,
    if(event_type IN ('part_attempt', 'activity_attempt', 'page_attempt'), (cityHash64(number, 9) % 101) / 100, NULL) AS scaled_score,
    if(scaled_score IS NULL, NULL, scaled_score >= 0.6) AS success,
    if(event_type = 'part_attempt', toUInt32(cityHash64(number, 10) % 4), NULL) AS hints_requested,
    lower(hex(SHA256(toString(number)))) AS event_hash
FROM (
    SELECT number,
           toUInt64(1 + floor(500 * pow((cityHash64(number, 1) % 1000000) / 1000000, 2.5))) AS sec,
           (cityHash64(number, 2) % 1000000) / 1000000 AS r,
           (sec % 60) * 86400 AS term_start,
           20 + sec % 200 AS learners
    FROM numbers({rows})
)
"""

TORUS_DDL = """
CREATE TABLE {db}.torus AS {db}.ours
ENGINE = ReplacingMergeTree(event_version)
PARTITION BY toYYYYMM(timestamp)
PRIMARY KEY event_hash
ORDER BY event_hash
SETTINGS index_granularity = 8192
"""

QUERIES = {
    "per_type": "SELECT event_type, count(), uniqExact(user_id) FROM {src} GROUP BY event_type ORDER BY event_type",
    "per_day": "SELECT toDate(timestamp) AS d, count() FROM {src} GROUP BY d ORDER BY d",
    "top_pages": "SELECT page_id, count() AS c, uniqExact(user_id) FROM {src} WHERE event_type = 'page_viewed' "
    "GROUP BY page_id ORDER BY c DESC, page_id LIMIT 25",
    "per_learner": "SELECT user_id, count(), avg(scaled_score), countIf(success) FROM {src} GROUP BY user_id "
    "ORDER BY user_id LIMIT 500",
}


def source(table: str, column: str, final: bool) -> str:
    return f"(SELECT * FROM {DB}.{table}{' FINAL' if final else ''} WHERE {column} = {{scope:UInt64}})"


def same_answer(left, right) -> bool:
    """Equal rows, floats within 1e-9 relative (summation order differs between layouts)."""
    if len(left) != len(right):
        return False
    for row_a, row_b in zip(left, right, strict=False):
        for a, b in zip(row_a, row_b, strict=False):
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif a != b:
                return False
    return True


def measure(client, sql: str, scope: int, runs: int, settings: dict) -> tuple[float, float, object]:
    for _ in range(2):
        result = client.query(sql, parameters={"scope": scope}, settings=settings).result_rows
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.query(sql, parameters={"scope": scope}, settings=settings)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.5), percentile(times, 0.95), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--dup-tail", type=float, default=0.01, help="share of rows re-inserted unmerged")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="xolap-bench-schema-"))
    client = connect(load_settings(data_dir=workdir))
    try:
        compare_layouts(client, args)
    finally:
        client.close()  # chDB writes its system logs when its engine stops: before the folder goes, not at exit
        shutil.rmtree(workdir, ignore_errors=True)


def compare_layouts(client, args: argparse.Namespace) -> None:
    """Load both layouts, measure every query on each scope merged and with a tail of unmerged duplicates, print."""
    Migrator(client, RenderContext(DB)).up()
    client.command(f"RENAME TABLE {DB}.raw_events TO {DB}.ours")
    # The content_titles view reads raw_events; it is not part of this measurement.
    client.command(f"DROP VIEW IF EXISTS {DB}.content_titles_mv")

    started = time.perf_counter()
    client.command(GENERATE.format(db=DB, rows=args.rows), settings={"max_insert_threads": 2})
    load_ours = time.perf_counter() - started
    client.command(TORUS_DDL.format(db=DB))
    for statement in (
        "ALTER TABLE {db}.torus DROP INDEX idx_project_id",
        "ALTER TABLE {db}.torus ADD INDEX idx_section_id section_id TYPE minmax GRANULARITY 1",
        "ALTER TABLE {db}.torus ADD INDEX idx_event_type event_type TYPE set(0) GRANULARITY 1",
    ):
        client.command(statement.format(db=DB))
    started = time.perf_counter()
    client.command(f"INSERT INTO {DB}.torus SELECT * FROM {DB}.ours")
    load_torus = time.perf_counter() - started
    for table in ("ours", "torus"):
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")

    scopes = {}
    sizes = client.query(f"SELECT section_id, count() c FROM {DB}.ours GROUP BY section_id ORDER BY c DESC").result_rows
    scopes["section L"] = ("section_id", sizes[0][0], sizes[0][1])
    median = sizes[len(sizes) // 2]
    scopes["section M"] = ("section_id", median[0], median[1])
    proj = client.query(
        f"SELECT project_id, count() c FROM {DB}.ours GROUP BY project_id ORDER BY c DESC LIMIT 1"
    ).result_rows[0]
    scopes["project L"] = ("project_id", proj[0], proj[1])

    disk = dict(
        client.query(
            "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = {d:String} AND active GROUP BY table",
            parameters={"d": DB},
        ).result_rows
    )

    results = []
    read_settings = READ_SETTINGS  # what the product reads with

    def run_all(state: str) -> None:
        for scope_name, (column, scope_id, scope_rows) in scopes.items():
            for query_name, template in QUERIES.items():
                answers = {}
                for table in ("ours", "torus"):
                    for final in (False, True):
                        sql = template.format(src=source(table, column, final))
                        p50, p95, answer = measure(client, sql, scope_id, args.runs, read_settings)
                        answers[(table, final)] = answer
                        print(
                            f"  {state} {scope_name} {query_name} {table} final={final}: {p50:.1f}/{p95:.1f} ms",
                            file=sys.stderr,
                            flush=True,
                        )
                        results.append(
                            {
                                "state": state,
                                "scope": scope_name,
                                "scope_rows": scope_rows,
                                "query": query_name,
                                "layout": "xolap" if table == "ours" else "torus",
                                "final": final,
                                "p50_ms": round(p50, 2),
                                "p95_ms": round(p95, 2),
                            }
                        )
                # Same answers from both layouts (FINAL forms always; plain forms while merged).
                assert same_answer(answers[("ours", True)], answers[("torus", True)]), (state, scope_name, query_name)

    run_all("merged")
    if args.dup_tail > 0:
        for table in ("ours", "torus"):
            client.command(f"SYSTEM STOP MERGES {DB}.{table}")
            client.command(
                f"INSERT INTO {DB}.{table} SELECT * FROM {DB}.ours WHERE cityHash64(event_hash) % 10000 < {int(args.dup_tail * 10000)}",
                settings={"insert_deduplicate": 0},
            )
        run_all(f"+{args.dup_tail:.0%} unmerged duplicates")

    print_table(results, args, load_ours, load_torus, disk, scopes)


def goal_verdicts(results: list[dict]) -> list[dict]:
    """Issue 14 keeps this comparison: per state, scope and query, xolap's layout is faster than Torus's (p50, both
    counting each event once with FINAL), measured in the same run on the same rows."""
    keyed = {(r["state"], r["scope"], r["query"], r["layout"], r["final"]): r for r in results}
    rows = []
    for state, scope, query, layout, final in keyed:
        if layout != "xolap" or not final:
            continue
        torus = keyed.get((state, scope, query, "torus", True))
        rows.append(
            goal_row(
                "schema",
                f"{state} {scope} {query} p50 FINAL faster than Torus's layout",
                keyed[(state, scope, query, layout, final)]["p50_ms"],
                unit="ms",
                baseline=torus["p50_ms"] if torus else None,
                baseline_name="Torus",
                beat_baseline=True,
            )
        )
    return rows


def print_table(results, args, load_ours, load_torus, disk, scopes) -> None:
    print(f"\nbench/schema: {args.rows:,} rows, {args.runs} runs per cell (after 2 warm-ups); ms p50/p95")
    print(
        f"load: xolap {load_ours:.1f} s, torus (copy) {load_torus:.1f} s; on disk: xolap {disk.get('ours', 0) / 2**20:.0f} MiB, torus {disk.get('torus', 0) / 2**20:.0f} MiB"
    )
    print("scopes: " + ", ".join(f"{k} = {c} {i} ({n:,} rows)" for k, (c, i, n) in scopes.items()))
    header = f"{'state':<28} {'scope':<10} {'query':<12} {'xolap':>13} {'xolap FINAL':>13} {'torus':>13} {'torus FINAL':>13} {'torus/xolap (FINAL)':>20}"
    print(header)
    print("-" * len(header))
    keyed = {(r["state"], r["scope"], r["query"], r["layout"], r["final"]): r for r in results}
    ratios = []
    for state, scope, query, _layout, _final in [k for k in keyed if k[3] == "xolap" and not k[4]]:
        cells = []
        for lay, fin in (("xolap", False), ("xolap", True), ("torus", False), ("torus", True)):
            r = keyed[(state, scope, query, lay, fin)]
            cells.append(f"{r['p50_ms']:.1f}/{r['p95_ms']:.1f}")
        ratio = keyed[(state, scope, query, "torus", True)]["p50_ms"] / max(
            keyed[(state, scope, query, "xolap", True)]["p50_ms"], 0.01
        )
        ratios.append(ratio)
        print(
            f"{state:<28} {scope:<10} {query:<12} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} {cells[3]:>13} {ratio:>19.1f}x"
        )
    print(f"\ngeometric-mean speed-up of xolap over torus (both FINAL, p50): {statistics.geometric_mean(ratios):.1f}x")
    checked = goal_verdicts(results)
    print_verdicts(checked)
    summary = {"bench": "schema", "rows": args.rows, "runs": args.runs, "results": results, "goal_verdicts": checked}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
