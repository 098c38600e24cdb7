"""The SQL a backfill runs: INSERT … SELECT over s3() through the shared xAPI mapping, dry-run counts, metrics.

Formats:
- JSONAsString (default, Torus's name): one xAPI statement per line. Read as LineAsString and mapped by
  xolap.xapi.sql (the one mapping); lines that fail the mapping's validity check are not inserted and, unless the
  run sets options.record_rejected=false, are written to <db>.ingest_errors with file, line and reason
  (severity 'error'); so is each malformed optional value of a stored line (severity 'warning', the row is kept).
- JSONEachRow / Parquet: rows that are already raw_events rows (e.g. an export). Inserted by column name
  (`INSERT INTO t SELECT * FROM s3(…)` with input_format_*_skip_unknown_fields / missing columns as defaults).
Every statement carries the query tag twice: the xolap.clickhouse.client.tag() comment and the `log_comment`
setting. ClickHouse re-formats a query that holds secrets (the s3() keys) before showing it in system.processes and
system.query_log, which drops comments; log_comment survives, so running_queries/kill_queries/query_metrics here
match on it. Every statement also carries S3_BOUNDS (bounded S3 connect/read timeouts and retries; a run's own
clickhouse_settings win), so an unreachable or silent S3 fails the query within about a minute instead of being
retried inside it for ever. Inserts also get a deterministic insert_deduplication_token. Exactly-once visibility does not depend on that token (a plain MergeTree ignores it
without non_replicated_deduplication_window): raw_events is a ReplacingMergeTree on event_hash, read with FINAL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xolap.backfill.naming import quoted_table
from xolap.backfill.s3paths import s3_function, sql_string
from xolap.clickhouse.client import tag
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.config import Settings
from xolap.xapi import sql as mapping
from xolap.xapi.sql_values import MAPPING_SETTINGS

LINE_STRUCTURE = f"{mapping.DEFAULT_LINE_COLUMN} String"
_FILE_EXPR = "_path"
_ETAG_EXPR = "trim(BOTH '\"' FROM _etag)"
_LINE_EXPR = "toUInt32(_row_number + 1)"

# Measured in chDB 26.9 against a closed port and a port that accepts and never answers: without
# s3_retry_attempts a refused connection is retried for minutes inside the query. A silent endpoint while listing a
# glob costs about 8 x s3_request_timeout_ms with one retry (8 s: 64 s; 4 s: 32 s), and 3 x that with two retries,
# so one in-query retry here; the job's own retries (xolap.backfill.tasks) back off between attempts.
S3_BOUNDS: dict[str, Any] = {
    "s3_retry_attempts": 1,
    "s3_connect_timeout_ms": 2000,
    "s3_request_timeout_ms": 4000,
    "s3_max_single_read_retries": 2,
    "s3_use_adaptive_timeouts": 0,
    "http_retry_max_backoff_ms": 2000,
}


def blank_rows_sql(settings: Settings, *, url: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """(path, 0-based row number) of every blank line, so source_line counts non-empty lines per file as the
    Python ingest path does (xolap.xapi.sql.source_line_expression with a path → rows mapping)."""
    src = source(settings, url, "JSONAsString")
    sql = (
        f"SELECT _path, _row_number FROM {src} WHERE NOT ({mapping.not_blank_condition()}) ORDER BY _path, _row_number"
    )
    return _tagged(sql, clickhouse_settings, query_tag)


def source_line_expression(blank_rows: list[tuple[str, int]]) -> str:
    per_file: dict[str, list[int]] = {}
    for path, row in blank_rows:
        per_file.setdefault(path, []).append(int(row))
    return mapping.source_line_expression(per_file)


def settings_clause(values: dict[str, Any]) -> str:
    """` SETTINGS a = 1, b = 'x'` (names were validated by naming.clickhouse_settings)."""
    if not values:
        return ""
    parts = []
    for name, value in values.items():
        parts.append(f"{name} = {sql_string(value) if isinstance(value, str) else repr(value)}")
    return " SETTINGS " + ", ".join(parts)


def log_comment(query_tag: str) -> str:
    return f"xolap:{query_tag}"


def _with_bounds(values: dict[str, Any], query_tag: str) -> dict[str, Any]:
    """S3 bounds and the mapping's settings under the run's own settings, then the log comment (always ours). The
    mapping's settings go at the statement's top level: most statements wrap the mapping SELECT, whose own SETTINGS
    clause would not reach its expressions (xolap.xapi.sql_values.MAPPING_SETTINGS)."""
    return {**S3_BOUNDS, **MAPPING_SETTINGS, **values, "log_comment": log_comment(query_tag)}


def _tagged(sql: str, values: dict[str, Any], query_tag: str) -> str:
    """A SELECT with the tag and settings appended."""
    values = _with_bounds(values, query_tag)
    return tag(sql + settings_clause(values), query_tag)


def _tagged_insert(sql: str, values: dict[str, Any], query_tag: str) -> str:
    """An `INSERT INTO t (cols) SELECT …` with the settings at INSERT level (`INSERT INTO t (cols) SETTINGS … SELECT`):
    they apply to the whole query and cannot clash with a SETTINGS clause the mapping's SELECT carries itself.
    log_query_views lets query_metrics tell the target's rows from those its materialized views wrote."""
    values = {**_with_bounds(values, query_tag), "log_query_views": 1}
    head, sep, tail = sql.partition(") SELECT ")
    if not sep or not head.startswith("INSERT INTO "):
        raise ValueError("expected INSERT INTO <table> (<columns>) SELECT …")
    return tag(f"{head}){settings_clause(values)} SELECT {tail}", query_tag)


