"""The SQL a backfill runs: INSERT … SELECT over s3() through the shared xAPI mapping, dry-run counts, metrics.

Formats:
- JSONAsString (default, Torus's name): one xAPI statement per line. Read as LineAsString and mapped by
  xolap.xapi.sql (the one mapping); lines that fail the mapping's validity check are not inserted and, unless the
  run sets options.record_rejected=false, are written to <db>.ingest_errors with file, line and reason.
- JSONEachRow / Parquet: rows that are already raw_events rows (e.g. an export). Inserted by column name
  (`INSERT INTO t SELECT * FROM s3(…)` with input_format_*_skip_unknown_fields / missing columns as defaults).
Every statement carries the query tag twice: the xolap.clickhouse.client.tag() comment and the `log_comment`
setting. ClickHouse re-formats a query that holds secrets (the s3() keys) before showing it in system.processes and
system.query_log, which drops comments; log_comment survives, so running_queries/kill_queries/query_metrics here
match on it. Inserts also get a deterministic insert_deduplication_token. Exactly-once visibility does not depend on that token (a plain MergeTree ignores it
without non_replicated_deduplication_window): raw_events is a ReplacingMergeTree on event_hash, read with FINAL.
"""

from __future__ import annotations

from typing import Any

from xolap.backfill.naming import quoted_table
from xolap.backfill.s3paths import s3_function, sql_string
from xolap.clickhouse.client import tag
from xolap.config import Settings
from xolap.xapi import sql as mapping

LINE_STRUCTURE = f"{mapping.DEFAULT_LINE_COLUMN} String"
_FILE_EXPR = "_path"
_ETAG_EXPR = "trim(BOTH '\"' FROM _etag)"
_LINE_EXPR = "toUInt32(_row_number + 1)"


def blank_rows_sql(settings: Settings, *, url: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """(path, 0-based row number) of every blank line, so source_line counts non-empty lines per file as the
    Python ingest path does (xolap.xapi.sql.source_line_expression with a path → rows mapping)."""
    src = source(settings, url, "JSONAsString")
    sql = f"SELECT _path, _row_number FROM {src} WHERE NOT ({mapping.not_blank_condition()}) ORDER BY _path, _row_number"
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


def _tagged(sql: str, values: dict[str, Any], query_tag: str) -> str:
    """A SELECT with the tag and settings appended."""
    values = {**values, "log_comment": log_comment(query_tag)}
    return tag(sql + settings_clause(values), query_tag)


def _tagged_insert(sql: str, values: dict[str, Any], query_tag: str) -> str:
    """An `INSERT INTO t (cols) SELECT …` with the settings at INSERT level (`INSERT INTO t (cols) SETTINGS … SELECT`):
    they apply to the whole query and cannot clash with a SETTINGS clause the mapping's SELECT carries itself."""
    values = {**values, "log_comment": log_comment(query_tag)}
    head, sep, tail = sql.partition(") SELECT ")
    if not sep or not head.startswith("INSERT INTO "):
        raise ValueError("expected INSERT INTO <table> (<columns>) SELECT …")
    return tag(f"{head}){settings_clause(values)} SELECT {tail}", query_tag)


def source(settings: Settings, url: str, fmt: str) -> str:
    if fmt == "JSONAsString":
        return s3_function(settings, url, mapping.LINE_FORMAT, LINE_STRUCTURE)
    return s3_function(settings, url, fmt)


def insert_sql(settings: Settings, *, target_table: str, url: str, fmt: str, query_tag: str,
               clickhouse_settings: dict[str, Any], dedup_token: str | None = None, source_line_expr: str = _LINE_EXPR) -> str:
    """The INSERT … SELECT for one pattern or chunk URL."""
    values = dict(clickhouse_settings)
    if dedup_token:
        values["insert_deduplication_token"] = dedup_token
    table = quoted_table(target_table)
    if fmt == "JSONAsString":
        sql = mapping.insert_select_sql(table, source(settings, url, fmt), source_file_expr=_FILE_EXPR,
                                        source_etag_expr=_ETAG_EXPR, source_line_expr=source_line_expr)
    else:
        values.setdefault("input_format_skip_unknown_fields", 1)
        values.setdefault("input_format_parquet_allow_missing_columns", 1)
        return tag(f"INSERT INTO {table}{settings_clause({**values, 'log_comment': log_comment(query_tag)})} "
                   f"SELECT * FROM {source(settings, url, fmt)}", query_tag)
    return _tagged_insert(sql, values, query_tag)


def rejected_insert_sql(settings: Settings, *, database: str, url: str, query_tag: str,
                        clickhouse_settings: dict[str, Any], dedup_token: str | None = None,
                        source_line_expr: str = _LINE_EXPR) -> str:
    """INSERT of the lines the mapping rejects into <database>.ingest_errors (JSONAsString only)."""
    values = dict(clickhouse_settings)
    if dedup_token:
        values["insert_deduplication_token"] = dedup_token + "-rejected"
    select = mapping.rejected_lines_sql(source(settings, url, "JSONAsString"), source_file_expr=_FILE_EXPR,
                                        source_line_expr=source_line_expr)
    sql = (f"INSERT INTO `{database}`.ingest_errors (ingest_path, source_file, source_line, reason, raw_line) "
           f"SELECT 'backfill', source_file, source_line, reason, raw_line FROM ({select})")
    return _tagged_insert(sql, values, query_tag)


def dry_run_sql(settings: Settings, *, url: str, fmt: str, query_tag: str, clickhouse_settings: dict[str, Any]) -> str:
    """Per object: path, size in bytes, row count (lines for JSONAsString, mappable or not)."""
    sql = f"SELECT _path, any(_size), count() FROM {source(settings, url, fmt)} GROUP BY _path ORDER BY _path"
    return _tagged(sql, clickhouse_settings, query_tag)


def query_metrics(client: Any, query_tag: str) -> dict[str, int]:
    """rows/bytes read and written and duration of the last finished query with this tag (system.query_log)."""
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT read_rows, read_bytes, written_rows, written_bytes, query_duration_ms FROM system.query_log "
        "WHERE type = 'QueryFinish' AND log_comment = {c:String} AND event_date >= yesterday() "
        "ORDER BY event_time_microseconds DESC LIMIT 1",
        parameters={"c": log_comment(query_tag)},
    ).result_rows
    if not rows:
        return {}
    read_rows, read_bytes, written_rows, written_bytes, duration = rows[0]
    return {"rows_read": int(read_rows), "bytes_read": int(read_bytes), "rows_written": int(written_rows),
            "bytes_written": int(written_bytes), "duration_ms": int(duration)}


def running_queries(client: Any, query_tag: str) -> list[dict[str, Any]]:
    """Progress of the running queries with this tag: query_id, read_rows, total_rows_approx, written_rows, elapsed."""
    result = client.query(
        "SELECT query_id, read_rows, read_bytes, total_rows_approx, written_rows, elapsed FROM system.processes "
        "WHERE Settings['log_comment'] = {c:String}",
        parameters={"c": log_comment(query_tag)},
    )
    return [dict(zip(result.column_names, row)) for row in result.result_rows]


def kill_queries(client: Any, query_tag: str) -> int:
    """KILL every running query with this tag; returns how many were asked to stop."""
    running = running_queries(client, query_tag)
    for query in running:
        client.command(f"KILL QUERY WHERE query_id = {sql_string(query['query_id'])} ASYNC")
    return len(running)
