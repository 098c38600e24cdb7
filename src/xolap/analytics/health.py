"""ClickHouse health and operational metrics for the admin console: server, tables, ingest freshness, query latency
and errors over the last hour, running merges and mutations, and sample queries an admin can run.

Postgres status and job counts belong to other modules: the caller passes them in `extra`, which is merged into the
summary's top level (see health_summary). Nothing here reads or returns learner data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xolap.analytics.categories.registry import json_value
from xolap.analytics.executor import QueryError, new_tag, run
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings

if TYPE_CHECKING:
    from xolap.runtime import Runtime

QUERY_WINDOW_MINUTES = 60
_TAG_PREFIX = "health"


@dataclass(frozen=True)
class SampleQuery:
    title: str
    description: str
    sql: str


def _records(
    client: ClickHouseClient, settings: Settings, name: str, sql: str, parameters: dict[str, Any] | None = None
) -> list[dict]:
    result = run(client, settings, sql, parameters=parameters, tag=f"{_TAG_PREFIX}.{name}.{new_tag()}", readonly=True)
    return [
        {column: json_value(value) for column, value in zip(result.columns, row, strict=False)} for row in result.rows
    ]


def server(client: ClickHouseClient, settings: Settings) -> dict[str, Any]:
    row = _records(
        client,
        settings,
        "server",
        "SELECT version() AS version, uptime() AS uptime_seconds, timezone() AS timezone, now() AS server_time",
    )[0]
    return {**row, "embedded": settings.is_embedded_clickhouse, "database": settings.clickhouse_database}


def tables(client: ClickHouseClient, settings: Settings) -> list[dict[str, Any]]:
    """Each table of the database: engine, active parts, rows and bytes on disk in them, last part change."""
    return _records(
        client,
        settings,
        "tables",
        """SELECT
    t.name AS name,
    t.engine AS engine,
    ifNull(p.rows, 0) AS rows,
    ifNull(p.bytes_on_disk, 0) AS bytes_on_disk,
    ifNull(p.active_parts, 0) AS active_parts,
    if(p.last_change > toDateTime(0), p.last_change, t.metadata_modification_time) AS last_change
FROM system.tables AS t
LEFT JOIN (
    SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, count() AS active_parts,
        max(modification_time) AS last_change
    FROM system.parts
    WHERE database = {db:String} AND active
    GROUP BY table
) AS p ON p.table = t.name
WHERE t.database = {db:String}
ORDER BY t.name""",
        {"db": settings.clickhouse_database},
    )


def ingest_freshness(client: ClickHouseClient, settings: Settings) -> dict[str, Any]:
    """Latest event time and latest insert time in raw_events (rows before dedup), and rejected lines in 24 hours."""
    db = settings.clickhouse_database
    row = _records(
        client,
        settings,
        "freshness",
        f"""SELECT
    count() AS stored_rows,
    if(count() = 0, NULL, max(timestamp)) AS latest_event,
    if(count() = 0, NULL, max(inserted_at)) AS latest_insert,
    if(count() = 0, NULL, dateDiff('second', max(inserted_at), now())) AS seconds_since_insert
FROM `{db}`.raw_events""",
    )[0]
    errors = _records(
        client,
        settings,
        "ingest_errors",
        f"SELECT count() AS n FROM `{db}`.ingest_errors WHERE recorded_at >= now() - INTERVAL 1 DAY AND severity = 'error'",
    )
    return {**row, "rejected_lines_24h": errors[0]["n"]}


def flush_logs(client: ClickHouseClient) -> bool:
    """Ask ClickHouse to write buffered system logs now; False when the user may not (then logs lag a few seconds)."""
    try:
        client.command("SYSTEM FLUSH LOGS")
        return True
    except Exception:  # noqa: BLE001 - a read-only or restricted user may not flush; the logs still arrive later
        return False


# Leaves out monitoring queries: ours (by tag), SYSTEM statements, and anything reading system tables.
_NOT_MONITORING = (
    "query NOT LIKE {exclude:String} AND query_kind != 'System' "
    "AND NOT arrayExists(t -> startsWith(t, 'system.'), tables)"
)
_IN_WINDOW = "event_time >= now() - toIntervalMinute({minutes:UInt32})"

_TOTALS_SQL = f"""SELECT
    countIf(type = 'QueryFinish') AS finished,
    countIf(type IN ('ExceptionBeforeStart', 'ExceptionWhileProcessing')) AS errors,
    quantileExactIf(0.5)(query_duration_ms, type = 'QueryFinish') AS p50_ms,
    quantileExactIf(0.95)(query_duration_ms, type = 'QueryFinish') AS p95_ms,
    maxIf(query_duration_ms, type = 'QueryFinish') AS max_ms