def source(settings: Settings, url: str, fmt: str) -> str:
    if fmt == "JSONAsString":
        return s3_function(settings, url, mapping.LINE_FORMAT, LINE_STRUCTURE)
    return s3_function(settings, url, fmt)


def insert_sql(
    settings: Settings,
    *,
    target_table: str,
    url: str,
    fmt: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None = None,
    source_line_expr: str = _LINE_EXPR,
) -> str:
    """The INSERT … SELECT for one pattern or chunk URL."""
    values = dict(clickhouse_settings)
    if dedup_token:
        values["insert_deduplication_token"] = dedup_token
    table = quoted_table(target_table)
    if fmt == "JSONAsString" and target_table.rsplit(".", 1)[-1].strip("`") == "experiment_attributions":
        # Torus's backfill: a run whose target is experiment_attributions writes the statements' attributions
        sql = mapping.attributions_insert_select_sql(
            table,
            source(settings, url, fmt),
            source_file_expr=_FILE_EXPR,
            source_etag_expr=_ETAG_EXPR,
            source_line_expr=source_line_expr,
        )
    elif fmt == "JSONAsString":
        sql = mapping.insert_select_sql(
            table,
            source(settings, url, fmt),
            source_file_expr=_FILE_EXPR,
            source_etag_expr=_ETAG_EXPR,
            source_line_expr=source_line_expr,
        )
    else:
        values.setdefault("input_format_skip_unknown_fields", 1)
        values.setdefault("input_format_parquet_allow_missing_columns", 1)
        values = {**_with_bounds(values, query_tag), "log_query_views": 1}
        return tag(
            f"INSERT INTO {table}{settings_clause(values)} SELECT * FROM {source(settings, url, fmt)}", query_tag
        )
    return _tagged_insert(sql, values, query_tag)


class FormatMismatch(Exception):
    """The files do not hold the target table's rows in the run's format; retrying cannot help, nothing was written."""


def required_columns(client: ClickHouseClient, target_table: str) -> list[str]:
    """The target's columns an inserted row must bring: not Nullable and without a default."""
    database, _, table = target_table.rpartition(".")
    result = client.query(
        "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String} "
        "AND default_kind = '' AND type NOT LIKE 'Nullable(%' ORDER BY position",
        parameters={"d": database.strip("`"), "t": table.strip("`")},
    )
    return [row[0] for row in result.result_rows]


