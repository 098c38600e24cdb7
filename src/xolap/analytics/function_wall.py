"""The second wall for functions: ClickHouse's own parse of a custom query (EXPLAIN AST) calls no function the guard
refuses by name (file, dictGet, joinGet, getSetting, currentUser, ...).

The guard (xolap.analytics.guard) judges functions on sqlglot's tree and token stream of the SQL it prints; a text the
two parsers read differently is the way past it. The scope wall (xolap.analytics.scope_wall) confines every table read
without trusting the guard, but a function reaches outside without reading a table: on chDB (ClickHouse's local mode,
where user_files_path does not apply) `file('<any path>')` reads any file the server process can (measured under
readonly=1 behind a section's wall: /etc/hostname; the engine's data parts of every scope and the server's secrets are
files too). readonly=1 and the read-only server user do not stop a scalar function. So every custom query is parsed
once more, by the engine that will run it, and refused when its AST names a refused function.

The same parse also tells where the answer goes: on chDB `INTO OUTFILE '<path>'` (APPEND, TRUNCATE, AND STDOUT,
COMPRESSION) is written by the engine's own client side past readonly=1 and the table filters (measured: a walled
section query wrote the file), so a query whose output clause names a file is refused too. And only one statement is
ever sent: chDB runs `a; b; c` as three statements with the query's settings (readonly=1) on the last only, so an
EXPLAIN of such a text ran the statements between it writable (measured: a CREATE TABLE ran); the executor's own
statement check (executor.single_statement) refuses it before anything is sent.

Two names ClickHouse's parser writes itself are not the user's calls: `_CAST`, how a {name:Type} query parameter is
substituted (the guard allows only its own xolap_scope_id), and the IN family (`x IN (...)` is parsed as in(x, ...);
the guard judges what may stand right of IN, and the scope wall confines any table read there). Names compare
case-insensitively, as ClickHouse and the allowlist compare them.

Cost: one EXPLAIN AST (parse only), ~0.7-1 ms of CPU. The parse depends only on the text sent (the SQL and its
parameters) and the engine's version, so what it found (the called names, whether an output clause names a file) is
kept per process for the last PARSES_KEPT texts; the verdict is drawn from it again on each call (the allowlist is
fixed), and a failed EXPLAIN (a parse error, a timeout, a lost connection) is never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from xolap.analytics.executor import single_statement
from xolap.analytics.function_allowlist import function_refused_by_name
from xolap.analytics.guard import GuardError
from xolap.analytics.guard_rules import refusal
from xolap.clickhouse.client_protocol import ClickHouseClient

# The parser's own spellings of syntax (compared lowercased).
PARSER_SPELLINGS = frozenset(
    name.lower()
    for name in (
        "_CAST",
        "in",
        "notIn",
        "globalIn",
        "globalNotIn",
        "nullIn",
        "notNullIn",
        "globalNullIn",
        "globalNotNullIn",
    )
)
# The check's own cost is bounded before anything is parsed: what the guard prints (at most 20,000 characters in, 40
# tables) stays far below this, and an 800,000-character text cost ~8 s of CPU (sqlglot's tokenizer, then chDB's).
MAX_CHECKED_CHARS = 100_000
PARSES_KEPT = 1024
PARSE_KEPT_MAX_CHARS = 20_000  # longer texts are parsed every time (bounds the memory kept: ~20 MB at most)
WRITES_A_FILE = "INTO OUTFILE is not allowed: answers come back to you, never into a file on the server"
_FUNCTION = "Function "
_OUTPUT_CLAUSE = " Literal "  # a literal right under the root query: INTO OUTFILE's file, compression or level


@dataclass(frozen=True)
class EngineParse:
    """What ClickHouse's parse of one query says: the functions it calls, in order, and whether it writes a file."""

    functions: tuple[str, ...]
    writes_a_file: bool


_kept: OrderedDict[tuple[Hashable, ...], EngineParse] = OrderedDict()
_kept_lock = threading.Lock()


def engine_parse(client: ClickHouseClient, sql: str, parameters: Mapping[str, Any] | None = None) -> EngineParse:
    """ClickHouse's parse (EXPLAIN AST) of `sql`, one SELECT (QueryError otherwise, GuardError past MAX_CHECKED_CHARS,
    before anything is sent), kept per process by the exact text and parameters sent and the engine's version."""
    if len(sql) > MAX_CHECKED_CHARS:
        raise GuardError(f"the query is {len(sql)} characters long; the engine checks at most {MAX_CHECKED_CHARS}")
    single_statement(sql, select_only=True)
    key = (
        getattr(client, "server_version", None),
        sql,
        tuple(sorted((k, repr(v)) for k, v in (parameters or {}).items())),
    )
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
            return kept
    rows = client.query(f"EXPLAIN AST {sql}", parameters=dict(parameters or {}) or None, settings={"readonly": 1})
    names, writes = [], False
    for (line,) in rows.result_rows:
        text = line.strip()
        if text.startswith(_FUNCTION):
            names.append(text.removeprefix(_FUNCTION).split(" (children", 1)[0].split(" (alias ", 1)[0])
        elif line.startswith(_OUTPUT_CLAUSE):
            writes = True
    parse = EngineParse(tuple(names), writes)
    if len(sql) <= PARSE_KEPT_MAX_CHARS:
        with _kept_lock:
            _kept[key] = parse
            while len(_kept) > PARSES_KEPT:
                _kept.popitem(last=False)
    return parse


def called_functions(client: ClickHouseClient, sql: str, parameters: Mapping[str, Any] | None = None) -> list[str]:
    """The function names in ClickHouse's AST of `sql` (one SELECT), in order, as ClickHouse spells them."""
    return list(engine_parse(client, sql, parameters).functions)


def check_functions(client: ClickHouseClient, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
    """Raise GuardError (the guard's own refusal sentence) when the engine's parse calls a refused function or writes
    its answer into a file; QueryError when `sql` is not one SELECT."""
    parse = engine_parse(client, sql, parameters)
    if parse.writes_a_file:
        raise GuardError(WRITES_A_FILE)
    for name in parse.functions:
        if name.lower() not in PARSER_SPELLINGS and function_refused_by_name(name):
            raise GuardError(refusal(name))
