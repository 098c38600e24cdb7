"""The curated categories in dashboard order, and running one (or the event summary) through the bounded executor."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import orjson

from xolap.analytics import build_gate, read_tuning, reference_day, rollup_maintenance, rollups, title_lookup
from xolap.analytics.categories import (
    assessment,
    course_progress,
    cross_event,
    engagement,
    hints_success,
    learners_at_risk,
    performance,
    section_comparison,
    small_scopes,
    video,
    weekday_hour,
)
from xolap.analytics.categories.chart_values import json_rows, json_value
from xolap.analytics.categories.failures import plain_failure
from xolap.analytics.categories.model import SCOPES, Category, CategoryError, CategoryInfo, CategoryResult, QueryContext
from xolap.analytics.categories.sql import date_filter, day_filter, distinct_learners, events, parameters
from xolap.analytics.executor import Limits, QueryError, QueryResult, classify_error, new_tag, run
from xolap.analytics.labels import event_type_labels
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.events import Scope, is_scope
from xolap.config import Settings

_MODULES = (
    video,
    assessment,
    engagement,
    performance,
    cross_event,
    learners_at_risk,
    weekday_hour,
    hints_success,
    course_progress,
    section_comparison,
)
CATEGORIES: dict[str, Category] = {module.CATEGORY.key: module.CATEGORY for module in _MODULES}
# Each category's answer from the deduplicated raw events, its titles joined in SQL (the reference its rollup answer is
# tested against): what a tab answers while its scope's build would wait (_raw_while_building).
RAW_SQL: dict[str, Callable[[QueryContext], str]] = {module.CATEGORY.key: module.raw_sql for module in _MODULES}


def _check_scope(scope: str) -> Scope:
    if not is_scope(scope):
        raise CategoryError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    return scope


def list_categories(scope: str) -> list[CategoryInfo]:
    """The categories offered for a scope ('section' or 'project'), in dashboard order."""
    _check_scope(scope)
    return [category.info() for category in CATEGORIES.values() if scope in category.scopes]


def get_category(key: str, scope: str) -> Category:
    _check_scope(scope)
    category = CATEGORIES.get(key)
    if category is None:
        raise CategoryError(f"unknown category {key!r}; known: {', '.join(CATEGORIES)}")
    if scope not in category.scopes:
        raise CategoryError(f"category {key!r} is only available for scope {', '.join(category.scopes)}, not {scope!r}")
    return category


def _context(settings: Settings, scope: str, scope_id: int, start: date | None, end: date | None) -> QueryContext:
    checked = _check_scope(scope)
    if isinstance(scope_id, bool) or not isinstance(scope_id, int) or scope_id < 0:
        raise CategoryError(f"{scope} id must be a non-negative integer; got {scope_id!r}")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise CategoryError(f"{name} must be a date (YYYY-MM-DD); got {value!r}")
    if start is not None and end is not None and start > end:
        raise CategoryError(f"start {start.isoformat()} is after end {end.isoformat()}")
    return QueryContext(settings.clickhouse_database, checked, start, end)


def with_rollup_builds(
    client: ClickHouseClient, settings: Settings, ctx: QueryContext, sql: str, scope_id: int
) -> dict:
    """The query's parameters; when it reads rollups, also the builds of the scope's current slices (stale slices are
    rebuilt first; builds found current are reused while the scope's data version is unchanged, within
    rollups.memo_max_age: xolap.analytics.rollups), and the reference day of those builds when the SQL asks for it
    (xolap.analytics.reference_day). A failed rebuild raises QueryError."""
    params = parameters(ctx, scope_id)
    if f"{{{rollups.BUILDS_PARAMETER}:" in sql:
        try:
            params[rollups.BUILDS_PARAMETER] = rollups.current_builds(
                client,
                ctx.database,
                ctx.scope,
                scope_id,
                max_age=rollups.memo_max_age(settings),
                stage_memory=rollups.stage_memory_limit(settings),
            )
        except Exception as exc:  # clickhouse-connect and chDB raise several exception types
            raise classify_error(exc, Limits.from_settings(settings), query_tag=new_tag()) from exc
        if f"{{{reference_day.PARAMETER}:" in sql:
            params[reference_day.PARAMETER] = reference_day.reference_day(client, settings, ctx, params)
    return params


def run_category(
    client: ClickHouseClient,
    settings: Settings,
    key: str,
    *,
    scope: str,
    scope_id: int,
    start: date | None = None,
    end: date | None = None,
) -> CategoryResult:
    """Run one curated category for a section or project (optionally between two dates, end inclusive), read-only
    and bounded by the configured limits. Raises CategoryError for bad arguments, CategoryFailure (a QueryError told
    in plain words, the technical reason in `detail`) when the chart cannot be computed."""
    category = get_category(key, scope)
    ctx = _context(settings, scope, scope_id, start, end)
    try:
        raw = _raw_while_building(client, settings, category, ctx, scope_id)
        result, params, rows = raw or _small_scope_read(client, settings, category, ctx, scope_id) or (None, {}, [])
        if result is None:
            sql = category.build_sql(ctx)
            params = with_rollup_builds(client, settings, ctx, sql, scope_id)
            result = run(
                client,
                settings,
                sql,
                parameters=params,
                tag=f"category.{key}.{new_tag()}",
                readonly=True,
                tuning=read_tuning.chart_tuning(sql),
                shared_session=True,
            )
            rows = json_rows(result.columns, result.types, result.rows)
        columns = list(result.columns)
        if category.content_titles is not None and raw is None:  # the raw answer joins its titles in SQL
            columns, rows = title_lookup.with_titles(client, settings, category.content_titles, columns, rows)
    except QueryError as exc:
        raise plain_failure(exc, category.title) from exc
    spec = orjson.loads(orjson.dumps(category.spec))  # a fresh copy of the JSON spec: 5-20x faster than deepcopy
    extra: dict[str, Any] = {}
    if category.present is not None:
        presented = category.present(rows, spec)
        rows, spec, extra = presented.rows, presented.spec, presented.extra
        if presented.columns is not None:
            columns = list(presented.columns)
        columns += [name for name in (rows[0] if rows else {}) if name not in columns]
    spec["data"] = {"values": rows}
    return CategoryResult(
        key=category.key,
        title=category.title,
        rows=rows,
        spec=spec,
        sql=result.sql,
        parameters={name: json_value(value) for name, value in params.items()},
        elapsed_ms=result.elapsed_ms,
        enough_data=category.enough_data(rows),
        columns=columns,
        truncated=result.truncated,
        extra=extra,
    )


def _raw_while_building(
    client: ClickHouseClient, settings: Settings, category: Category, ctx: QueryContext, scope_id: int
) -> tuple[QueryResult, dict, list[dict[str, Any]]] | None:
    """The chart's answer from the raw events (result, parameters, rows) while its scope is not built, else None (the
    chart reads its rollups). A serving process queues the scope for its rollup worker (rollup_maintenance.expect_reads,
    as the summary does) and never builds here; a process without a worker (the CLI) builds here when the scope's lock
    and a build slot are free now (rollups.builds_if_free), else answers raw too. So no tab waits behind other scopes'
    builds, nor for its own: at 5M events, 50 users on a cold server, a tab of a large section waited up to 8.5 s
    (idle) and 21 s (load 20) for a slot; a raw chart of the largest section (416k events) takes 10-50 ms, its build
    1.6 s. A raw read that fails (a limit on a very large scope) leaves the chart to build and read its rollups as
    before. Same numbers as the rollup answer (tests/analytics/test_rollups: counts exact, averages to their last
    digit)."""
    raw_sql = RAW_SQL.get(category.key)
    if raw_sql is None:
        return None
    max_age = rollups.memo_max_age(settings)  # the chart's own read finds builds seen here in the check memo
    try:
        if rollups.built_builds(client, ctx.database, ctx.scope, scope_id, max_age=max_age) is not None:
            return None
        if not rollup_maintenance.expect_reads(ctx.database, [(ctx.scope, scope_id)]):  # no worker: build if free
            free = rollups.builds_if_free(
                client,
                ctx.database,
                ctx.scope,
                scope_id,
                max_age=max_age,
                stage_memory=rollups.stage_memory_limit(settings),
            )
            if free is not None:
                return None
    except Exception as exc:  # clickhouse-connect and chDB raise several exception types
        raise classify_error(exc, Limits.from_settings(settings), query_tag=new_tag()) from exc
    sql, params = raw_sql(ctx), parameters(ctx, scope_id)
    try:
        result = run(
            client,
            settings,
            sql,
            parameters=params,
            tag=f"category.{category.key}.{new_tag()}",
            readonly=True,
            tuning=read_tuning.chart_tuning(sql),
            shared_session=True,
        )
    except QueryError:
        return None
    return result, params, json_rows(result.columns, result.types, result.rows)


def _small_scope_read(
    client: ClickHouseClient, settings: Settings, category: Category, ctx: QueryContext, scope_id: int
) -> tuple[QueryResult, dict, list[dict[str, Any]]] | None:
    """A ranked chart's answer read unranked and ranked in Python (result, parameters, ranked rows) when the scope
    has few rows (xolap.analytics.categories.small_scopes), else None: the chart has no such read, the scope is known
    to be large, or this read found it so."""
    if category.unranked_sql is None or category.rank is None:
        return None
    if small_scopes.known_large(ctx.database, ctx.scope, scope_id, category.key):
        return None
    sql = category.unranked_sql(ctx)
    params = with_rollup_builds(client, settings, ctx, sql, scope_id)
    result = run(
        client,
        settings,
        sql,
        parameters=params,
        tag=f"category.{category.key}.{new_tag()}",
        limits=small_scopes.capped(Limits.from_settings(settings)),
        readonly=True,
        tuning=read_tuning.chart_tuning(sql),
        shared_session=True,
    )
    if result.truncated:
        small_scopes.remember_large(ctx.database, ctx.scope, scope_id, category.key)
        return None
    rows = category.rank(json_rows(result.columns, result.types, result.rows))
    columns = list(rows[0]) if rows else list(result.columns)  # an empty answer has no columns, as the SQL gives
    return dataclasses.replace(result, columns=columns), params, rows


def event_summary_sql(ctx: QueryContext) -> str:
    """The summary cards from the daily rollup (xolap.analytics.rollups), exact as event_summary_raw_sql."""
    return f"""SELECT
    r.event_type AS event_type,
    sum(r.events) AS events,
    {rollups.merged_learners("r")} AS learners,
    min(r.first_event) AS first_event,
    max(r.last_event) AS last_event
