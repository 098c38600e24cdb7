"""bench/verdicts: each goal a bench measures, as one row — the goal, xolap's figure, the baseline measured in the
same run, PASS or MISS — printed as one table at the end of the run and kept in its JSON summary ("goal_verdicts").

A goal is a bound (`at_most` / `at_least` on the figure), a comparison with the baseline (`beat_baseline`: lower is
better when the bound is `at_most` or there is none, higher when it is `at_least`), or both. A goal without a figure
(the phase or path was not run) is "-", never PASS.
"""

from __future__ import annotations

import math

FIELDS = ("bench", "goal", "figure", "unit", "baseline", "baseline_name", "verdict")


def goal_row(
    bench: str,
    goal: str,
    figure: float | None,
    *,
    unit: str = "",
    at_most: float | None = None,
    at_least: float | None = None,
    baseline: float | None = None,
    baseline_name: str | None = None,
    beat_baseline: bool = False,
) -> dict:
    """One goal's row; `goal` says it in words (e.g. "section_median engagement p95 <= 20 ms, faster than Postgres")."""
    if at_most is None and at_least is None and not beat_baseline:
        raise ValueError(f"{goal!r}: a goal needs a bound or a baseline to beat")
    if beat_baseline and baseline_name is None:
        raise ValueError(f"{goal!r}: a baseline to beat needs its name")
    measured = figure is not None and not math.isnan(figure)
    misses = []
    if measured:
        assert figure is not None
        if at_most is not None and figure > at_most:
            misses.append(f"over {at_most:,.6g}")
        if at_least is not None and figure < at_least:
            misses.append(f"under {at_least:,.6g}")
        if beat_baseline:
            higher_is_better = at_least is not None and at_most is None
            if baseline is None or math.isnan(baseline):
                misses.append(f"no {baseline_name} figure")
            elif (figure <= baseline) if higher_is_better else (figure >= baseline):
                misses.append(f"not better than {baseline_name}")
    return {
        "bench": bench,
        "goal": goal,
        "figure": figure if measured else None,
        "unit": unit,
        "at_most": at_most,
        "at_least": at_least,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "beat_baseline": beat_baseline,
        "ratio_to_baseline": round(figure / baseline, 3) if measured and baseline else None,
        "verdict": "-" if not measured else ("PASS" if not misses else "MISS"),
        "why": ", ".join(misses),
    }


def tally(rows: list[dict]) -> dict:
    """How many goals passed, missed, or were not measured in this run."""
    return {
        "pass": sum(r["verdict"] == "PASS" for r in rows),
        "miss": sum(r["verdict"] == "MISS" for r in rows),
        "not_run": sum(r["verdict"] == "-" for r in rows),
    }


def _number(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text + unit if unit == "x" else f"{text} {unit}".strip()


def print_verdicts(rows: list[dict]) -> None:
    """The goals of this run as a table (goal | xolap | baseline | verdict) and their tally."""
    if not rows:
        print("\ngoals: none measured in this run")
        return
    goal_width = max(len("goal"), *(len(r["goal"]) for r in rows))
    base = [
        "-" if r["baseline_name"] is None else f"{r['baseline_name']} {_number(r['baseline'], r['unit'])}" for r in rows
    ]
    base_width = max(len("baseline"), *(len(b) for b in base))
    header = f"{'goal':<{goal_width}} | {'xolap':>14} | {'baseline':<{base_width}} | {'xolap/base':>10} | verdict"
    print(f"\ngoals of bench/{rows[0]['bench']}, each baseline measured in this run:\n{header}\n{'-' * len(header)}")
    for row, baseline in zip(rows, base, strict=True):
        why = f" ({row['why']})" if row["why"] else ""
        print(
            f"{row['goal']:<{goal_width}} | {_number(row['figure'], row['unit']):>14} | {baseline:<{base_width}} | "
            f"{_number(row['ratio_to_baseline'], 'x'):>10} | {row['verdict']}{why}"
        )
    counts = tally(rows)
    print(f"{counts['pass']} PASS, {counts['miss']} MISS, {counts['not_run']} not run")
