"""Curated analytics categories (SQL + Vega-Lite spec + metadata) for a section or a project, and the event summary."""

from xolap.analytics.categories.failures import CategoryFailure
from xolap.analytics.categories.model import CategoryError, CategoryInfo, CategoryResult
from xolap.analytics.categories.registry import (
    CATEGORIES,
    event_summary,
    get_category,
    list_categories,
    run_category,
)

__all__ = [
    "CATEGORIES",
    "CategoryError",
    "CategoryFailure",
    "CategoryInfo",
    "CategoryResult",
    "event_summary",
    "get_category",
    "list_categories",
    "run_category",
]
