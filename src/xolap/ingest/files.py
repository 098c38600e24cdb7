"""Input files for ingest: expanding paths (files, folders, globs, s3://bucket/prefix/**) and ingesting one file.

A local file under embedded ClickHouse goes through the SQL path (ClickHouse reads it with file() and maps it with
the expressions generated from the field specs); anything else (S3 objects, a ClickHouse server that cannot see
our disk) goes through the Python pipeline. Both give identical rows and rejections (tests/xapi/test_parity.py).
"""

from __future__ import annotations

import bisect
import fnmatch
import glob
import gzip
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from xolap.clickhouse import data_version
from xolap.clickhouse.client import tag
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.config import Settings
from xolap.ingest.limits import IngestLimits
from xolap.ingest.pipeline import (
    GZIP_MAGIC,
    MAX_RAW_LINE_CHARS,
    MAX_REPORTED_ERRORS,
    SNIFF_BYTES,
    EventWriter,
    IngestReport,
    LineError,
    NotJsonlError,
    _CountingReader,
    _looks_binary,
    check_expansion,
    ingest_bytes,
)
from xolap.xapi import attributions as experiment_attributions
from xolap.xapi.sql import (
    LINE_FORMAT,
    QUERY_SETTINGS,
    detail_counts_sql,
    detail_select_sql,
    may_respell_condition,
    quote,
    screened_stage_columns,
    source_line_expression,
    staged_select_sql,
)

SCAN_CHUNK = 4 * 1024 * 1024  # block size of the oversize-line scan before the SQL path
SQL_PATH_MIN_BYTES = 8 * 1024 * 1024  # local files this big (uncompressed, estimated) use the SQL path
STAGE_CHUNK_ROWS = 1_000_000  # lines mapped into the Memory staging table at a time (bounds its memory)
# Moving staged rows into raw_events: skip the insert-time ReplacingMergeTree pass (2/3 of the move's time); a line
# duplicated inside one file is collapsed at read time by FINAL (xolap.clickhouse.events), as it already is when the
# duplicates land in different insert blocks (Python batches, files, chunks).
MOVE_SETTINGS = "SETTINGS optimize_on_insert = 0, max_insert_threads = 2"
STAGE_PREFIX = "_ingest_stage_"
# Lines that may hold a number spelled differently when written again: screened the cheap way first (wrong for them),
# then deleted from the stage and screened again reading their levels by position (staged_select_sql by_position).
_MAY_RESPELL = may_respell_condition()
_STAGE_EXTRA = [("may_respell", "UInt8")]
STAGE_STRUCTURE = ", ".join(f"{name} {type_}" for name, type_ in screened_stage_columns(_STAGE_EXTRA))
STAGE_COLUMN_NAMES = ", ".join(name for name, _type in screened_stage_columns(_STAGE_EXTRA))
_ACTIVE_STAGES: set[tuple[str, str]] = set()  # (database, table) staging tables of SQL ingests running in this process
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")


class InputError(Exception):
    """A path argument names nothing to ingest; the message says which."""


class OutsideRootsError(InputError):
    """A local path (after resolving symlinks and '..') is outside the folders a server-side ingest may read."""


@dataclass(frozen=True)
class InputFile:
    """One file to ingest: a local path or an S3 object (bucket, key)."""

    uri: str
    local: Path | None = None
    bucket: str | None = None
    key: str | None = None
    size: int | None = None
    etag: str | None = None


# --- expanding arguments -----------------------------------------------------------------------------------------


def _is_jsonl_name(name: str) -> bool:
    return name.lower().endswith(JSONL_SUFFIXES)


def expand_local(argument: str) -> list[InputFile]:
    path = Path(argument).expanduser()
    if path.is_file():
        return [InputFile(str(path.resolve()), local=path.resolve(), size=path.stat().st_size)]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_jsonl_name(p.name))
    elif glob.has_magic(argument):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    else:
        raise InputError(f"{argument}: no such file or folder")
    return [InputFile(str(p.resolve()), local=p.resolve(), size=p.stat().st_size) for p in found]


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: expected s3://bucket/key or s3://bucket/prefix/**")
    return bucket, key


