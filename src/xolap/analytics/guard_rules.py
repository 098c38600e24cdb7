"""The per-node rules of the custom-SQL guard that both its refuse step and its verify step apply, each to its own tree:
which function calls may appear (on the tree and on the token stream), which bare names ClickHouse would read as
function calls, and what may stand on the right side of IN.

Each rule returns None when the node is fine, or a sentence for the person who wrote the query. The sentences name
functions and table names, never literal values (a literal may hold a learner's name or email).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from xolap.analytics.function_allowlist import (
    SQLGLOT_SPELLINGS,
    function_allowed,
    function_refused_by_name,
    sqlglot_spelling_allowed,
)

# Tokens that can stand before "(" without being a function name ClickHouse would call.
_NOT_A_NAME = {TokenType.STRING, TokenType.NUMBER, TokenType.IN}
_NAME_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER}
# Names that ClickHouse's parser reads as syntax before '(', not as functions: the COLUMNS('regexp') matcher and the
# date arithmetic forms DATE_ADD(unit, n, date) and relatives (rewritten into plus/minus of an interval).
_SYNTAX_NAMES = {
    "columns",
    "date_add",
    "dateadd",
    "date_sub",
    "datesub",
    "timestamp_add",
    "timestampadd",
    "timestamp_sub",
    "timestampsub",
}
_IN_HINT = "write IN (SELECT ...) or a list of values such as IN (1, 2, 3)"


def written_function_name(node: exp.Func) -> str | None:
    """The name as written for functions sqlglot keeps by name (unknown functions, most aggregates), else None."""
    if isinstance(node, exp.Anonymous):
        return node.name or None
    this = node.args.get("this")
    return this if isinstance(this, str) else None


def sqlglot_spelling(node: exp.Func) -> str:
    """sqlglot's own name for a function class it parsed (CurrentUser -> current_user, DateDiff -> datediff)."""
    cls = type(node)
    spelling = _SPELLINGS.get(cls)
    if spelling is None:
        names = cls.sql_names()
        spelling = _SPELLINGS[cls] = (names[0] if names else cls.key).lower()
    return spelling


_SPELLINGS: dict[type, str] = {}


def function_problem(node: exp.Func) -> str | None:
    """Why this function call may not run, or None."""
    name = written_function_name(node)
    if name is not None:
        return None if function_allowed(name) else refusal(name)
    spelling = sqlglot_spelling(node)
    return None if sqlglot_spelling_allowed(spelling) else refusal(spelling.upper())


def refusal(name: str) -> str:
    """The refusal for a function name (cut to 64 characters: the name is the user's own text)."""
    refused = function_refused_by_name(name)
    name = name[:64]
    if refused:
        why = "it reaches outside your query (server, session or user state, other tables, files, the network) or can cost unbounded time in one step"
    else:
        why = "it is not on the list of functions custom SQL may use"
    return f"function {name}() is not allowed: {why}"


def bare_name_problem(node: exp.Column | exp.Var) -> str | None:
    """ClickHouse reads some bare names as calls of a function without arguments (user, current_user, session_user,
    database, schema, current_database, ..., also when quoted), so an unqualified name that spells a refused function
    is refused too. Qualified names (alias.column) are always columns."""
    if isinstance(node, exp.Column) and node.table:
        return None
    name = node.name
    if name and function_refused_by_name(name):
        name = name[:64]
        return f"the name {name} is not allowed: ClickHouse reads it as the function {name}(), which reaches outside your query; alias that column differently"
    return None


def function_token_problem(tokens: Sequence[Token]) -> str | None:
    """Token-level look at what ClickHouse will read as a call: every name directly before '(' must be allowed.

    Keywords before '(' (AS, OVER, USING, FILTER, type names, ...) are syntax unless they spell a refused function
    (FILE, DATABASE, CURRENT_USER, ...). The IN operator is left to in_problem, which checks its right side."""
    for current, following in zip(tokens, tokens[1:], strict=False):
        if following.token_type != TokenType.L_PAREN or current.token_type in _NOT_A_NAME:
            continue
        if current.token_type in _NAME_TOKENS:
            if not function_allowed(current.text) and current.text.lower() not in _SYNTAX_NAMES:
                return refusal(current.text)
        elif function_refused_by_name(current.text):
            return refusal(current.text)
    return None


def in_problem(node: exp.In) -> str | None:
    """The right side of IN must be a subquery or constant values: ClickHouse reads a table from a name there, however
    it is parenthesised or aliased (`x IN ((db.t AS y))`), so names and any other expression are refused."""
    if node.args.get("unnest") is not None:
        return f"IN UNNEST(...) is not supported: {_IN_HINT}"
    query = node.args.get("query")
    if query is not None:
        inner = query
        while isinstance(inner, exp.Subquery) and not inner.alias and _only_this(inner):
            inner = inner.this
        if not isinstance(inner, exp.Query):
            return f"IN {_describe(inner)} is not allowed: {_IN_HINT}"
    items = list(node.args.get("expressions") or [])
    field = node.args.get("field")
    if field is not None:
        items.append(field)
    for item in items:
        if not is_constant(item):
            return f"IN {_describe(item)} is not allowed: after IN, ClickHouse reads a table of that name or an expression; {_IN_HINT}"
    return None


def is_constant(node: exp.Expr) -> bool:
    """Literal values only: numbers, strings, NULL, booleans, signs, and tuples, arrays or casts of those."""
    if isinstance(node, (exp.Literal, exp.Null, exp.Boolean)):
        return True
    if isinstance(node, (exp.Neg, exp.Paren)):
        return is_constant(node.this)
    if isinstance(node, (exp.Tuple, exp.Array, exp.Struct)):
        return _only_key(node, "expressions") and all(is_constant(item) for item in node.expressions)
    if isinstance(node, exp.Cast):
        return isinstance(node.args.get("to"), exp.DataType) and is_constant(node.this) and not node.args.get("format")
    return False


def _only_this(node: exp.Expr) -> bool:
    return all(key == "this" or value in (None, False, []) for key, value in node.args.items())


def _only_key(node: exp.Expr, allowed: str) -> bool:
    return all(key == allowed or value in (None, False, []) for key, value in node.args.items())


def _describe(node: exp.Expr) -> str:
    """A name after IN is shown (it is part of the schema, not data); anything else only by its kind."""
    while isinstance(node, (exp.Paren, exp.Alias)):
        node = node.this
    if isinstance(node, (exp.Column, exp.Table, exp.Identifier, exp.Dot)):
        return node.sql(dialect="clickhouse")[:80]
    if isinstance(node, exp.Func):
        spelling = sqlglot_spelling(node)
        name = written_function_name(node) or SQLGLOT_SPELLINGS.get(spelling, spelling.upper())
        return f"{name}(...)"
    return f"<{type(node).__name__.lower()} expression>"
