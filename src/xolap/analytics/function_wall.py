"""The second wall for functions: ClickHouse's own parse of a custom query (EXPLAIN AST) calls no function the guard
refuses by name (file, dictGet, joinGet, getSetting, currentUser, ...).

The guard (xolap.analytics.guard) judges functions on sqlglot's tree and token stream of the SQL it prints; a text the
two parsers read differently is the way past it. The scope wall (xolap.analytics.scope_wall) confines every table read
without trusting the guard, but a function reaches outside without reading a table: on chDB (ClickHouse's local mode,
where user_files_path does not apply) `file('<any path>')` reads any file the server process can (measured under
readonly=1 behind a section's wall: /etc/hostname; the engine's data parts of every scope and the server's secrets are
files too). readonly=1 and the read-only server user do not stop a scalar function. So every custom query is parsed
once more, by the engine that will run it, and refused when its AST names a refused function.

Two names ClickHouse's parser writes itself are not the user's calls: `_CAST`, how a {name:Type} query parameter is
substituted (the guard allows only its own xolap_scope_id), and the IN family (`x IN (...)` is parsed as in(x, ...);
the guard judges what may stand right of IN, and the scope wall confines any table read there). Names compare
case-insensitively, as ClickHouse and the allowlist compare them. Cost: one EXPLAIN AST (parse only), ~1 ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
_FUNCTION = "Function "


def called_functions(client: ClickHouseClient, sql: str, parameters: Mapping[str, Any] | None = None) -> list[str]:
    """The function names in ClickHouse's AST of `sql` (one SELECT), in order, as ClickHouse spells them."""
    rows = client.query(f"EXPLAIN AST {sql}", parameters=dict(parameters or {}) or None, settings={"readonly": 1})
    names = []
    for (line,) in rows.result_rows:
        text = line.strip()
        if text.startswith(_FUNCTION):
            name = text.removeprefix(_FUNCTION).split(" (children", 1)[0].split(" (alias ", 1)[0]
            names.append(name)
    return names


def check_functions(client: ClickHouseClient, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
    """Raise GuardError (the guard's own refusal sentence) when the engine's parse calls a refused function."""
    for name in called_functions(client, sql, parameters):
        if name.lower() not in PARSER_SPELLINGS and function_refused_by_name(name):
            raise GuardError(refusal(name))