FROM system.query_log
WHERE {_IN_WINDOW} AND type != 'QueryStart' AND {_NOT_MONITORING}"""

_ERRORS_SQL = f"""SELECT exception_code AS code, errorCodeToName(exception_code) AS name, count() AS count,
    max(event_time) AS last_seen
FROM system.query_log
WHERE {_IN_WINDOW} AND type IN ('ExceptionBeforeStart', 'ExceptionWhileProcessing') AND {_NOT_MONITORING}
GROUP BY code ORDER BY count DESC, code LIMIT 10"""

_TAGS_SQL = f"""SELECT extract(query, 'xolap:([A-Za-z_]+[.][A-Za-z_]+)') AS tag, count() AS finished,
    quantileExact(0.5)(query_duration_ms) AS p50_ms, quantileExact(0.95)(query_duration_ms) AS p95_ms
FROM system.query_log
WHERE {_IN_WINDOW} AND type = 'QueryFinish' AND tag != '' AND {_NOT_MONITORING}
GROUP BY tag ORDER BY p95_ms DESC, tag LIMIT 20"""


def recent_queries(
    client: ClickHouseClient, settings: Settings, *, minutes: int = QUERY_WINDOW_MINUTES
) -> dict[str, Any]:
    """Finished-query count, p50/p95/max duration and errors (by code) over the last `minutes`, from
    system.query_log, leaving out monitoring queries. `available` is False without a query_log.

    `by_tag` groups by the `/* xolap:area.name */` tag. ClickHouse logs a query that has bound parameters in its
    formatted form, without comments, so only unparameterized queries keep their tag there."""
    params = {"minutes": minutes, "exclude": f"%xolap:{_TAG_PREFIX}.%"}
    try:
        totals = _records(client, settings, "query_log", _TOTALS_SQL, params)[0]
        error_codes = _records(client, settings, "query_errors", _ERRORS_SQL, params)
        by_tag = _records(client, settings, "query_tags", _TAGS_SQL, params)
    except QueryError as exc:
        return {"available": False, "window_minutes": minutes, "reason": str(exc)}
    if not totals["finished"]:
        totals.update(p50_ms=None, p95_ms=None, max_ms=None)
    return {"available": True, "window_minutes": minutes, **totals, "error_codes": error_codes, "by_tag": by_tag}


def merges(client: ClickHouseClient, settings: Settings) -> dict[str, Any]:
    """Merges running now and mutations not yet done, in this database."""
    params = {"db": settings.clickhouse_database}
    running = _records(
        client,
        settings,
        "merges",
        """SELECT table, round(elapsed, 1) AS elapsed_s, round(progress, 3) AS progress,
    num_parts, result_part_name, total_size_bytes_compressed AS bytes
FROM system.merges WHERE database = {db:String} ORDER BY elapsed DESC""",
        params,
    )
    mutations = _records(
        client,
        settings,
        "mutations",
        """SELECT table, mutation_id, command, create_time, parts_to_do, latest_fail_reason