def expand_s3(argument: str, s3: Any) -> list[InputFile]:
    """Objects under s3://bucket/prefix (a trailing / or ** means everything below; other globs are matched)."""
    bucket, pattern = split_s3_uri(argument)
    magic = glob.has_magic(pattern)
    prefix = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0] if magic else pattern
    exact = not magic and pattern and not pattern.endswith("/")
    found: list[InputFile] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            if exact and key != pattern:
                continue
            if (
                magic
                and not (pattern.endswith("/**") and key.startswith(prefix))
                and not fnmatch.fnmatchcase(key, pattern)
            ):
                continue
            if not exact and not magic and not _is_jsonl_name(key):
                continue
            etag = item.get("ETag")
            found.append(
                InputFile(
                    f"s3://{bucket}/{key}",
                    bucket=bucket,
                    key=key,
                    size=item.get("Size"),
                    etag=etag.strip('"') if etag else None,
                )
            )
    if exact and not found:
        raise InputError(f"{argument}: no such object")
    return found


def _under_roots(path: Path, roots: list[Path]) -> bool:
    resolved = path.expanduser().resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)


def check_under_roots(argument: str, roots: list[Path]) -> None:
    """OutsideRootsError unless the local argument (its fixed part, before any glob character) resolves under a root;
    checked before the file system is looked at, so a refused path reveals nothing about what exists there."""
    fixed = argument
    if glob.has_magic(argument):
        prefix = argument.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
        fixed = prefix if prefix.endswith("/") else str(Path(prefix or ".").parent)
    if not _under_roots(Path(fixed), roots):
        listed = ", ".join(str(root) for root in roots)
        raise OutsideRootsError(f"{argument}: refused: outside the ingest roots ({listed}; XOLAP_INGEST_ROOTS)")


def expand_paths(
    arguments: list[str], s3_factory: Callable[[], Any] | None = None, *, roots: list[Path] | None = None
) -> list[InputFile]:
    """Every file the arguments name, in order, without duplicates; InputError when one names nothing.

    With `roots` (a server ingesting on a client's behalf), every local argument and every file found (symlinks
    resolved) must be under one of them: OutsideRootsError otherwise."""
    out: list[InputFile] = []
    seen: set[str] = set()
    s3 = None
    for argument in arguments:
        if argument.startswith("s3://"):
            if s3 is None:
                if s3_factory is None:
                    raise InputError(f"{argument}: S3 is not configured")
                s3 = s3_factory()
            files = expand_s3(argument, s3)
        else:
            if roots is not None:
                check_under_roots(argument, roots)
            files = expand_local(argument)
            if roots is not None:
                for item in files:
                    if item.local is None or not _under_roots(item.local, roots):
                        raise OutsideRootsError(f"{argument}: refused: {item.uri} resolves outside the ingest roots")
        if not files:
            raise InputError(f"{argument}: matches no JSONL files")
        for item in files:
            if item.uri not in seen:
                seen.add(item.uri)
                out.append(item)
    return out


# --- ingesting one file ------------------------------------------------------------------------------------------


def sniff_local(path: Path) -> bool:
    """True when the file is gzip; NotJsonlError when it is binary or a broken gzip (checked on its head)."""
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    gzipped = head[:2] == GZIP_MAGIC
    if gzipped:
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
        except zlib.error as exc:
            raise NotJsonlError(f"{path}: not a JSONL file: broken gzip stream ({exc})") from None
    if _looks_binary(head[:SNIFF_BYTES]):
        raise NotJsonlError(
            f"{path}: not a JSONL file ({'gzip content is binary' if gzipped else 'binary content'}, not UTF-8 JSON lines)"
        )
    return gzipped


