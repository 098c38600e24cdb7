"""Every bench reports each goal it measures with xolap's figure, the baseline measured in the same run and PASS/MISS
(issue 14's "done when"), in its printed table and its JSON: each bench's goal_verdicts is checked on a tiny measured
input shaped as the bench records it, so a bench cannot drop a goal, its baseline or its verdict unnoticed."""

from __future__ import annotations

import inspect
import re

import pytest

from bench_modules import BENCH, STANDALONE, load_bench, make_bench_scripts

ROW_FIELDS = {"bench", "goal", "figure", "unit", "baseline", "baseline_name", "verdict", "why", "ratio_to_baseline"}


def check_rows(rows: list[dict], bench: str) -> dict[str, str]:
    """Each row carries every field, names its bench, and has a verdict; returns goal -> verdict."""
    assert rows, f"{bench}: no goals"
    for row in rows:
        assert ROW_FIELDS <= set(row), f"{bench}: {row}"
        assert row["bench"] == bench
        assert row["verdict"] in ("PASS", "MISS", "-")
    return {row["goal"]: row["verdict"] for row in rows}


# --- the row itself -------------------------------------------------------------------------------------------------


def test_a_goal_row_passes_and_misses_by_its_bound_and_baseline() -> None:
    goal_row = load_bench("verdicts").goal_row
    assert goal_row("x", "p95 <= 20 ms", 19.0, at_most=20)["verdict"] == "PASS"
    assert goal_row("x", "p95 <= 20 ms", 21.0, at_most=20)["verdict"] == "MISS"
    assert goal_row("x", ">= 0.8x", 79.0, at_least=80, baseline=100, baseline_name="ceiling")["verdict"] == "MISS"
    faster = goal_row("x", "faster", 5.0, baseline=8.0, baseline_name="Postgres", beat_baseline=True)
    slower = goal_row("x", "faster", 9.0, at_most=20, baseline=8.0, baseline_name="Postgres", beat_baseline=True)
    assert (faster["verdict"], slower["verdict"]) == ("PASS", "MISS")
    assert "not better than Postgres" in slower["why"] and faster["ratio_to_baseline"] == 0.625
    more = goal_row("x", "more", 5.0, at_least=1, baseline=8.0, baseline_name="raw", beat_baseline=True)
    assert more["verdict"] == "MISS"  # higher is better under at_least
    unmeasured = goal_row("x", "faster", 5.0, baseline=None, baseline_name="Postgres", beat_baseline=True)
    assert unmeasured["verdict"] == "MISS" and "no Postgres figure" in unmeasured["why"]
    assert goal_row("x", "not run", None, at_most=20)["verdict"] == "-"
    assert goal_row("x", "not run", float("nan"), at_most=20)["verdict"] == "-"
    with pytest.raises(ValueError, match="bound or a baseline"):
        goal_row("x", "nothing to check", 1.0)


def test_the_printed_table_names_goal_figure_baseline_and_verdict(capsys) -> None:
    verdicts = load_bench("verdicts")
    rows = [
        verdicts.goal_row(
            "ingest", "sql path >= 0.8x", 70.0, unit="rows/s", at_least=80, baseline=100.0, baseline_name="ceiling"
        ),
        verdicts.goal_row(
            "ingest", "python path >= 0.5x", None, unit="rows/s", at_least=50, baseline=100.0, baseline_name="ceiling"
        ),
    ]
    verdicts.print_verdicts(rows)
    out = capsys.readouterr().out
    assert "goal" in out and "baseline" in out and "verdict" in out
    assert re.search(
        r"sql path >= 0\.8x\s+\|\s+70\.0 rows/s \| ceiling 100 rows/s\s+\|\s+0\.7x \| MISS \(under 80\)", out
    ), out
    assert "0 PASS, 1 MISS, 1 not run" in out


# --- each bench -----------------------------------------------------------------------------------------------------