FROM {rollups.rollup_read(ctx.database, ctx.scope, rollups.daily_or_totals("rollup_events_daily", ctx))}{day_filter(ctx)}
GROUP BY event_type
ORDER BY events DESC, event_type"""


def event_summary_raw_sql(ctx: QueryContext) -> str:
    """The same answer from the deduplicated raw events (the reference the rollup is tested against)."""
    return f"""SELECT
    event_type,
    count() AS events,
    {distinct_learners()} AS learners,
    min(timestamp) AS first_event,
    max(timestamp) AS last_event
FROM {events(ctx)} AS e
WHERE 1 = 1{date_filter(ctx)}
GROUP BY event_type
ORDER BY events DESC, event_type"""


def _summary_if_built(client: ClickHouseClient, settings: Settings, ctx: QueryContext, scope_id: int) -> dict | None:
    """The summary's parameters when the scope's slices are all built (nothing is built here), else None."""
    try:
        builds = rollups.built_builds(client, ctx.database, ctx.scope, scope_id, max_age=rollups.memo_max_age(settings))
    except Exception as exc:  # clickhouse-connect and chDB raise several exception types
        raise classify_error(exc, Limits.from_settings(settings), query_tag=new_tag()) from exc
    return None if builds is None else {**parameters(ctx, scope_id), rollups.BUILDS_PARAMETER: builds}


def event_summary(
    client: ClickHouseClient,
    settings: Settings,
    scope: str,
    scope_id: int,
    start: date | None = None,
    end: date | None = None,
) -> list[dict[str, Any]]:
    """Per event type in the scope: events, distinct learners, first and last event time (the summary cards), and
    `label`, the instructor's words for the type ('Question attempts', 'Other' for unknown types)."""
    ctx = _context(settings, scope, scope_id, start, end)
    sql = event_summary_sql(ctx)
    params = _summary_if_built(client, settings, ctx, scope_id)
    # Not built: the summary does not wait for a build (its own took 1.6-14 s on a cold server under load, the summary's
    # p95). The serving process's worker builds the scope in the background (expect_reads queues it) and the summary
    # answers from the raw events, the same exact answer (the reference the rollup is tested against); so it does while
    # a build would wait behind others. A process without a worker (the CLI) builds here when the gate is free.
    if params is None:
        queued = rollup_maintenance.expect_reads(ctx.database, [(scope, scope_id)])
        if queued or build_gate.builds.busy():
            sql, params = event_summary_raw_sql(ctx), parameters(ctx, scope_id)
    result = run(
        client,
        settings,
        sql,
        parameters=params if params is not None else with_rollup_builds(client, settings, ctx, sql, scope_id),
        tag=f"category.summary.{new_tag()}",
        readonly=True,
        tuning=read_tuning.chart_tuning(sql),
        shared_session=True,
    )
    rows = json_rows(result.columns, result.types, result.rows)
    words = event_type_labels(row.get("event_type") for row in rows)
    return [{**row, "label": words[row.get("event_type")]} for row in rows]