def has_oversize_line(path: Path, gzipped: bool, limits: IngestLimits) -> bool:
    """Whether a line of the local file is longer than limits.max_line_bytes, read in SCAN_CHUNK blocks with
    bounded memory (a gzip file is decompressed under the decompression limits: DecompressionLimitError).

    Between two newlines of a block, rfind looks for the last newline within max_line_bytes of the previous one,
    so a block costs a few memchr passes, not one step per line."""
    limit = limits.max_line_bytes
    with path.open("rb") as raw:
        counter = _CountingReader(raw) if gzipped else None
        stream: Any = gzip.GzipFile(fileobj=counter, mode="rb") if counter is not None else raw
        run = 0  # bytes of the current line before this block
        decompressed = 0
        try:
            while chunk := stream.read(SCAN_CHUNK):
                if counter is not None:
                    decompressed += len(chunk)
                    check_expansion(str(path), counter.count, decompressed, limits)
                last = chunk.rfind(b"\n")
                if last < 0:
                    run += len(chunk)
                    if run > limit:
                        return True
                    continue
                previous = chunk.find(b"\n")
                if run + previous > limit:
                    return True
                while previous < last:
                    following = chunk.rfind(b"\n", previous + 1, previous + limit + 2)
                    if following < 0:
                        return True
                    previous = following
                run = len(chunk) - last - 1
        except (OSError, EOFError, zlib.error) as exc:
            raise NotJsonlError(f"{path}: not a JSONL file: broken gzip stream ({exc})") from None
    return run > limit


def file_source(path: Path, gzipped: bool) -> str:
    """The table function reading a local file line by line."""
    compression = ", 'gzip'" if gzipped else ", 'none'"
    return f"file({quote(str(path))}, '{LINE_FORMAT}', 'line String'{compression})"


def ingest_local_file_sql(
    client: ClickHouseClient,
    settings: Settings,
    path: Path,
    *,
    ingest_path: str,
    source_file: str | None = None,
    source_etag: str | None = None,
) -> IngestReport:
    """The SQL path: ClickHouse reads the file (the engine must see this disk: embedded chDB) and inserts the
    generated mapping; rejected lines go to ingest_errors with the same reasons the Python path gives.

    Each line is parsed once: staged_select_sql maps it and gives its rejection reason into a Memory table (up to
    STAGE_CHUNK_ROWS lines at a time), from which good rows go to raw_events and the others are reported."""
    path = Path(path).resolve()
    gzipped = sniff_local(path)
    name = source_file or str(path)
    limits = IngestLimits.from_settings(settings)
    if has_oversize_line(path, gzipped, limits):  # ClickHouse would hold the whole line: the Python splitter will not
        with path.open("rb") as stream:
            return ingest_bytes(
                client, settings, stream, source_file=name, source_etag=source_etag, ingest_path=ingest_path
            )
    source = file_source(path, gzipped)
    query_tag = f"ingest:{ingest_path}"
    database = settings.clickhouse_database
    provenance = {"source_file": quote(name), "source_etag": quote(source_etag) if source_etag else "NULL"}
    blank: list[int] = []
    errors: list[LineError] = []
    warned: list[LineError] = []  # warnings of stored rows (malformed optional values stored NULL)
    total = 0  # lines read, blank ones included (no count() scan first: a chunk short of STAGE_CHUNK_ROWS is the last)
    first = 0
    with staging_table(client, database, query_tag) as stage:  # kept from drop_stale_stages until the end, even failed
        while True:
            where = f"_row_number >= {first} AND _row_number < {first + STAGE_CHUNK_ROWS}"
            try:
                client.command(tag(f"CREATE TABLE {stage} ({STAGE_STRUCTURE}) ENGINE = Memory", query_tag))
                try:  # the table has the SELECT's columns (CREATE … AS SELECT analysed the SELECT twice)
                    _screen(client, stage, source, where, query_tag)
                except Exception as exc:  # the engine's message says what is wrong with the stream
                    raise NotJsonlError(
                        f"{path}: not a readable JSONL file: {str(exc).splitlines()[0][:300]}"
                    ) from None
                flagged = client.query(
                    tag(
                        f"SELECT row_number, is_blank, reason, raw_line FROM {stage} "
                        f"WHERE is_blank OR reason != '' ORDER BY row_number",
                        query_tag,
                    )
                ).result_rows
                staged = int(client.query(tag(f"SELECT count() FROM {stage}", query_tag)).result_rows[0][0])
                total += staged
                blank.extend(int(row) for row, is_blank, _reason, _raw in flagged if is_blank)
                for row, is_blank, reason, raw in flagged:
                    if not is_blank:
                        errors.append(LineError(name, _line_number(blank, row), reason, raw[:MAX_RAW_LINE_CHARS]))
                values = dict(provenance, source_line=source_line_expression(blank, row_number_column="row_number"))
                columns = ", ".join(values.get(c, c) for c in MAPPED_COLUMN_NAMES)
                client.command(
                    tag(
                        f"INSERT INTO `{database}`.raw_events ({', '.join(MAPPED_COLUMN_NAMES)}) SELECT {columns} FROM {stage} "
                        f"WHERE NOT is_blank AND reason = '' {MOVE_SETTINGS}",
                        query_tag,
                    )
                )
                warned.extend(_stage_details(client, stage, database, name, blank, values, query_tag))
            finally:
                client.command(tag(f"DROP TABLE IF EXISTS {stage}", query_tag))
                data_version.rows_written(database)  # the chunk's scopes are not read back: every scope's version moves
            if staged < STAGE_CHUNK_ROWS:
                break
            first += STAGE_CHUNK_ROWS
    if errors or warned:
        EventWriter(client, settings, ingest_path).record_errors(errors + warned)
    rows = total - len(blank) - len(errors)
    return IngestReport(rows=rows, rejected=len(errors), errors=errors[:MAX_REPORTED_ERRORS], warnings=len(warned))