FROM system.mutations WHERE database = {db:String} AND NOT is_done ORDER BY create_time""",
        params,
    )
    return {"running": running, "pending_mutations": mutations}


def sample_queries(settings: Settings) -> list[SampleQuery]:
    """Queries an admin runs with `xolap query --admin` or in the web SQL console (/admin/console), for this database:
    tables are named alone (the admin guard resolves them in the configured database and refuses qualified names)."""
    return [
        SampleQuery(
            "Events per type",
            "How many events of each type are stored (each counted once).",
            "SELECT event_type, count() AS events FROM raw_events FINAL GROUP BY event_type ORDER BY events DESC",
        ),
        SampleQuery(
            "Largest sections",
            "The 20 sections with the most events, with learners and last activity.",
            "SELECT section_id, count() AS events, uniq(user_id) AS learners, max(timestamp) AS last_event "
            "FROM raw_events GROUP BY section_id ORDER BY events DESC LIMIT 20",
        ),
        SampleQuery(
            "Events per day, last 30 days",
            "Ingest volume by event day.",
            "SELECT toDate32(timestamp) AS day, count() AS events FROM raw_events "
            "WHERE timestamp >= now() - INTERVAL 30 DAY GROUP BY day ORDER BY day",
        ),
        SampleQuery(
            "Recent inserts by source file",
            "Which files were loaded in the last day, how many rows each.",
            "SELECT source_file, count() AS rows, max(inserted_at) AS loaded FROM raw_events "
            "WHERE inserted_at >= now() - INTERVAL 1 DAY GROUP BY source_file ORDER BY loaded DESC LIMIT 50",
        ),
        SampleQuery(
            "Duplicates waiting for merge",
            "Rows stored minus rows counted once; merges remove the difference.",
            "SELECT (SELECT count() FROM raw_events) - (SELECT count() FROM raw_events FINAL) AS duplicates",
        ),
        SampleQuery(
            "Rejected input lines",
            "The latest ingest errors (severity error: line rejected; warning: row kept, "
            "a malformed optional value stored NULL) with file, line and reason.",
            "SELECT recorded_at, ingest_path, severity, source_file, source_line, reason FROM ingest_errors "
            "ORDER BY recorded_at DESC LIMIT 50",
        ),
        SampleQuery(
            "Parts per partition",
            "Active parts and rows per monthly partition (many parts = merges behind).",
            "SELECT partition, count() AS parts, sum(rows) AS rows, formatReadableSize(sum(bytes_on_disk)) AS size "
            f"FROM system.parts WHERE database = '{settings.clickhouse_database}' AND table = 'raw_events' AND active "
            "GROUP BY partition ORDER BY partition",
        ),
        SampleQuery(
            "Slowest queries, last hour",
            "The ten slowest finished queries with rows read and memory.",
            "SELECT event_time, query_duration_ms, read_rows, formatReadableSize(memory_usage) AS memory, "
            "substring(query, 1, 200) AS query FROM system.query_log WHERE type = 'QueryFinish' "
            "AND event_time >= now() - INTERVAL 1 HOUR ORDER BY query_duration_ms DESC LIMIT 10",
        ),
        SampleQuery(
            "Titles known per project",
            "How many page, video and activity titles the charts can use.",
            "SELECT project_id, kind, count() AS titles FROM content_titles FINAL "
            "GROUP BY project_id, kind ORDER BY project_id, kind",
        ),
    ]


def health_summary(
    client: ClickHouseClient, settings: Settings, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the admin console shows about ClickHouse, as JSON-ready data.

    `extra` is the hook for the parts other modules own (e.g. {"postgres": {...}, "jobs": {...}}): its keys are
    merged into the top level of the result and win over nothing here (they must not reuse these keys)."""
    started = time.perf_counter()
    flushed = flush_logs(client)
    summary: dict[str, Any] = {
        "clickhouse": server(client, settings),
        "tables": tables(client, settings),
        "ingest": ingest_freshness(client, settings),
        "queries": {**recent_queries(client, settings), "logs_flushed": flushed},
        "merges": merges(client, settings),
        "sample_queries": [sample.__dict__ for sample in sample_queries(settings)],
    }
    if extra:
        clash = sorted(set(extra) & set(summary))
        if clash:
            raise ValueError(f"extra health sections reuse reserved key(s): {', '.join(clash)}")
        summary.update(extra)
    summary["collected_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return summary


# --- components: what /healthz and the console say is up, degraded or down ---------------------------------------

# Required for the product to work: any of these down makes /healthz answer 503. S3 and the ETL worker only
# degrade it (reads and dashboards still work).
REQUIRED_COMPONENTS = ("clickhouse", "postgres", "job_worker")
S3_PROBE_TIMEOUT_S = 3.0


def missing_tables_message(database: str, missing: list[str]) -> str:
    """What health and a refused request say when tables are gone from the database."""
    return (
        f"ClickHouse database {database} is missing table(s) {', '.join(missing)}: restore them, or run the "
        "migrations again (xolap migrate down/up for the migration that creates them)"
    )


def _probe_clickhouse(runtime: Runtime) -> dict[str, Any]:
    from xolap.clickhouse.client import ping, server_info
    from xolap.clickhouse.migrations import Migrator, RenderContext, wrapping_ttl, wrapping_ttl_message

    settings = runtime.settings
    client = runtime.clickhouse()
    latency = ping(client)
    info = server_info(client, embedded=settings.is_embedded_clickhouse)
    missing = Migrator(
        client, RenderContext(settings.clickhouse_database, settings.clickhouse_cluster)
    ).missing_tables()
    if missing:  # every page that reads them fails: ClickHouse is up, but not usable
        raise RuntimeError(missing_tables_message(settings.clickhouse_database, missing))
    wrapping = wrapping_ttl(client, settings.clickhouse_database)
    if wrapping is not None:  # events are expired at the next merge: as serious as a missing table
        raise RuntimeError(wrapping_ttl_message(settings.clickhouse_database, wrapping[0]))
    return {
        "version": info.version,
        "uptime_seconds": info.uptime_seconds,
        "embedded": info.embedded,
        "ping_ms": round(latency, 2),
        "database": settings.clickhouse_database,
    }


def _probe_s3(settings: Settings) -> dict[str, Any] | None:
    """A bounded request to the configured S3 endpoint (None when no endpoint or credentials are configured)."""
    if not (settings.s3_endpoint_url or settings.aws_access_key_id):
        return None
    import boto3
    from botocore.config import Config
    from pydantic import SecretStr

    from xolap.ingest.aws_clients import region_for

    secret = settings.aws_secret_access_key
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=region_for(settings),
        aws_access_key_id=settings.aws_access_key_id or None,
        # a SecretStr from the environment; settings copied with model_copy(update=...) may hold the plain string
        aws_secret_access_key=secret.get_secret_value() if isinstance(secret, SecretStr) else secret,
        config=Config(connect_timeout=S3_PROBE_TIMEOUT_S, read_timeout=S3_PROBE_TIMEOUT_S, retries={"max_attempts": 1}),
    )
    from botocore.exceptions import ClientError

    started = time.perf_counter()
    answer = "ok"
    try:
        client.list_buckets()
    except ClientError as exc:  # S3 answered (e.g. AccessDenied for a role without ListAllMyBuckets): it is up
        answer = exc.response.get("Error", {}).get("Code", "error")
    return {
        "endpoint": settings.s3_endpoint_url or "aws",
        "answer": answer,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


# A ClickHouse disk with less free space than this is low: inserts start failing with NOT_ENOUGH_SPACE when it is gone.
LOW_DISK_FRACTION = 0.05
LOW_DISK_BYTES = 10 * 1024**3  # with the fraction: the smaller of the two (a 10 TB volume is not low at 400 GB)


def _report_disk(client: ClickHouseClient) -> None:
    """ClickHouse's fullest disk (system.disks; the data dir's filesystem in the embedded engine) as the `disk`
    component, with its free and total bytes: down (degraded: reads still answer) while it has less free space than
    the smaller of LOW_DISK_FRACTION of it and LOW_DISK_BYTES, naming its path and what is free; up once there is
    room."""
    from xolap.component_status import board

    rows = client.query(
        "SELECT name, path, free_space, total_space FROM system.disks WHERE total_space > 0 "
        "ORDER BY free_space / total_space"
    ).result_rows
    if not rows:
        return
    name, path, free, total = rows[0][0], rows[0][1], int(rows[0][2]), int(rows[0][3])
    detail = {"disk": name, "free_bytes": free, "total_bytes": total}
    if free < min(total * LOW_DISK_FRACTION, LOW_DISK_BYTES):
        board.report(
            "disk",
            False,
            f"ClickHouse disk {name} ({path}) has {_size(free)} free of {_size(total)}: inserts fail once it is "
            "full (NOT_ENOUGH_SPACE); free space or grow the volume",
            **detail,
        )
    else:
        board.report("disk", True, **detail)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _worker_state(runtime: Runtime, name: str) -> tuple[bool, str | None, dict[str, Any]] | None:
    """(ok, error, detail) of an in-process worker `xolap serve` started, None when it runs none of that name."""
    from xolap.component_status import board

    worker = runtime.workers.get(name)
    if worker is None:
        return None
    state = board.get(name)
    alive = worker.is_alive()
    detail = {"alive": alive, "restarts": worker.restarts}
    if not alive:
        return False, (state.last_error if state else None) or "the worker thread is not running", detail
    if state is not None and state.ok is False:
        return False, state.last_error, detail
    return True, None, detail


def _report_rollup_builds(database: str) -> None:
    """Rollup builds of the database that failed and were not built since (xolap.analytics.rollup_failures) make the
    `rollups` component down (degraded: dashboards still answer), and up again once they are built."""
    from xolap.analytics import rollup_failures
    from xolap.component_status import board

    failures = rollup_failures.pending(database)
    if failures:
        board.report("rollups", False, rollup_failures.message(failures), failed_scopes=len(failures))
    elif board.get("rollups") is not None:
        board.report("rollups", True)


def component_health(runtime: Runtime) -> dict[str, Any]:
    """Probe ClickHouse, Postgres and S3, read the workers' states, record them on the component board (one log
    line per change) and summarize: `ok` (every required component up), `status` ok|degraded|down, and per
    component ok/since/last_error. The ClickHouse and Postgres entries keep their versions as before."""
    import xolap
    from xolap.analytics import rollup_maintenance
    from xolap.component_status import board, one_line
    from xolap.store.db import postgres_status

    settings = runtime.settings
    sections: dict[str, Any] = {}
    try:
        sections["clickhouse"] = {"ok": True, **_probe_clickhouse(runtime)}
        board.report("clickhouse", True)
    except Exception as exc:  # noqa: BLE001 - health reports any failure
        error = one_line(str(exc) or type(exc).__name__)
        sections["clickhouse"] = {"ok": False, "error": error}
        board.report("clickhouse", False, error)
    else:
        try:
            _report_disk(runtime.clickhouse())
        except Exception:  # noqa: BLE001 - a server that keeps system.disks from this user: no disk component
            board.forget("disk")
    postgres = postgres_status(settings)
    sections["postgres"] = postgres
    postgres_error = postgres.get("error")
    board.report("postgres", bool(postgres["ok"]), postgres_error if isinstance(postgres_error, str) else None)
    try:
        s3 = _probe_s3(settings)
        if s3 is not None:
            board.report("s3", True, **s3)
        else:  # not configured: no component of this deployment, whatever an earlier configuration reported
            board.forget("s3")
    except Exception as exc:  # noqa: BLE001
        board.report("s3", False, exc)
    for name in ("job_worker", "etl_worker"):
        state = _worker_state(runtime, name)
        if state is not None:
            ok, error, detail = state
            if not ok:
                board.report(name, False, error, **detail)
            elif (reported := board.get(name)) is None or reported.ok is None:
                board.report(name, True, **detail)
    _report_rollup_builds(settings.clickhouse_database)
    components = board.snapshot()
    watched = {"clickhouse", "postgres", "s3"} | {
        n for n in ("job_worker", "etl_worker") if n in getattr(runtime, "workers", {})
    }
    if board.get("rollups") is not None:  # once a build failed: degraded until its scope builds
        watched.add("rollups")
    if board.get("disk") is not None:  # reported while ClickHouse answers: degraded while its disk is low
        watched.add("disk")
    components = {name: body for name, body in components.items() if name in watched}
    down = sorted(name for name, body in components.items() if body["ok"] is False)
    required_down = [name for name in down if name in REQUIRED_COMPONENTS]
    return {
        "ok": not required_down,
        "status": "down" if required_down else ("degraded" if down else "ok"),
        "version": xolap.__version__,
        "uptime_seconds": round(time.time() - runtime.started_at, 1),
        "clickhouse": sections["clickhouse"],
        "postgres": sections["postgres"],
        "components": components,
        "down": down,
        "rollup_worker": rollup_maintenance.worker_status(settings.clickhouse_database),
    }
