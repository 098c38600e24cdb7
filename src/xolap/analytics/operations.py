"""Analytics operations with JSON answers, for a scope named by id or slug: custom SQL, a curated category, the
ClickHouse health summary, a titles import. `xolap` runs them here (xolap.operations.LocalOperations) or asks the
running server, whose admin API (xolap.web.api_ops) runs these same functions; either way the answer is the same.

Errors are xolap.operation_errors.OperationError: refused (unknown scope, guard, bad arguments) or failed (limits,
engine errors), never a raw chDB message and never an empty result for a scope that does not exist.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xolap.operation_errors import OperationError, refused

if TYPE_CHECKING:
    from xolap.runtime import Runtime

SCOPE_KINDS = ("section", "project")


def resolve_scope(runtime: Runtime, scope: str, ref: str | int | None) -> tuple[int | None, dict[str, Any]]:
    """(id, {kind, id, slug, title}) of the section or project named by id or slug; (None, {kind: admin}) for admin.
    An unknown one is refused with kind not_found."""
    if scope == "admin":
        return None, {"kind": "admin"}
    return resolve_section_or_project(runtime, scope, ref)


def resolve_section_or_project(runtime: Runtime, scope: str, ref: str | int | None) -> tuple[int, dict[str, Any]]:
    """(id, {kind, id, slug, title}) of the section or project named by id or slug; refused otherwise."""
    from xolap.store.accounts import UnknownScope
    from xolap.store.accounts import resolve_scope as find

    if scope not in SCOPE_KINDS:
        raise refused(f"unknown scope {scope!r}: use section, project or admin")
    if ref is None or not str(ref).strip():
        raise refused(f"--{scope} needs an id or a slug")
    try:
        with runtime.sessions() as session:
            row = find(session, scope, ref)
            return int(row.id), {"kind": scope, "id": int(row.id), "slug": row.slug, "title": row.title}
    except UnknownScope as exc:
        raise refused(str(exc), "not_found") from None


def _query_failure(exc: Exception) -> OperationError:
    from xolap.analytics.custom_sql import EmptyQuery
    from xolap.analytics.executor import QueryError
    from xolap.analytics.guard import GuardError

    if isinstance(exc, GuardError):
        return refused(f"refused: {exc}", "guard")
    if isinstance(exc, EmptyQuery):
        return refused(str(exc))
    if isinstance(exc, QueryError):
        return OperationError(
            f"error ({exc.kind}): {exc.message}", kind=exc.kind, status_code=503 if exc.kind == "unavailable" else 422
        )
    return refused(str(exc))  # ValueError: an id the wall could not format


def query(
    runtime: Runtime,
    sql: str,
    *,
    scope: str,
    ref: str | int | None = None,
    max_rows: int | None = None,
    timeout: float | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """Custom SQL for a scope (xolap.analytics.custom_sql): the result as JSON (columns with types, rows, truncated,
    row_count, elapsed_ms, …) plus the scope it ran in and the row limit it ran under. `tag` names the run for
    executor.progress and executor.cancel (the SQL console's progress and Cancel)."""
    from xolap.analytics.custom_sql import limits_for, run_custom_sql, user_sql_client
    from xolap.analytics.executor import QueryError
    from xolap.analytics.guard import GuardError
    from xolap.analytics.result_formats import to_json

    scope_id, info = resolve_scope(runtime, scope, ref)
    limits = limits_for(runtime.settings, max_rows=max_rows, timeout=timeout)
    try:
        result = run_custom_sql(
            user_sql_client(runtime), runtime.settings, sql, scope=scope, scope_id=scope_id, limits=limits, tag=tag
        )
    except (GuardError, QueryError, ValueError) as exc:
        raise _query_failure(exc) from None
    return {**to_json(result), "scope": info, "max_result_rows": limits.max_result_rows}


def category(
    runtime: Runtime, key: str, *, scope: str, ref: str | int, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """One curated category for a section or project: key, title, columns, rows, spec, sql, parameters, timing."""
    from xolap.analytics.categories import CategoryError, run_category
    from xolap.analytics.executor import QueryError
    from xolap.analytics.result_formats import json_value

    if scope not in SCOPE_KINDS:
        raise refused(f"categories run for a section or a project, not {scope!r}")
    scope_id, info = resolve_section_or_project(runtime, scope, ref)
    try:
        result = run_category(
            runtime.clickhouse(), runtime.settings, key, scope=scope, scope_id=scope_id, start=start, end=end
        )
    except CategoryError as exc:
        raise refused(str(exc), "not_found" if str(exc).startswith("unknown category") else "invalid") from None
    except QueryError as exc:
        raise _query_failure(exc) from None
    return json_value({**result.__dict__, "scope": info})


def health(runtime: Runtime) -> dict[str, Any]:
    """The ClickHouse health summary (xolap.analytics.health)."""
    from xolap.analytics.health import health_summary
    from xolap.analytics.result_formats import json_value

    return json_value(health_summary(runtime.clickhouse(), runtime.settings))


def import_titles(runtime: Runtime, filename: str, content: bytes) -> dict[str, Any]:
    """Import content titles from one file's bytes (.csv, .json, .jsonl); the count and each skipped row."""
    from xolap.analytics.titles import TitlesImportError
    from xolap.analytics.titles import import_titles as run_import

    name = Path(filename).name or "titles.csv"
    with tempfile.TemporaryDirectory(prefix="xolap-titles-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            report = run_import(runtime.clickhouse(), runtime.settings, path)
        except TitlesImportError as exc:
            raise refused(str(exc).replace(str(path), name)) from None
    problems = [str(problem).replace(str(path), name) for problem in report.problems]
    return {"imported": report.imported, "problems": problems}