def check_row_format(
    client: ClickHouseClient,
    settings: Settings,
    *,
    target_table: str,
    url: str,
    fmt: str,
    clickhouse_settings: dict[str, Any],
    query_tag: str,
) -> None:
    """Before a JSONEachRow/Parquet insert: the files' columns (ClickHouse's schema inference over the first rows)
    must include every column the target needs, else FormatMismatch. Statement files read as JSONEachRow infer
    columns like actor/verb/object, and with skip_unknown_fields would insert rows of defaults."""
    if fmt == "JSONAsString":
        return
    needed = required_columns(client, target_table)
    values = {**S3_BOUNDS, **clickhouse_settings, "log_comment": log_comment(query_tag)}
    described = client.query(tag(f"DESCRIBE TABLE {source(settings, url, fmt)}{settings_clause(values)}", query_tag))
    present = {row[0] for row in described.result_rows}
    missing = [name for name in needed if name not in present]
    if missing:
        hint = (
            " (they look like xAPI statements: use format JSONAsString)"
            if {"actor", "verb", "object"} <= present
            else ""
        )
        raise FormatMismatch(
            f"format {fmt}: the files lack the {target_table} column(s) {', '.join(missing)}{hint}; nothing was written"
        )


def rejected_insert_sql(
    settings: Settings,
    *,
    database: str,
    url: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None = None,
    source_line_expr: str = _LINE_EXPR,
) -> str:
    """INSERT of the lines the mapping rejects into <database>.ingest_errors, severity 'error' (JSONAsString only)."""
    select = mapping.rejected_lines_sql(
        source(settings, url, "JSONAsString"), source_file_expr=_FILE_EXPR, source_line_expr=source_line_expr
    )
    return _ingest_errors_insert(
        select,
        "error",
        database=database,
        query_tag=query_tag,
        clickhouse_settings=clickhouse_settings,
        dedup_token=dedup_token and dedup_token + "-rejected",
    )


def warned_insert_sql(
    settings: Settings,
    *,
    database: str,
    url: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None = None,
    source_line_expr: str = _LINE_EXPR,
) -> str:
    """INSERT of one <database>.ingest_errors row, severity 'warning', per malformed optional value of a stored line
    (the value was stored NULL; the words name the field and the value, as the file ingest writes them)."""
    select = mapping.warned_lines_sql(
        source(settings, url, "JSONAsString"), source_file_expr=_FILE_EXPR, source_line_expr=source_line_expr
    )
    return _ingest_errors_insert(
        select,
        "warning",
        database=database,
        query_tag=query_tag,
        clickhouse_settings=clickhouse_settings,
        dedup_token=dedup_token and dedup_token + "-warnings",
    )


def _ingest_errors_insert(
    select: str,
    severity: str,
    *,
    database: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None,
) -> str:
    values = dict(clickhouse_settings)
    if dedup_token:
        values["insert_deduplication_token"] = dedup_token
    sql = (
        f"INSERT INTO `{database}`.ingest_errors (ingest_path, severity, source_file, source_line, reason, raw_line) "
        f"SELECT 'backfill', {sql_string(severity)}, source_file, source_line, reason, raw_line FROM ({select})"
    )
    return _tagged_insert(sql, values, query_tag)


# --- single-pass chunks: the objects read once into a staging table, rows, rejections and warnings moved from it ---

STAGE_PROVENANCE = (f"{_FILE_EXPR} AS path", f"{_ETAG_EXPR} AS etag")
# The types s3() gives those expressions (its virtual columns are LowCardinality(String); DESCRIBE, chDB 26.9).
_STAGE_PROVENANCE_TYPES = (("path", "LowCardinality(String)"), ("etag", "LowCardinality(String)"))


def stage_columns() -> list[tuple[str, str]]:
    """(name, type) of a chunk's staging table: the screened mapping's columns with the object path and ETag."""
    return mapping.screened_stage_columns(_STAGE_PROVENANCE_TYPES)


def create_stage_sql(stage: str, query_tag: str) -> str:
    """CREATE the empty Memory table stage_sql fills, declared with the mapping SELECT's own columns (stage_columns):
    CREATE TABLE … AS SELECT analysed the large mapping SELECT once more for the table's structure. No log_comment:
    query_metrics reads the chunk's statements by it, and this one reads nothing."""
    columns = ", ".join(f"{name} {type_}" for name, type_ in stage_columns())
    return tag(f"CREATE TABLE {stage} ({columns}) ENGINE = Memory", query_tag)


