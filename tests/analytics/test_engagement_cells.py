"""Page engagement's heatmap cells, made in Python from one row per page (views per day as a map): the period from
the span of days with views (day up to 25 days, week up to 175, else month), views summed per period, pages in the
query's order and periods in order, at most MAX_CELLS cells, the page totals on each cell."""

from __future__ import annotations

from datetime import date, timedelta

import orjson

from xolap.analytics.categories.engagement import CATEGORY, MAX_CELLS, grain_of, heatmap_cells, period_start, present
from xolap.analytics.categories.periods import coverage
from xolap.analytics.labels import unique_labels


def page(page_id: int, views_by_day: dict[date, int], first: date, last: date) -> dict:
    views = sum(views_by_day.values())
    return {
        "page_title": f"Page {page_id}",
        "page_id": page_id,
        "views": views,
        "viewers": 1,
        "completed": 0,
        "completion_pct": 0.0,
        "day_views": {day.isoformat(): n for day, n in views_by_day.items()},
        "first_event_day": first.isoformat(),
        "last_event_day": last.isoformat(),
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
    }


def test_the_grain_follows_the_span_of_days_with_views():
    assert [grain_of(days) for days in (0, 25, 26, 175, 176, 900)] == ["day", "day", "week", "week", "month", "month"]


def test_views_are_summed_per_period_in_order_and_the_totals_repeat():
    first, last = date(2026, 1, 5), date(2026, 9, 30)  # 268 days: months
    rows = [
        page(7, {date(2026, 3, 31): 2, date(2026, 1, 5): 1, date(2026, 3, 1): 4}, first, last),
        page(3, {date(2026, 9, 30): 1}, first, last),
    ]
    cells = heatmap_cells(rows)
    assert [(c["page_id"], c["period"], c["period_views"]) for c in cells] == [
        (7, "2026-01-01", 1),
        (7, "2026-03-01", 6),
        (3, "2026-09-01", 1),
    ]
    assert {c["granularity"] for c in cells} == {"month"} and {c["views"] for c in cells if c["page_id"] == 7} == {7}
    assert list(cells[0]) == [
        "page_title",
        "page_id",
        "period",
        "granularity",
        "period_views",
        "views",
        "viewers",
        "completed",
        "completion_pct",
        "first_day",
        "last_day",
    ]
    weekly = heatmap_cells(
        [page(1, {date(2026, 3, 4): 1, date(2026, 3, 8): 2, date(2026, 3, 9): 5}, first, first + timedelta(60))]
    )
    assert [(c["period"], c["period_views"]) for c in weekly] == [("2026-03-02", 3), ("2026-03-09", 5)]
    assert heatmap_cells([]) == []


def test_at_most_max_cells_in_page_order():
    first, last = date(2020, 1, 1), date(2022, 12, 31)  # 36 months of views for 20 pages: 720 cells
    months = [date(2020 + m // 12, m % 12 + 1, 1) for m in range(36)]
    rows = [page(p, {day: 1 for day in months}, first, last) for p in range(20)]
    cells = heatmap_cells(rows)
    assert len(cells) == MAX_CELLS == 500
    assert [c["page_id"] for c in cells] == sorted([c["page_id"] for c in cells])  # the first pages keep their cells
    assert cells[-1]["page_id"] == 13 and cells[-1]["period"] == months[499 - 13 * 36].isoformat()


def _pages_over(days: list[date], pages: int, first: date, last: date) -> list[dict]:
    return [page(p, {day: (p * 7 + i) % 5 + 1 for i, day in enumerate(days)}, first, last) for p in range(pages)]


def test_presented_cells_carry_their_periods_coverage_of_the_span():
    # a span starting and ending inside a week and a month: partial first and last periods
    for first, last in ((date(2026, 2, 11), date(2026, 3, 25)), (date(2025, 11, 20), date(2026, 6, 3))):
        days = [first + timedelta(days=d) for d in range(0, (last - first).days + 1, 3)]
        rows = _pages_over(days, 4, first, last)
        cells = heatmap_cells([dict(row) for row in rows])
        expected = []
        for cell in cells:
            marked = {name: value for name, value in cell.items() if name not in ("first_day", "last_day")}
            marked.update(coverage(date.fromisoformat(cell["period"]), cell["granularity"], first, last))
            expected.append(marked)
        presented = present(rows, orjson.loads(orjson.dumps(CATEGORY.spec)))
        assert [{k: v for k, v in row.items() if k != "page_label"} for row in presented.rows] == expected
        assert any(row["partial"] for row in presented.rows) and any(not row["partial"] for row in presented.rows)
        assert presented.columns == list(expected[0])


def test_each_day_is_bucketed_once_per_grain_however_many_pages_name_it():
    first, last = date(2026, 1, 5), date(2026, 4, 30)  # 115 days: weeks
    days = [first + timedelta(days=d) for d in range(0, 115, 2)]
    period_start.cache_clear()
    present(_pages_over(days, 20, first, last), orjson.loads(orjson.dumps(CATEGORY.spec)))
    info = period_start.cache_info()
    assert (info.misses, info.hits) == (len(days), 19 * len(days))
    assert 0 < (info.maxsize or 0) <= 100_000


def test_each_page_is_labelled_once_and_every_cell_carries_its_label_last():
    """Labels come from the pages shown (repeated titles told apart by id, as labels.add_labels does per row), set on
    the cells in place after their period fields; a page cut off by MAX_CELLS takes no part in the labelling."""
    first, last = date(2026, 1, 5), date(2026, 4, 30)
    days = [first + timedelta(days=d) for d in range(115)]
    rows = _pages_over(days, 40, first, last)  # 17 weeks a page: pages past MAX_CELLS are cut
    for index, row in enumerate(rows):
        row["page_title"] = "Intro" if index % 3 else f"Page {row['page_id']}"
    rows[-1]["page_title"] = rows[0]["page_title"]  # a cut page sharing a shown title would add " · #id" to it
    presented = present(rows, orjson.loads(orjson.dumps(CATEGORY.spec)))
    shown = list(dict.fromkeys(cell["page_id"] for cell in presented.rows))
    assert len(presented.rows) == MAX_CELLS and len(shown) < len(rows)
    expected = unique_labels((row["page_id"], row["page_title"], f"#{row['page_id']}") for row in rows[: len(shown)])
    assert len(set(expected.values())) == len(shown) and expected[0] == "Page 0"
    for cell in presented.rows:
        assert list(cell)[-1] == "page_label" and cell["page_label"] == expected[cell["page_id"]]