def test_every_bench_reports_its_goals_in_its_table_and_json() -> None:
    """The Makefile's benches and the standalone ones each have goal_verdicts, print them and put them in the JSON."""
    scripts = make_bench_scripts()
    assert {"schema", "ingest", "backfill", "freshness", "analytics"} <= scripts
    for name in sorted(scripts | STANDALONE):
        source = (BENCH / f"{name}.py").read_text(encoding="utf-8")
        main = source.split("\ndef main(", 1)[1].split("\ndef ", 1)[0] if "\ndef main(" in source else ""
        assert "def goal_verdicts(" in source, f"bench/{name}.py has no goal_verdicts"
        reported = main + "".join(
            inspect.getsource(getattr(load_bench(name), helper))
            for helper in ("compare_layouts", "print_table")
            if hasattr(load_bench(name), helper)
        )
        assert "print_verdicts(" in reported and '"goal_verdicts"' in reported, f"bench/{name}.py does not report them"


def test_schema_goals_compare_each_final_read_with_torus() -> None:
    bench = load_bench("schema")
    results = [
        {"state": "merged", "scope": "section M", "query": "per_type", "layout": layout, "final": final, "p50_ms": ms}
        for layout, final, ms in (
            ("xolap", False, 4.0),
            ("xolap", True, 6.0),
            ("torus", False, 40.0),
            ("torus", True, 5.0),
        )
    ]
    goals = check_rows(bench.goal_verdicts(results), "schema")
    assert list(goals.values()) == ["MISS"]  # xolap FINAL 6 ms vs Torus FINAL 5 ms
    results[3]["p50_ms"] = 60.0
    row = bench.goal_verdicts(results)[0]
    assert (row["verdict"], row["figure"], row["baseline"]) == ("PASS", 6.0, 60.0)


def test_ingest_goals_are_each_path_against_the_ceiling() -> None:
    bench = load_bench("ingest")
    measured = {"python": {"rows_per_s": 60}, "sql": {"rows_per_s": 70}, "ceiling": {"rows_per_s": 100}}
    goals = check_rows(bench.goal_verdicts(measured), "ingest")
    assert sorted(goals.values()) == ["MISS", "PASS"] and len(goals) == len(bench.GOALS)
    assert {row["baseline"] for row in bench.goal_verdicts(measured)} == {100}
    assert {row["verdict"] for row in bench.goal_verdicts({"sql": {"rows_per_s": 70}})} == {"-"}


def test_backfill_goal_is_chunk_25_against_the_raw_read() -> None:
    bench = load_bench("backfill")
    measured = [
        {"path": "raw INSERT … SELECT FROM s3(glob)", "rows_per_s": 100},
        {"path": "inventory, chunk 25", "rows_per_s": 95},
    ]
    assert list(check_rows(bench.goal_verdicts(measured), "backfill").values()) == ["PASS"]
    measured[1]["rows_per_s"] = 80
    assert [row["verdict"] for row in bench.goal_verdicts(measured)] == ["MISS"]
    assert [row["verdict"] for row in bench.goal_verdicts(measured[:1])] == ["-"]


def test_freshness_goal_is_the_p95_of_the_puts() -> None:
    bench = load_bench("freshness")
    assert list(check_rows(bench.goal_verdicts([0.2] * 20), "freshness").values()) == ["PASS"]
    assert [row["verdict"] for row in bench.goal_verdicts([0.2] * 10 + [6.0] * 10)] == ["MISS"]


