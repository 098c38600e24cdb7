"""What a curated analytics category is (SQL builder, Vega-Lite template, metadata) and what running one returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from xolap.analytics.title_lookup import TitleColumn
from xolap.clickhouse.events import Scope

SCOPES: tuple[Scope, ...] = ("section", "project")


class CategoryError(Exception):
    """A category was asked for with invalid arguments (unknown key, wrong scope, bad dates); the message says which."""


@dataclass(frozen=True)
class QueryContext:
    """What a category's SQL builder needs: the database to qualify tables with, the scope and whether dates are set."""

    database: str
    scope: Scope
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class CategoryInfo:
    """The public description of a category, as listed to the dashboard."""

    key: str
    title: str
    description: str
    chart_explanation: str
    scopes: tuple[Scope, ...]
    min_rows: int


@dataclass(frozen=True)
class Presented:
    """What a category's `present(rows, spec)` makes of its result rows, in Python over those few rows: the rows with
    label columns added (or rows computed from the SQL's, then `columns` names them), the spec fitted to them (axis
    titles of the chosen grain), and fields the category JSON carries beside the rows (e.g. `grain`, `table`)."""

    rows: list[dict[str, Any]]
    spec: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    columns: list[str] | None = None  # the rows' columns when they are not the SQL's (plus added labels)


def every_bucket(
    rows: list[dict[str, Any]], buckets: int, empty: Callable[[int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows for buckets 0..buckets-1 in order: the SQL's row of a bucket, else empty(bucket) (what a WITH FILL in the
    SQL gave before, without the extra query level)."""
    by_bucket = {row["bucket"]: row for row in rows}
    return [by_bucket.get(bucket) or empty(bucket) for bucket in range(buckets)]


@dataclass(frozen=True)
class Category:
    """A curated category: `build_sql(ctx)` returns trusted SQL that reads events only via scoped_events; `spec` is a
    Vega-Lite template whose data.values is filled with the result rows; `enough_data(rows)` decides "not enough data";
    `present`, when set, adds labels to the rows and fits the spec (see Presented); `content_titles`, when set, is a
    column of content titles looked up in Python before `present` (xolap.analytics.title_lookup); `unranked_sql` and
    `rank`, when set, answer a scope with few rows (xolap.analytics.categories.small_scopes)."""

    key: str
    title: str
    description: str
    chart_explanation: str
    build_sql: Callable[[QueryContext], str]
    spec: dict[str, Any]
    scopes: tuple[Scope, ...] = SCOPES
    min_rows: int = 1
    count_field: str | None = None
    min_count: int = 0
    present: Callable[[list[dict[str, Any]], dict[str, Any]], Presented] | None = None
    content_titles: TitleColumn | None = None
    # A ranked chart's rows before ranking (by its sort key's last column) and the ranking in Python, giving build_sql's
    # rows: read so for a scope with few rows (xolap.analytics.categories.small_scopes).
    unranked_sql: Callable[[QueryContext], str] | None = None
    rank: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None

    def info(self) -> CategoryInfo:
        return CategoryInfo(self.key, self.title, self.description, self.chart_explanation, self.scopes, self.min_rows)

    def enough_data(self, rows: list[dict[str, Any]]) -> bool:
        if len(rows) < self.min_rows:
            return False
        if self.count_field is not None:
            return sum(row.get(self.count_field) or 0 for row in rows) >= self.min_count
        return True


@dataclass(frozen=True)
class CategoryResult:
    """One run of a category: rows as JSON-ready dicts, the spec with data.values inserted, the exact SQL and
    parameters it ran with, its wall time, whether there was enough data to chart, and the category's extra JSON
    fields (`extra`, e.g. the time grain it chose or the learners-at-risk table)."""

    key: str
    title: str
    rows: list[dict[str, Any]]
    spec: dict[str, Any]
    sql: str
    parameters: dict[str, Any]
    elapsed_ms: float
    enough_data: bool
    columns: list[str] = field(default_factory=list)
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
