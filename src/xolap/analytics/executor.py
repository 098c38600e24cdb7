"""Runs one query on ClickHouse bounded by limits, read-only for user SQL, tagged for live progress and cancel.

Limits (time, result rows, rows and bytes read, memory) ride as per-query settings of `client.query()`, never of
`client.command()` (a refused readonly command leaves the handle read-only for good, stack-findings A3).

ClickHouse checks max_execution_time and KILL only between blocks (stack-findings F): one block that builds a huge
array and maps a function over it runs to its end. So the work one block can do is bounded too
(Limits.query_settings): range() may build at most max_range_elements elements per block
(function_range_max_elements_in_block), and the memory a query may use is at most memory_per_second bytes per
second of its time limit, because every element an array function creates (arrayResize, arrayWithConstant,
replicate, groupArray, repeat, ...) costs memory, so memory caps how many elements one block can work through.
With the defaults (30 s, 2 GiB, 70 MiB/s) the cap is the configured 2 GiB; a 2 s limit allows 140 MiB.
Measured on 2 loaded cores (tests/analytics/test_limits.py, 2 s limit): range/arrayMap/arrayReduce/replicate/
arrayResize/arrayWithConstant/arrayJoin(range) bombs that ran 7-23 s now stop in 0.03-0.6 s (range cap or memory),
a self cross join stops at 2.0 s. Not bound: work per element. A lambda of many cheap calls on narrow types (say
sipHash64(x, x * 3, x + 1) over UInt8) does more work per byte; and a constant inner array replicated per element
(arrayMap(x -> arrayMap(y -> ..., range(10000)), range(10000))) is bounded by memory only: at the 30 s default
it ran one 11.6 s block that KILL could not interrupt. Lower XOLAP_QUERY_MEMORY_PER_SECOND to tighten that.
A scoped query also carries its scope's engine-enforced table filters (xolap.analytics.scope_wall).

The result row cap asks ClickHouse for one row more than the limit with `result_overflow_mode=break`; ClickHouse
stops at a block boundary, so the answer is cut here to exactly the limit and `truncated` says whether rows were left
out.
Queries carry a `/* xolap:<tag> */` comment (chDB drops query ids, A4) so another thread, on its own client, can read
their progress from system.processes and kill them. Results come back as rows with column names and types; the
streaming helpers live in xolap.analytics.result_formats.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from xolap.clickhouse.client import kill_tagged, running_tagged, session_with_defaults, tag_query
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.clickhouse.events import READ_SETTINGS
from xolap.config import Settings

if TYPE_CHECKING:
    from xolap.analytics.date_window import DatedWall
    from xolap.analytics.scope_wall import ScopeWall

# ClickHouse keeps a time setting in microseconds and, under readonly=1, checks a query's SETTINGS against the value it
# already applied: a fraction it reads back as another number (0.5158948772206171, 4.079, 256.996: ~1 % of random
# values) is refused as "Cannot modify 'max_execution_time' setting in readonly mode". A whole number of 64ths of a
# second is exact in binary and in microseconds; 1000 random limits pass so (tests/analytics/test_executor.py).
ENGINE_SECONDS_PER_STEP = 64


def engine_seconds(seconds: float) -> float:
    """A time limit as sent to ClickHouse: rounded up to a whole number of 64ths of a second (whole seconds stay)."""
    return math.ceil(seconds * ENGINE_SECONDS_PER_STEP) / ENGINE_SECONDS_PER_STEP


# sleep() is refused by the guard; should one slip through, it may not hold a block (and its thread) for long.
SLEEP_MAX_MICROSECONDS_PER_BLOCK = 100_000

# Settings a caller may add to one query with run(tuning=...): how ClickHouse runs it, never what it may read, return
# or change (no limit, no readonly, no table filter can be named, so tuning never loosens a bound).
TUNING_SETTINGS = frozenset(
    {
        "max_final_threads",
        "max_threads",
        "compile_expressions",
        "compile_aggregate_expressions",
        "compile_sort_description",
        "max_threads_for_indexes",
    }
)
# The tuning of the curated charts' reads (categories.registry: run_category, event_summary), never of custom SQL.
# max_final_threads = 1: their FINAL reads of the small rollup tables cost 5-7 ms CPU (and wall) less where a large
# scope's rows lie in more than one part (learners at risk 32.2 -> 27.4, course progress 31.2 -> 24.3 ms CPU p50 on the
# largest 5M section, same process, interleaved), the same elsewhere (docs/rollups.md).
# No JIT compilation: ClickHouse compiles an expression, aggregate or sort once it has run a few times in a process
# (40-250 ms each, in the answer that hits it: cross_event's p95 46 ms on the largest 5M section was that), while the
# charts' few hundred or thousand rows run as fast interpreted (interleaved, every chart and scope within +-1 ms CPU).
# max_threads_for_indexes = 1: the primary key of each part of a rollup table is searched on the query's own thread
# instead of 3-6 pool jobs per query (a few binary searches each); reading and aggregating keep max_threads.
CATEGORY_SETTINGS: dict[str, Any] = {
    "max_final_threads": 1,
    "compile_expressions": 0,
    "compile_aggregate_expressions": 0,
    "compile_sort_description": 0,
    "max_threads_for_indexes": 1,
}


@dataclass(frozen=True)
class Limits:
    """Server-side bounds of one query. Build from configuration with `Limits.from_settings`."""

    max_execution_time: float
    max_result_rows: int
    max_rows_to_read: int
    max_bytes_to_read: int
    max_memory_usage: int
    max_range_elements: int = 1_000_000
    memory_per_second: int = 70 * 1024**2

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"limit {field.name} must be positive, got {getattr(self, field.name)!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_execution_time=settings.query_max_execution_time,
            max_result_rows=settings.query_max_result_rows,
            max_rows_to_read=settings.query_max_rows_to_read,
            max_bytes_to_read=settings.query_max_bytes_to_read,
            max_memory_usage=settings.query_max_memory_usage,
            max_range_elements=settings.query_max_range_elements,
            memory_per_second=settings.query_memory_per_second,
        )

    def replace(self, **changes: Any) -> Limits:
        return dataclasses.replace(self, **changes)

    @property
    def effective_memory_usage(self) -> int:
        """max_memory_usage, lowered to memory_per_second per second of the time limit (bounds one block's work)."""
        return max(1, min(self.max_memory_usage, math.ceil(self.max_execution_time * self.memory_per_second)))

    def query_settings(self) -> dict[str, Any]:
        """The ClickHouse settings that enforce these limits (one extra result row to detect truncation)."""
        return {
            "max_execution_time": engine_seconds(self.max_execution_time),
            "timeout_overflow_mode": "throw",
            "max_result_rows": self.max_result_rows + 1,
            "result_overflow_mode": "break",
            "max_rows_to_read": self.max_rows_to_read,
            "max_bytes_to_read": self.max_bytes_to_read,
            "max_memory_usage": self.effective_memory_usage,
            "function_range_max_elements_in_block": self.max_range_elements,
            "function_sleep_max_microseconds_per_block": SLEEP_MAX_MICROSECONDS_PER_BLOCK,
        }

    def message_values(self) -> dict[str, Any]:
        """The values error messages quote (the effective memory limit, not the configured one)."""
        return {**dataclasses.asdict(self), "max_memory_usage": self.effective_memory_usage}


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query with their column names and ClickHouse types, and what running it cost.

    rows_read / bytes_read come from the server's X-ClickHouse-Summary; they are None on embedded chDB, whose
    statistics count result rows, not rows read (use progress() for live read counts there)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_ms: float
    rows_read: int | None
    bytes_read: int | None
    sql: str
    tag: str
    cached: bool = False  # served from the result cache (xolap.analytics.custom_sql), not run again

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name (a later duplicate name wins)."""
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


# ClickHouse error code -> (kind, user-facing explanation). Codes from ClickHouse's ErrorCodes.cpp.
_ERROR_KINDS: dict[int, tuple[str, str]] = {
    159: ("timeout", "the query ran longer than the {max_execution_time:g} s limit"),
    160: ("timeout", "the query would run longer than the {max_execution_time:g} s limit"),
    396: ("too_many_rows", "the result has more rows than the limit of {max_result_rows}"),
    158: ("too_many_rows_read", "the query would read more than the limit of {max_rows_to_read} rows"),
    307: ("too_many_bytes_read", "the query would read more than the limit of {max_bytes_to_read} bytes"),
    241: ("memory", "the query needs more memory than the limit of {max_memory_usage} bytes"),
    128: ("too_large", "an array in the query would be larger than allowed"),
    131: ("too_large", "a string in the query would be larger than allowed"),
    394: ("cancelled", "the query was cancelled"),
    164: ("readonly", "this query would change data or settings, and queries here are read-only"),
    62: ("syntax", "syntax error"),
    47: ("invalid", "unknown column or identifier"),
    60: ("invalid", "unknown table"),
    81: ("invalid", "unknown database"),
    46: ("invalid", "unknown function"),
    42: ("invalid", "wrong number of arguments"),
    43: ("invalid", "illegal argument type"),
    53: ("invalid", "type mismatch"),
    215: ("invalid", "column is neither aggregated nor in GROUP BY"),
    184: ("invalid", "aggregate function inside another aggregate function"),
    497: ("access_denied", "access denied"),
    456: ("invalid", "a query parameter is missing"),
}
_CODE_RE = re.compile(r"Code:\s*(\d+)\.")
_RANGE_LIMIT_RE = re.compile(r"function range would produce \d+ array elements")
_NOISE_RES = (
    re.compile(r"Code:\s*\d+\.\s*DB::Exception:\s*"),
    re.compile(r"\s*\(version [^)]*\)"),
    re.compile(r"\s*\([A-Z_]{3,}\)"),
    re.compile(r"\s+SETTINGS readonly = .*?(?=\.\s|:\s|$)", re.S),
    re.compile(r"/\* xolap:[A-Za-z0-9_.:-]+ \*/\s*"),
    re.compile(r"[.:]?\s*In scope .*$", re.S),  # ClickHouse echoes the rewritten query; the user wrote another
)


class QueryError(Exception):
    """A query failed. `kind` is a stable word (timeout, too_many_rows, too_many_rows_read, too_many_bytes_read,
    memory, too_large, cancelled, readonly, syntax, invalid, access_denied, multiple_statements, unavailable, server);
    `code` is the ClickHouse error code when there is one; str() is a clean one-paragraph message."""

    def __init__(self, kind: str, message: str, *, code: int | None = None, tag: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.tag = tag


def clean_clickhouse_message(raw: str) -> str:
    """ClickHouse's message without code prefix, version, error name, our settings clause and tag comment."""
    text = raw.strip().splitlines()[0] if raw.strip() else raw
    for pattern in _NOISE_RES:
        text = pattern.sub(" " if pattern.pattern.startswith(r"\s+SETTINGS") else "", text)
    text = text.rstrip(" .:")
    return re.sub(r"\s{2,}", " ", text).strip()


def clickhouse_error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code a clickhouse-connect / chDB exception's message carries ("Code: 241. …"), else None."""
    match = _CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def classify_error(exc: BaseException, limits: Limits, *, query_tag: str | None = None) -> QueryError:
    """Turn a clickhouse-connect / chDB exception into a QueryError with a kind and a clean message."""
    raw = str(exc)
    code = clickhouse_error_code(exc)
    detail = clean_clickhouse_message(raw)
    if code == 69 and _RANGE_LIMIT_RE.search(raw):
        headline = f"range() would build more than {limits.max_range_elements} array elements in one block"
        return QueryError("too_large", f"{headline} (ClickHouse: {detail})", code=code, tag=query_tag)
    if code in _ERROR_KINDS:
        kind, template = _ERROR_KINDS[code]
        headline = template.format(**limits.message_values())
        if kind == "memory" and limits.effective_memory_usage < limits.max_memory_usage:
            headline += (
                f", which is {limits.memory_per_second} bytes per second of the {limits.max_execution_time:g} s "
                "time limit: a longer time limit allows more memory"
            )
        if kind in ("timeout", "too_many_rows", "too_many_rows_read", "too_many_bytes_read", "memory", "too_large"):
            message = f"{headline} (ClickHouse: {detail})"
        else:
            message = f"{headline}: {detail}" if detail and kind not in ("cancelled",) else headline
        return QueryError(kind, message, code=code, tag=query_tag)
    if code is None and ("connect" in raw.lower() or "unavailable" in raw.lower()):
        return QueryError("unavailable", f"ClickHouse is unavailable: {detail}", tag=query_tag)
    return QueryError("server", detail or type(exc).__name__, code=code, tag=query_tag)


_QUERY_STARTS = (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN)


# Texts up to this length have their statement check remembered (category SQL is a few KB; its scope ids are bound
# parameters, so the same text repeats on every answer); longer ones are checked each time, so the memo stays small.
STATEMENT_MEMO_MAX_CHARS = 32_000
STATEMENT_MEMO_ENTRIES = 2048


def single_statement(sql: str, *, select_only: bool = False) -> str:
    """The SQL without trailing semicolons; QueryError when it holds more than one statement, or (select_only)
    when it does not start like a query (SELECT, WITH or a parenthesis).

    chDB runs `a; b` as two statements and applies the SETTINGS clause (readonly, limits) only to the last one
    (INTO OUTFILE in the first one runs client-side, stack-findings A3), so the executor refuses them itself.
    select_only matters as much: clickhouse-connect sends an INSERT's settings with SET-and-restore even from
    query(), so a refused `INSERT` under readonly=1 would leave the client read-only for good (same trap as A3).

    A pure function of (sql, select_only), so its answer is remembered per process (bounded LRU): a repeated text
    costs a dict lookup instead of sqlglot's tokenizer (1-2.5 ms for a category's SQL); a refusal is raised again as
    a new QueryError of the same kind and message."""
    if len(sql) > STATEMENT_MEMO_MAX_CHARS:
        return _checked_statement(sql, select_only)
    body, refusal = _remembered_statement(sql, select_only)
    if refusal is not None:
        raise QueryError(*refusal)
    return body


@functools.lru_cache(maxsize=STATEMENT_MEMO_ENTRIES)
def _remembered_statement(sql: str, select_only: bool) -> tuple[str, tuple[str, str] | None]:
    """(body, None) or ("", (kind, message)) of the statement check: exceptions are not kept, their words are."""
    try:
        return _checked_statement(sql, select_only), None
    except QueryError as exc:
        return "", (exc.kind, exc.message)


def _checked_statement(sql: str, select_only: bool) -> str:
    try:
        tokens = sqlglot.tokenize(sql, read="clickhouse")
    except TokenError as exc:
        raise QueryError("syntax", f"syntax error: {exc}") from None
    if not tokens:
        raise QueryError("syntax", "empty query")
    end = len(tokens)
    while end and tokens[end - 1].token_type == TokenType.SEMICOLON:
        end -= 1
    if end == 0:
        raise QueryError("syntax", "empty query")
    if any(token.token_type == TokenType.SEMICOLON for token in tokens[:end]):
        raise QueryError("multiple_statements", "only one statement may run at a time (found ';' between statements)")
    if select_only and (tokens[0].token_type not in _QUERY_STARTS or _looks_like_insert(sql)):
        raise QueryError("readonly", f"only SELECT queries may run read-only; this one starts with {tokens[0].text!r}")
    return sql[: tokens[end - 1].end + 1] if end < len(tokens) else sql


def _looks_like_insert(sql: str) -> bool:
    """clickhouse-connect's own test for INSERT (it decides how settings are sent); absent: assume no."""
    try:
        from clickhouse_connect.driver.binding import _query_is_insert
    except ImportError:  # pragma: no cover - other clickhouse-connect versions
        return False
    return bool(_query_is_insert(sql))


def new_tag() -> str:
    return f"q-{uuid.uuid4().hex[:16]}"


def run(
    client: ClickHouseClient,
    settings: Settings,
    sql: str,
    *,
    parameters: dict[str, Any] | None = None,
    tag: str | None = None,
    limits: Limits | None = None,
    readonly: bool = True,
    wall: ScopeWall | DatedWall | None = None,
    tuning: Mapping[str, Any] | None = None,
    shared_session: bool = False,
) -> QueryResult:
    """Run one SELECT with limits (default: Settings.query_*) and return its rows, exactly capped.

    readonly=True (the default, for any SQL a user wrote) adds readonly=1 to this query's settings. In server
    mode pass a client from connect(settings, readonly_user=True). `tag` (default: a fresh id) goes into a SQL
    comment so progress(other_client, tag) and cancel(other_client, tag) find the query from another thread.
    `wall` (xolap.analytics.scope_wall.scope_wall(...)) adds the scope's engine-enforced table filters; every scoped
    custom query passes one, and it needs readonly=True (without readonly=1 the SQL could reset the setting).
    `tuning` adds settings of TUNING_SETTINGS only (how the query runs, e.g. CATEGORY_SETTINGS; others: ValueError).
    `shared_session=True` (the curated charts' reads, which send the same settings over and over) runs the query, on
    embedded chDB, on a companion handle whose session already holds the settings every such read sends
    (shared_settings): the query's own SETTINGS clause names only readonly and what differs. Each query's effective
    settings are the same either way. Raises QueryError."""
    untunable = sorted(set(tuning or ()) - TUNING_SETTINGS)
    if untunable:
        raise ValueError(
            f"not a tuning setting: {', '.join(untunable)} (allowed: {', '.join(sorted(TUNING_SETTINGS))})"
        )
    limits = limits or Limits.from_settings(settings)
    query_tag = tag or new_tag()
    try:
        body = single_statement(sql, select_only=readonly)
    except QueryError as exc:
        exc.tag = query_tag
        raise
    tagged, parameters = tag_query(body, query_tag, parameters)
    if wall is not None and not readonly:
        raise ValueError("a scope wall needs readonly=True: without readonly=1 the query could reset its filters")
    query_settings: dict[str, Any] = {"readonly": 1} if readonly else {}
    query_settings.update(limits.query_settings())
    query_settings.update(READ_SETTINGS)
    query_settings.update(tuning or {})
    if wall is not None:
        try:  # reads the engine's catalogue (scope_wall.catalogue_tables): its failures are this query's
            query_settings.update(wall.query_settings(client))
        except Exception as exc:
            raise classify_error(exc, limits, query_tag=query_tag) from exc
    runner: ClickHouseClient = client
    if shared_session and wall is None:
        runner, query_settings = _on_shared_session(client, settings, query_settings)
    started = time.perf_counter()
    try:
        result = runner.query(tagged, parameters=parameters or None, settings=query_settings)
        rows = result.result_rows
        columns = list(result.column_names)
        types = [column_type.name for column_type in result.column_types]
        summary = result.summary or {}
    except QueryError:
        raise
    except Exception as exc:  # clickhouse-connect and chDB raise several exception types
        raise classify_error(exc, limits, query_tag=query_tag) from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    truncated = len(rows) > limits.max_result_rows
    if truncated:
        rows = rows[: limits.max_result_rows]
    return QueryResult(
        columns=columns,
        types=types,
        rows=[tuple(row) for row in rows],
        truncated=truncated,
        elapsed_ms=elapsed_ms,
        rows_read=None if settings.is_embedded_clickhouse else int(summary.get("read_rows", 0) or 0),
        bytes_read=None if settings.is_embedded_clickhouse else int(summary.get("read_bytes", 0) or 0),
        sql=body,
        tag=query_tag,
    )


def shared_settings(settings: Settings) -> dict[str, Any]:
    """What every curated chart read sends with the configured limits: the limits, READ_SETTINGS and
    CATEGORY_SETTINGS (readonly and a read's own tuning, e.g. max_threads, stay in each query)."""
    return {**Limits.from_settings(settings).query_settings(), **READ_SETTINGS, **CATEGORY_SETTINGS}


def _on_shared_session(
    client: ClickHouseClient, settings: Settings, query_settings: dict[str, Any]
) -> tuple[ClickHouseClient, dict[str, Any]]:
    """(the client to run on, the settings its query sends): a companion holding shared_settings and what differs
    from them, when the query sets every one of them (so none it leaves unset can come from the session) and the
    engine is chDB's; else the client itself and every setting."""
    shared = shared_settings(settings)
    if not shared.keys() <= query_settings.keys():
        return client, query_settings
    companion = session_with_defaults(client, shared)
    if companion is None:
        return client, query_settings
    return companion, {name: value for name, value in query_settings.items() if shared.get(name, _UNSET) != value}


_UNSET = object()


@dataclass(frozen=True)
class Progress:
    """Live progress of a running tagged query: rows read so far of ClickHouse's estimate of the total."""

    tag: str
    rows_read: int
    total_rows: int
    bytes_read: int
    elapsed_s: float

    @property
    def fraction(self) -> float | None:
        """rows_read / total_rows, capped at 1.0; None while ClickHouse has no estimate."""
        if self.total_rows <= 0:
            return None
        return min(1.0, self.rows_read / self.total_rows)


def progress(client: ClickHouseClient, tag: str) -> Progress | None:
    """Progress of the query carrying `tag`, or None when none is running. Call it with a client other than the
    one running the query (chDB serializes calls on one client): e.g. thread_client(settings) in another thread."""
    running = running_tagged(client, tag)
    if not running:
        return None
    return Progress(
        tag=tag,
        rows_read=sum(int(item["read_rows"]) for item in running),
        total_rows=sum(int(item["total_rows_approx"]) for item in running),
        bytes_read=sum(int(item["read_bytes"]) for item in running),
        elapsed_s=max(float(item["elapsed"]) for item in running),
    )


def cancel(client: ClickHouseClient, tag: str) -> int:
    """Ask every running query carrying `tag` to stop; returns how many. The victim's run() raises
    QueryError(kind="cancelled"). Use a client other than the one running the query."""
    return kill_tagged(client, tag)