def stage_sql(settings: Settings, *, stage: str, url: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """INSERT into the table create_stage_sql made every line of the objects at `url`, read once from S3 and
    screened by the mapping (xolap.xapi.sql.staged_select_sql(details=False): values, reason, needs_details), with
    each line's object path and ETag. Carries the query tag and S3 bounds like every backfill statement."""
    select = mapping.staged_select_sql(
        source(settings, url, "JSONAsString"), details=False, extra_columns=STAGE_PROVENANCE
    )
    names = ", ".join(name for name, _type in stage_columns())
    return _tagged_insert(f"INSERT INTO {stage} ({names}) {select}", clickhouse_settings, query_tag)


def stage_blank_rows_sql(stage: str) -> str:
    """(path, 0-based row number) of the staged blank lines (for stage_source_line_expression)."""
    return f"SELECT path, row_number FROM {stage} WHERE is_blank ORDER BY path, row_number"


def stage_source_line_expression(blank_rows: list[tuple[str, int]]) -> str:
    """source_line over a staging table's path and row_number columns: non-empty lines counted per object."""
    per_file: dict[str, list[int]] = {}
    for path, row in blank_rows:
        per_file.setdefault(path, []).append(int(row))
    return mapping.source_line_expression(per_file, row_number_column="row_number", path_column="path")


def move_from_stage_sql(
    *,
    stage: str,
    target_table: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None,
    source_line_expr: str,
) -> str:
    """INSERT the staged good lines into the target (raw_events columns). No insert-time ReplacingMergeTree pass
    (optimize_on_insert = 0, as the file ingest moves its stage): a line repeated in the chunk is collapsed at read
    time by FINAL, as it is across chunks."""
    values = {"optimize_on_insert": 0, **clickhouse_settings}
    if dedup_token:
        values["insert_deduplication_token"] = dedup_token
    provenance = {"source_file": "path", "source_etag": "etag", "source_line": source_line_expr}
    columns = ", ".join(provenance.get(c, c) for c in MAPPED_COLUMN_NAMES)
    sql = (
        f"INSERT INTO {quoted_table(target_table)} ({', '.join(MAPPED_COLUMN_NAMES)}) SELECT {columns} FROM {stage} "
        "WHERE NOT is_blank AND reason = ''"
    )
    return _tagged_insert(sql, values, query_tag)


def stage_rejected_insert_sql(
    *,
    database: str,
    stage: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None,
    source_line_expr: str,
) -> str:
    """rejected_insert_sql from a staging table: the staged rejected lines into ingest_errors, severity 'error'."""
    select = (
        f"SELECT path AS source_file, {source_line_expr} AS source_line, reason, raw_line FROM {stage} "
        "WHERE NOT is_blank AND reason != ''"
    )
    return _ingest_errors_insert(
        select,
        "error",
        database=database,
        query_tag=query_tag,
        clickhouse_settings=clickhouse_settings,
        dedup_token=dedup_token and dedup_token + "-rejected",
    )


def stage_warned_insert_sql(
    *,
    database: str,
    stage: str,
    query_tag: str,
    clickhouse_settings: dict[str, Any],
    dedup_token: str | None,
    source_line_expr: str,
) -> str:
    """warned_insert_sql from a staging table: only the staged lines flagged needs_details get their warnings
    computed (mapping.detail_select_sql, from the stage, not from S3); one ingest_errors row per warning, severity
    'warning'."""
    details = mapping.detail_select_sql(stage, ["path"])
    select = (
        f"SELECT path AS source_file, {source_line_expr} AS source_line, warning AS reason, raw_line "
        f"FROM ({details}) ARRAY JOIN warnings AS warning"
    )
    return _ingest_errors_insert(
        select,
        "warning",
        database=database,
        query_tag=query_tag,
        clickhouse_settings=clickhouse_settings,
        dedup_token=dedup_token and dedup_token + "-warnings",
    )


def matched_files_sql(settings: Settings, *, url: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """How many files the pattern matches, read from S3's listing alone (format One reads no object's content): a
    manual run asks first, so a pattern matching nothing is said at once, before any INSERT is planned."""
    sql = f"SELECT uniqExact(_path) FROM {s3_function(settings, url, 'One')}"
    return _tagged(sql, clickhouse_settings, query_tag)


def dry_run_sql(settings: Settings, *, url: str, fmt: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """Per object: path, size in bytes, row count (lines for JSONAsString, mappable or not)."""
    sql = f"SELECT _path, any(_size), count() FROM {source(settings, url, fmt)} GROUP BY _path ORDER BY _path"
    return _tagged(sql, clickhouse_settings, query_tag)


def query_metrics(client: ClickHouseClient, query_tag: str) -> dict[str, int]:
    """rows/bytes read and written and duration of the last finished query with this tag (system.query_log).

    query_log counts what the query's materialized views read and wrote too (content_titles_mv made 150,000
    events report 245,289 rows written); those are subtracted (system.query_views_log), so rows_written is the
    target table's rows only. Without a query_views_log (a server that does not keep one) the totals stay."""
    return statements_metrics(client, [query_tag]).get(query_tag, {})


def statements_metrics(client: ClickHouseClient, query_tags: Sequence[str]) -> dict[str, dict[str, int]]:
    """query_metrics of several tags after one `SYSTEM FLUSH LOGS` (a tag with no finished query is left out): a
    staged chunk reads its statements' metrics once, after its last statement (a flush per statement cost 40-80 ms
    of wall clock each on a loaded machine; tests/backfill/test_chunk_stage_analysis.py)."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT log_comment, argMax(tuple(query_id, read_rows, read_bytes, written_rows, written_bytes, "
        "query_duration_ms), event_time_microseconds) FROM system.query_log "
        "WHERE type = 'QueryFinish' AND log_comment IN {c:Array(String)} AND event_date >= yesterday() "
        "GROUP BY log_comment",
        parameters={"c": [log_comment(t) for t in query_tags]},
    ).result_rows
    last = {comment: values for comment, values in rows}
    out: dict[str, dict[str, int]] = {}
    for query_tag in query_tags:
        if log_comment(query_tag) not in last:
            continue
        query_id, read_rows, read_bytes, written_rows, written_bytes, duration = last[log_comment(query_tag)]
        views = _view_totals(client, query_id)
        out[query_tag] = {
            "rows_read": max(0, int(read_rows) - views[0]),
            "bytes_read": max(0, int(read_bytes) - views[1]),
            "rows_written": max(0, int(written_rows) - views[2]),
            "bytes_written": max(0, int(written_bytes) - views[3]),
            "duration_ms": int(duration),
        }
    return out


def _view_totals(client: ClickHouseClient, query_id: str) -> tuple[int, int, int, int]:
    """(read_rows, read_bytes, written_rows, written_bytes) of the materialized views one query fed."""
    try:
        row = client.query(
            "SELECT sum(read_rows), sum(read_bytes), sum(written_rows), sum(written_bytes) FROM system.query_views_log "
            "WHERE initial_query_id = {q:String} AND event_date >= yesterday()",
            parameters={"q": query_id},
        ).result_rows[0]
    except Exception:  # noqa: BLE001 - no query_views_log on this server: report the query's totals
        return (0, 0, 0, 0)
    read_rows, read_bytes, written_rows, written_bytes = (int(v or 0) for v in row)
    return read_rows, read_bytes, written_rows, written_bytes


def running_queries(client: ClickHouseClient, query_tag: str) -> list[dict[str, Any]]:
    """Progress of the running queries with this tag: query_id, read_rows, total_rows_approx, written_rows, elapsed."""
    result = client.query(
        "SELECT query_id, read_rows, read_bytes, total_rows_approx, written_rows, elapsed FROM system.processes "
        "WHERE Settings['log_comment'] = {c:String}",
        parameters={"c": log_comment(query_tag)},
    )
    return [dict(zip(result.column_names, row, strict=False)) for row in result.result_rows]


def kill_queries(client: ClickHouseClient, query_tag: str) -> int:
    """KILL every running query with this tag; returns how many were asked to stop."""
    running = running_queries(client, query_tag)
    for query in running:
        client.command(f"KILL QUERY WHERE query_id = {sql_string(query['query_id'])} ASYNC")
    return len(running)
