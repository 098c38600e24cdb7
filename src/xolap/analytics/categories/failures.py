"""Category failures in plain words: what happened to the chart and what to try, with the technical detail apart.

A curated chart that fails to compute raises CategoryFailure, a QueryError whose `message` is a sentence for an
instructor ("“Video engagement” took too long to compute. Try a shorter date range.") and whose `detail` keeps the
executor's message for an administrator. Its `kind` and status stay the executor's, so callers that handle
QueryError keep working; the dashboard API shows `message` and puts `detail` behind a disclosure.
"""

from __future__ import annotations

from xolap.analytics.executor import QueryError

SHORTER_RANGE = "Try a shorter date range."
_PLAIN = {
    "timeout": "“{title}” took too long to compute. " + SHORTER_RANGE,
    "too_many_rows_read": "“{title}” needs more events than a chart may read at once. " + SHORTER_RANGE,
    "too_many_bytes_read": "“{title}” needs more data than a chart may read at once. " + SHORTER_RANGE,
    "memory": "“{title}” needs more memory than a chart may use. " + SHORTER_RANGE,
    "too_large": "“{title}” needs more memory than a chart may use. " + SHORTER_RANGE,
    "too_many_rows": "“{title}” has more rows than a chart may show. " + SHORTER_RANGE,
    "cancelled": "“{title}” was stopped before it finished. Reload the tab to compute it again.",
    "unavailable": "The analytics database cannot be reached, so “{title}” cannot be computed right now. Try again in "
    "a minute; if it keeps happening, tell your administrator.",
}
_OTHERWISE = (
    "“{title}” could not be computed. Try again later; if it keeps happening, give your administrator the "
    "technical detail."
)


class CategoryFailure(QueryError):
    """A curated chart failed: `message` in plain words, `detail` the technical reason, `kind` as the executor's."""

    def __init__(
        self, kind: str, message: str, detail: str, *, code: int | None = None, tag: str | None = None
    ) -> None:
        super().__init__(kind, message, code=code, tag=tag)
        self.detail = detail


def plain_failure(exc: QueryError, title: str) -> CategoryFailure:
    """The executor's failure of the chart called `title`, told in plain words (detail kept)."""
    message = _PLAIN.get(exc.kind, _OTHERWISE).format(title=title)
    return CategoryFailure(exc.kind, message, exc.message, code=exc.code, tag=exc.tag)
