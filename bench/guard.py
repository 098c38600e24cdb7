"""bench/guard: how long the custom-SQL guard takes (parse, refuse, rewrite, print, verify) for ordinary queries, and
how fast it refuses oversized ones. Prints a table plus JSON. Nothing runs on ClickHouse.

    python bench/guard.py [--repeat 5] [--json-out F]

Query sets: "categories" is every curated category's SQL (section and project builds, date range set) turned into
user SQL (the scoped source written as raw_events, content_titles unqualified, dates as literals); "samples" is the
accepted attacks, valid queries and a seeded sample of generated queries from tests/analytics/test_guard_chdb.py;
"oversized" is the issue's 88 KB query and variants just over each limit (all refused). Timing per call, after one
warm-up pass: CPU time of this process (time.process_time, what the guard costs; robust to other load on the
machine) and wall time. Goal: categories and samples p50 <= 10 ms CPU; every oversized query refused in < 100 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from xolap.analytics.categories.model import QueryContext  # noqa: E402
from xolap.analytics.categories.registry import CATEGORIES  # noqa: E402
from xolap.analytics.guard import GuardError, guard  # noqa: E402
from xolap.clickhouse.events import scoped_events  # noqa: E402

DB = "xdb"


def category_queries() -> list[tuple[str, str]]:
    """(scope, user SQL) for every curated category and scope it supports."""
    queries = []
    for category in CATEGORIES.values():
        for scope in category.scopes:
            sql = category.build_sql(QueryContext(DB, scope, date(2026, 9, 1), date(2026, 12, 1)))
            sql = sql.replace(scoped_events(DB, scope), "raw_events").replace(
                f"`{DB}`.content_titles", "content_titles"
            )
            sql = sql.replace("{xolap_start:Date}", "toDate('2026-09-01')").replace(
                "{xolap_end:Date}", "toDate('2026-12-01')"
            )
            queries.append((scope, sql))
    return queries


def sample_queries() -> list[tuple[str, str]]:
    """The test suite's sample queries (loaded from the test module without running it)."""
    path = ROOT / "tests" / "analytics" / "test_guard_chdb.py"
    spec = importlib.util.spec_from_file_location("guard_chdb_samples", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    generator = module.QueryGenerator(2026)
    sqls = list(module.SCOPED_ATTACKS) + list(module.VALID) + [generator.query() for _ in range(60)]
    return [(("section", "project")[index % 2], sql) for index, sql in enumerate(sqls)]


def oversized_queries() -> list[tuple[str, str]]:
    from xolap.analytics.guard import MAX_PAREN_DEPTH, MAX_SQL_CHARS, MAX_TABLE_REFERENCES, MAX_TOKENS

    return [
        ("section", "SELECT 1 FROM raw_events" + ",raw_events" * 8000),
        ("section", "SELECT 1 FROM raw_events" + ",raw_events" * ((MAX_SQL_CHARS - 40) // 11)),
        ("section", "SELECT " + ",".join(["user_id"] * (MAX_TOKENS // 2 + 10)) + " FROM raw_events"),
        ("section", "SELECT 1 FROM raw_events WHERE " + " OR ".join(["user_id = 'x'"] * (MAX_TOKENS // 4 + 10))),
        ("section", "SELECT 1 FROM raw_events" + ",raw_events" * MAX_TABLE_REFERENCES),
        ("section", "SELECT " + "(" * (MAX_PAREN_DEPTH + 1) + "1" + ")" * (MAX_PAREN_DEPTH + 1)),
    ]


def measure(queries: list[tuple[str, str]], repeat: int) -> dict[str, float | int]:
    cpu: list[float] = []
    wall: list[float] = []
    refused = 0
    for run in range(repeat + 1):
        for scope, sql in queries:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            try:
                guard(sql, scope=scope, database=DB)
            except GuardError:
                refused += run == 0
            if run:  # the first pass warms caches
                cpu.append((time.process_time() - cpu_start) * 1000)
                wall.append((time.perf_counter() - wall_start) * 1000)

    def pct(values: list[float], q: float) -> float:
        return (
            round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)
            if len(values) > 1
            else round(values[0], 2)
        )

    return {
        "queries": len(queries),
        "refused": refused,
        "calls": len(cpu),
        "cpu_p50_ms": pct(cpu, 50),
        "cpu_p95_ms": pct(cpu, 95),
        "cpu_max_ms": round(max(cpu), 2),
        "wall_p50_ms": pct(wall, 50),
        "wall_p95_ms": pct(wall, 95),
        "wall_max_ms": round(max(wall), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over each query set (default 5)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    results = {
        "categories": measure(category_queries(), args.repeat),
        "samples": measure(sample_queries(), args.repeat),
        "oversized": measure(oversized_queries(), args.repeat),
    }
    header = f"{'set':<11} {'queries':>7} {'refused':>7} {'cpu p50':>8} {'cpu p95':>8} {'cpu max':>8} {'wall p50':>9} {'wall p95':>9} {'wall max':>9}"
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        print(
            f"{name:<11} {row['queries']:>7} {row['refused']:>7} {row['cpu_p50_ms']:>8} {row['cpu_p95_ms']:>8} {row['cpu_max_ms']:>8} "
            f"{row['wall_p50_ms']:>9} {row['wall_p95_ms']:>9} {row['wall_max_ms']:>9}"
        )
    print("(milliseconds per guard() call)")
    text = json.dumps({"bench": "guard", "repeat": args.repeat, "results": results}, sort_keys=True)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
