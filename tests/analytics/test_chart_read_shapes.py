"""Chart reads shaped to read fewer aggregate states (docs/rollups.md, "CPU per answer"): what each shape reads, and
that the answers stay those of the raw FINAL reads (tests/analytics/test_rollups.py compares every chart and range)."""

from __future__ import annotations

import re
from datetime import date

from xolap.analytics.categories import course_progress, section_comparison
from xolap.analytics.categories.model import QueryContext


def _reads(sql: str) -> list[tuple[str, str]]:
    """(table, the rest of its SELECT up to the next table) for each rollup table the SQL names."""
    pieces = re.split(r"`db`\.(rollup_[a-z_]+)", sql)
    return [(pieces[index], pieces[index - 1].rsplit("SELECT", 1)[-1]) for index in range(1, len(pieces), 2)]


def test_undated_section_comparison_merges_learners_from_the_slice_totals_not_the_daily_rows():
    """The daily rows hold a learner state per section, day and event type (40k rows for the largest 5M project);
    without dates the whole-slice rows (per section and event type) hold the same learners, so only the sums are read
    from the daily rows."""
    reads = _reads(section_comparison.build_sql(QueryContext("db", "project")))
    tables = sorted(table for table, _ in reads)
    assert tables == ["rollup_events_daily", "rollup_events_slice"], reads
    for table, select in reads:
        merges_learners = "learner_ids" in select or "learner_hashes" in select
        assert merges_learners == (table == "rollup_events_slice"), (table, select)


def test_dated_section_comparison_merges_the_daily_learner_states_in_range():
    for start, end in ((date(2026, 1, 1), None), (None, date(2026, 2, 1)), (date(2026, 1, 1), date(2026, 2, 1))):
        reads = _reads(section_comparison.build_sql(QueryContext("db", "project", start, end)))
        assert [table for table, _ in reads] == ["rollup_events_daily"]
        assert "learner_ids" in reads[0][1]


def test_course_progress_merges_every_learner_state_once_without_a_window():
    """The scope's distinct pages come from the empty grouping set in the same pass as each learner's pages, not from a
    window merging every learner's state again; the 10% buckets are made in Python over the rows per pages viewed."""
    for start, end in ((None, None), (date(2026, 1, 1), date(2026, 2, 1))):
        for scope in ("section", "project"):
            sql = course_progress.build_sql(QueryContext("db", scope, start, end))
            assert " OVER " not in sql and "GROUPING SETS ((r.user_id), ())" in sql, sql
            assert sql.count("uniqExactMerge") == 1 and "bucket" not in sql


def test_python_buckets_are_the_sql_buckets_for_every_share(ch_engine):
    """bucket_of gives what raw_sql's toUInt8(least(floor(viewed / total_pages * 10), 9)) gives, for every learner's
    pages out of 1..400 (the shares where a double's rounding could move a step: 3/10 * 10, 7/10 * 10, ...)."""
    pairs = ch_engine.query(
        "SELECT t, v, toUInt8(least(floor(v / t * 10), 9)) FROM (SELECT toUInt64(number + 1) AS t FROM numbers(400)) "
        "ARRAY JOIN arrayMap(x -> toUInt64(x), range(1, t + 1)) AS v"
    ).result_rows
    assert len(pairs) == 400 * 401 // 2
    assert [(t, v, course_progress.bucket_of(v, t)) for t, v, _ in pairs] == [tuple(row) for row in pairs]


def test_course_progress_rows_are_bucketed_as_raw_sql_gives_them():
    rows = [
        {"viewed": 40, "whole": 1, "learners": 1},
        {"viewed": 40, "whole": 0, "learners": 3},
        {"viewed": 4, "whole": 0, "learners": 2},
        {"viewed": 12, "whole": 0, "learners": 5},
        {"viewed": 1, "whole": 0, "learners": 1},
    ]
    presented = course_progress.present(rows, {}).rows
    assert [(row["bucket"], row["learners"], row["total_pages"]) for row in presented] == [
        (0, 1, 40),
        (1, 2, 40),
        (2, 0, 0),
        (3, 5, 40),
        (4, 0, 0),
        (5, 0, 0),
        (6, 0, 0),
        (7, 0, 0),
        (8, 0, 0),
        (9, 3, 40),
    ]
    assert [row["share_range"] for row in presented][:2] == ["0–10%", "10–20%"]
    empty = course_progress.present([{"viewed": 0, "whole": 1, "learners": 1}], {}).rows  # a scope without views
    assert [(row["learners"], row["total_pages"]) for row in empty] == [(0, 0)] * 10