def test_analytics_goals_are_each_cold_answer_against_postgres_warm_and_concurrency() -> None:
    bench = load_bench("analytics")
    single = [
        {"target": "section_median", "key": "engagement", "p50_ms": 5.0, "p95_ms": 8.0},
        {"target": "project_largest", "key": "engagement", "p50_ms": 40.0, "p95_ms": 60.0},
    ]
    pg = {
        "results": [
            {"target": r["target"], "key": r["key"], "p95_ms": 4.0 if r["target"] == "section_median" else 900.0}
            for r in single
        ]
    }
    warm = [{"target": "section_median", "key": "engagement", "p95_ms": 0.05}]
    conc = {"clients": 8, "qps": 231.2, "p95_ms": 69.9}
    rows = bench.goal_verdicts(single, pg, warm, conc, bench.goals(5_000_000))
    check_rows(rows, "analytics")
    assert [(row["verdict"], row["baseline"]) for row in rows[:2]] == [("MISS", 4.0), ("MISS", 900.0)]
    assert "slower" not in rows[1]["why"] and "over 50" in rows[1]["why"]
    assert [row["verdict"] for row in rows[2:]] == ["PASS", "PASS", "PASS"]  # warm, q/s, p95
    without_postgres = bench.goal_verdicts(single, None, [], None, bench.goals(5_000_000))
    assert [(row["verdict"], row["baseline_name"]) for row in without_postgres] == [("PASS", None), ("MISS", None)]
    conc_slow = bench.goal_verdicts([], None, [], {"clients": 8, "qps": 163.5, "p95_ms": 95.0}, bench.goals(5_000_000))
    assert [row["verdict"] for row in conc_slow] == ["MISS", "PASS"]


def test_http_goals_are_each_page_and_the_errors_of_each_phase() -> None:
    bench = load_bench("http_load")
    phases = [
        {
            "phase": "warm",
            "errors": 0,
            "pages": {"dashboard page": {"p95_ms": 58.0}, "login (busy)": {"p95_ms": 410.0}},
        },
        {"phase": "cold", "errors": 3, "pages": {"dashboard page": {"p95_ms": 120.0}}},
    ]
    goals = check_rows(bench.goal_verdicts(phases), "http_load")
    assert goals == {
        "warm dashboard page p95 <= 150 ms": "PASS",
        "warm login (busy) p95 <= 150 ms": "MISS",
        "warm errors = 0": "PASS",
        "cold dashboard page p95 <= 150 ms": "PASS",
        "cold errors = 0": "MISS",
    }


def test_http_load_tells_whether_a_miss_is_capacity_or_waiting() -> None:
    bench = load_bench("http_load")
    # 50 users at 150 ms need 333.3 requests/s: on 2 cores, 6 ms of server CPU a request at most
    cold = bench.closed_loop(50, 71.0, 24.3, 70.0, 30.0, 2)
    assert cold["needed_requests_per_s"] == 333.3 and cold["cpu_budget_ms"] == 6.0
    assert cold["bound"] == "capacity" and cold["mean_wait_ms"] == 704.2
    assert cold["capacity_requests_per_s"] == 82.3 and cold["capacity_mean_wait_ms"] == 607.5
    warm = bench.closed_loop(50, 551.0, 1.93, 32.0, 30.0, 2)
    assert warm["bound"] == "waiting" and warm["core_share"] == 0.533
    line = bench.closed_loop_line(
        {"phase": "cold", "requests_per_s": 71.0, "server_cpu_ms_per_request": 24.3, "closed_loop": cold}
    )
    assert "CAPACITY" in line and "6.0 ms" in line and "704.2 ms mean wait" in line
    assert "607.5 ms is what the CPU a request costs on 2 free cores, the other 97 ms waiting" in line


def test_warm_goal_is_each_kind_of_request_server_time() -> None:
    bench = load_bench("warm")
    rows = {"category JSON (cookie)": {"p95_ms": 0.6}, "dashboard page HTML (cookie)": {"p95_ms": 2.4}}
    goals = check_rows(bench.goal_verdicts(rows), "warm")
    assert list(goals.values()) == ["PASS", "MISS"]


def test_lrs_goal_is_each_batch_against_the_direct_uploader() -> None:
    bench = load_bench("lrs")
    results = [
        ("direct uploader", 1, 300, 200.0, 5.0),
        ("LRS", 1, 300, 150.0, 6.5),
        ("direct uploader", 10, 300, 900.0, 1.1),
        ("LRS", 10, 300, 300.0, 3.3),
    ]
    goals = check_rows(bench.goal_verdicts(results), "lrs")
    assert list(goals.values()) == ["PASS", "MISS"]  # 1.3x, 3x the direct uploader
