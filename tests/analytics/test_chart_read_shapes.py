"""Chart reads shaped to read fewer aggregate states (docs/rollups.md, "CPU per answer"): what each shape reads, and
that the answers stay those of the raw FINAL reads (tests/analytics/test_rollups.py compares every chart and range)."""

from __future__ import annotations

import re
from datetime import date

from xolap.analytics.categories import section_comparison
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