def _screen(client: ClickHouseClient, stage: str, source: str, where: str, query_tag: str) -> None:
    """Stage the lines of `source` matching `where`: every line read the cheap way (each level from its parent's
    text), then, only when some line may hold a respelled number, those lines deleted and staged again read by
    position (one more plan and scan, for files that have such lines)."""
    extra = [f"{_MAY_RESPELL} AS may_respell"]
    select = staged_select_sql(source, where=where, details=False, extra_columns=extra, by_position=False)
    client.command(tag(f"INSERT INTO {stage} ({STAGE_COLUMN_NAMES}) {select}", query_tag))
    if not client.query(tag(f"SELECT countIf(may_respell) FROM {stage}", query_tag)).result_rows[0][0]:
        return
    client.command(tag(f"ALTER TABLE {stage} DELETE WHERE may_respell SETTINGS mutations_sync = 2", query_tag))
    select = staged_select_sql(source, where=f"({where}) AND {_MAY_RESPELL}", details=False, extra_columns=extra)
    client.command(tag(f"INSERT INTO {stage} ({STAGE_COLUMN_NAMES}) {select}", query_tag))


def _line_number(blank: list[int], row: int) -> int:
    """1-based number among non-empty lines of the 0-based physical row, given the sorted blank rows before it."""
    return int(row) + 1 - bisect.bisect_left(blank, int(row))


def _stage_details(
    client: ClickHouseClient,
    stage: str,
    database: str,
    name: str,
    blank: list[int],
    values: dict[str, str],
    query_tag: str,
) -> list[LineError]:
    """The warnings and experiment attributions of a screened stage's lines that may have them (needs_details):
    those lines alone get them computed (detail_select_sql), their attributions inserted and their warnings
    returned. Nothing runs when no line needs it (most files), and no attributions insert when no flagged line
    may name them. Each statement reads the detail SELECT directly, not a table created from it: CREATE … AS
    SELECT planned the SELECT twice, and each statement plans only the columns it reads."""
    wanted, named = client.query(tag(detail_counts_sql(stage), query_tag)).result_rows[0]
    if not wanted:
        return []
    details = f"({detail_select_sql(stage)})"
    if named:
        target = f"`{database}`.experiment_attributions"
        insert = experiment_attributions.insert_from_stage_sql(target, details, **values)
        client.command(tag(f"{insert} {QUERY_SETTINGS}", query_tag))
    found = client.query(
        tag(f"SELECT row_number, raw_line, warnings FROM {details} ORDER BY row_number {QUERY_SETTINGS}", query_tag)
    ).result_rows
    rows = [(row, raw, line_warnings) for row, raw, line_warnings in found if line_warnings]
    return [
        LineError(name, _line_number(blank, row), warning, raw[:MAX_RAW_LINE_CHARS], "warning")
        for row, raw, line_warnings in rows
        for warning in line_warnings
    ]


@contextmanager
def staging_table(client: ClickHouseClient, database: str, query_tag: str) -> Iterator[str]:
    """A fresh staging table name (`db`.`_ingest_stage_…`, quoted) for the caller to create: drop_stale_stages
    leaves it alone while the block runs, and it is dropped after."""
    name = f"{STAGE_PREFIX}{uuid.uuid4().hex}"
    _ACTIVE_STAGES.add((database, name))
    try:
        yield f"`{database}`.`{name}`"
    finally:
        try:
            client.command(tag(f"DROP TABLE IF EXISTS `{database}`.`{name}`", query_tag))
        finally:
            _ACTIVE_STAGES.discard((database, name))


def drop_stale_stages(client: ClickHouseClient, settings: Settings) -> list[str]:
    """Drop the staging tables a killed SQL ingest left behind (`_ingest_stage_*` in our database), except those a
    running ingest of this process uses: only the process holding the embedded engine creates them. Returns the
    names dropped."""
    database = settings.clickhouse_database
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {database:String} AND startsWith(name, {prefix:String})",
        parameters={"database": database, "prefix": STAGE_PREFIX},
    ).result_rows
    stale = [name for (name,) in rows if (database, name) not in _ACTIVE_STAGES]
    for name in stale:
        client.command(f"DROP TABLE IF EXISTS `{database}`.`{name}`")
    return stale


def missing_tables(client: ClickHouseClient, settings: Settings) -> list[str]:
    """The ingest tables (raw_events, ingest_errors) missing from the configured database: not migrated yet."""
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {database:String} AND name IN ('raw_events', 'ingest_errors')",
        parameters={"database": settings.clickhouse_database},
    ).result_rows
    present = {name for (name,) in rows}
    return [name for name in ("raw_events", "ingest_errors") if name not in present]


def prefers_sql_path(settings: Settings, item: InputFile) -> bool:
    """Whether `auto` reads this file with ClickHouse: a local file, embedded engine, and big enough."""
    if item.local is None or not settings.is_embedded_clickhouse:
        return False
    size = item.size if item.size is not None else item.local.stat().st_size
    return size * (6 if item.local.name.endswith(".gz") else 1) >= SQL_PATH_MIN_BYTES


def ingest_file(
    client: ClickHouseClient,
    settings: Settings,
    item: InputFile,
    *,
    ingest_path: str,
    s3: Any = None,
    use_sql: bool | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest one input file by the fastest path that can read it: SQL for big local files under embedded
    ClickHouse (its queries cost ~0.5 s to plan, so small files go faster through Python); Python otherwise."""
    if item.local is not None:
        if use_sql is None:
            use_sql = prefers_sql_path(settings, item)
        if use_sql:
            report = ingest_local_file_sql(client, settings, item.local, ingest_path=ingest_path, source_file=item.uri)
            if on_progress is not None:
                on_progress(report.rows, report.rejected)
            return report
        with item.local.open("rb") as stream:
            return ingest_bytes(
                client, settings, stream, source_file=item.uri, ingest_path=ingest_path, on_progress=on_progress
            )
    if s3 is None:
        raise InputError(f"{item.uri}: S3 is not configured")
    response = s3.get_object(Bucket=item.bucket, Key=item.key)
    etag = response.get("ETag")
    etag = etag.strip('"') if isinstance(etag, str) else item.etag
    body: BinaryIO = response["Body"]  # botocore's StreamingBody: read(n) is all ingest_bytes calls on it
    return ingest_bytes(
        client, settings, body, source_file=item.uri, source_etag=etag, ingest_path=ingest_path, on_progress=on_progress
    )
