"""The custom-SQL guard: parse a user's query, refuse what could escape its scope, rewrite every table it reads into a
scope-filtered subquery, and print the ClickHouse SQL that actually runs (parse -> resolve -> print, like HogQL).

Fail closed at every step:
1. Bound the guard's own cost, then parse. The text is at most MAX_SQL_CHARS; its token stream (tokenized once) at
   most MAX_TOKENS tokens and MAX_PAREN_DEPTH nested parentheses, checked before parsing; the tree at most MAX_NODES
   nodes and MAX_TABLE_REFERENCES table references. Parse with sqlglot (dialect clickhouse). Anything that does not
   parse as exactly one SELECT query (WITH, UNION, INTERSECT, EXCEPT, subqueries, joins, ARRAY JOIN, window functions
   allowed) is refused.
2. Refuse, anywhere in the tree: statements other than SELECT, INTO OUTFILE, FORMAT, SETTINGS, query-parameter
   placeholders, table functions, database-qualified names, names of tables that are not exposed, SAMPLE, a right
   side of IN that is not a subquery or constant values (ClickHouse reads a table from a name there, however it is
   parenthesised or aliased: `x IN ((db.t AS y))`), every function not on the allowlist (function_allowlist.py),
   checked on the tree and on the written token stream, and bare names ClickHouse would call as a refused function
   (`SELECT user` runs currentUser()) (guard_rules.py).
3. Resolve every table reference: a name defined by an enclosing WITH is a CTE and is renamed to a generated name
   (xolap_cte_N) that no real table has, so a reference ClickHouse would resolve differently from us fails as an
   unknown table instead of reading one. Every other reference must be an exposed table and is replaced by the
   scoped subquery from xolap.clickhouse.events (FINAL inside, scope id as the bound parameter {xolap_scope_id:UInt64}),
   aliased to the user's alias or the table name. No predicate the user writes can widen it: it sits outside.
4. Print without comments, then re-parse the printed SQL and verify it independently: every table is ours and every
   read of raw_events is immediately filtered by the scope predicate; every placeholder is ours; every function node
   and every name before '(' in the printed token stream is allowed; no bare name spells a refused function; every IN
   has a subquery or constants on its right.

Admin scope reads raw_events, content_titles and ingest_errors of the database without a scope filter (raw_events and
content_titles still deduplicated with FINAL). It gets every other refusal too: no system tables, no table functions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeGuard

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from xolap.analytics.guard_rules import bare_name_problem, function_problem, function_token_problem, in_problem
from xolap.clickhouse.events import SCOPE_COLUMNS, SCOPE_PARAMETER, deduplicated_events, events_table, scoped_events
from xolap.counted import counted

GuardScope = Literal["section", "project", "admin"]


def is_guard_scope(scope: str) -> TypeGuard[GuardScope]:
    """True for a scope the guard can wall in: section, project or admin."""
    return scope in ("section", "project", "admin")


DIALECT = "clickhouse"
# Bounds on the guard's own work (ordinary queries use a few hundred tokens and nodes, a handful of tables).
MAX_SQL_CHARS = 20_000
MAX_TOKENS = 2_000
MAX_PAREN_DEPTH = 64
MAX_NODES = 2_500
MAX_TABLE_REFERENCES = 40
CTE_PREFIX = "xolap_cte_"

SCOPED_TABLES = ("raw_events", "content_titles")
ADMIN_TABLES = ("raw_events", "content_titles", "ingest_errors")
_DIALECT = Dialect.get_or_raise(DIALECT)

# Statement kinds refused wherever they appear (sqlglot parses unknown statements as Command).
_DENIED_NODE_TYPES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL",
        "DML",
        "Command",
        "Set",
        "Describe",
        "Use",
        "Kill",
        "Transaction",
        "Commit",
        "Rollback",
        "Pragma",
        "Analyze",
        "TruncateTable",
        "Grant",
        "Revoke",
        "Copy",
        "Merge",
        "LoadData",
        "Into",
        "Show",
        "Insert",
        "Create",
        "Drop",
        "Alter",
        "Delete",
        "Update",
        "Cache",
        "Uncache",
        "Refresh",
        "Export",
        "Summarize",
        "Declare",
        "Attach",
        "Detach",
        "Execute",
        "Values",
        "Lateral",
        "TableFromRows",
        "Unnest",
    )
    if hasattr(exp, name)
)
_PLACEHOLDER_TYPES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in ("Placeholder", "Parameter", "SessionParameter") if hasattr(exp, name)
)
_TABLE_ARGS_ALLOWED = {"this", "alias"}


class GuardError(ValueError):
    """The query is refused. str() says what is not allowed and why, in words meant for the person who wrote it."""


@dataclass(frozen=True)
class GuardedQuery:
    """The SQL to run (scope id not in it: pass parameters(scope_id)) and what it reads."""

    sql: str
    scope: GuardScope
    parameters_required: tuple[str, ...]
    tables: tuple[str, ...]

    def parameters(self, scope_id: int | None) -> dict[str, int]:
        """The bound parameters for this query: {xolap_scope_id: scope_id} when scoped, {} for admin."""
        if not self.parameters_required:
            return {}
        if scope_id is None or isinstance(scope_id, bool) or not isinstance(scope_id, int) or scope_id < 0:
            raise ValueError(f"a {self.scope} query needs a non-negative integer {self.scope} id, got {scope_id!r}")
        return {SCOPE_PARAMETER: scope_id}


class _NoUserSqlInLogs(logging.Filter):
    """sqlglot's warnings quote the SQL it parses; while the guard parses user SQL (which may hold a learner's name
    or email in a literal) they are dropped. Per context, so other threads' sqlglot warnings still go through."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _GUARDING.get()


_GUARDING: ContextVar[bool] = ContextVar("xolap_guarding", default=False)
logging.getLogger("sqlglot").addFilter(_NoUserSqlInLogs())


def guard(sql: str, *, scope: GuardScope, database: str) -> GuardedQuery:
    """Check one user query and rewrite it to read only the given scope's rows; raises GuardError."""
    if scope not in ("section", "project", "admin"):
        raise ValueError(f"unknown scope {scope!r}: use section, project or admin")
    guarding = _GUARDING.set(True)
    try:
        return _guard(sql, scope, database)
    except GuardError:
        raise
    except RecursionError:
        raise GuardError("the query is nested too deeply to check") from None
    except (
        Exception
    ) as exc:  # sqlglot failing on input it does not expect (map(1) raises IndexError): refuse, never crash
        raise GuardError(
            f"the query could not be parsed or checked as a ClickHouse SELECT (the parser failed with {type(exc).__name__})"
        ) from None
    finally:
        _GUARDING.reset(guarding)


def _guard(sql: str, scope: GuardScope, database: str) -> GuardedQuery:
    tokens = _tokenize_bounded(sql)
    tree = _parse_one(sql, tokens)
    _refuse_forbidden(tree, tokens)
    cte_names = _rename_ctes(tree)
    tables = _replace_tables(tree, scope, database)
    _fold_prewhere(tree)
    printed = tree.sql(dialect=DIALECT, comments=False)
    placeholders = _verify(printed, scope, database, cte_names)
    return GuardedQuery(
        sql=printed,
        scope=scope,
        parameters_required=(SCOPE_PARAMETER,) if placeholders else (),
        tables=tuple(sorted(tables)),
    )


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise GuardError(problem)


# -- 1. bound, then parse -----------------------------------------------------------------------------------------

_ROUGH_TOKENS = re.compile(r"\w+|[^\w\s]")
_OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}


def _tokenize_bounded(sql: str) -> list[Token]:
    """The query's tokens, after the checks that keep the guard's own work small (length, tokens, nesting)."""
    if not isinstance(sql, str) or not sql.strip():
        raise GuardError("the query is empty: write one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise GuardError(f"the query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}")
    if "\x00" in sql:
        raise GuardError("the query contains a NUL character")
    rough = len(
        _ROUGH_TOKENS.findall(sql)
    )  # words and symbols, counted in C: a cheap estimate; the exact count follows
    if rough > 2 * MAX_TOKENS:
        raise GuardError(f"the query has about {rough} tokens (names, values, operators); the limit is {MAX_TOKENS}")
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError as exc:
        raise GuardError(f"the query could not be parsed as a ClickHouse SELECT: {_first_line(exc)}") from None
    if len(tokens) > MAX_TOKENS:
        raise GuardError(f"the query has {len(tokens)} tokens (names, values, operators); the limit is {MAX_TOKENS}")
    depth = deepest = 0
    for token in tokens:
        if token.token_type in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _CLOSING:
            depth -= 1
    if deepest > MAX_PAREN_DEPTH:
        raise GuardError(
            f"the query is nested too deeply to check: {deepest} levels of brackets, the limit is {MAX_PAREN_DEPTH}"
        )
    return tokens


def _parse_tokens(tokens: list[Token], sql: str) -> list[exp.Expr]:
    return [statement for statement in _DIALECT.parser().parse(tokens, sql) if statement is not None]


def _parse_one(sql: str, tokens: list[Token]) -> exp.Expr:
    try:
        statements = _parse_tokens(tokens, sql)
    except (ParseError, TokenError) as exc:
        raise GuardError(f"the query could not be parsed as a ClickHouse SELECT: {_first_line(exc)}") from None
    except RecursionError:
        raise GuardError("the query is nested too deeply to check") from None
    if len(statements) != 1:
        raise GuardError(
            f"write exactly one SELECT statement; found {counted(len(statements), 'statement')} separated by ';'"
        )
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not tree.alias and isinstance(tree.this, exp.Query):
        tree = tree.this  # "(SELECT ...)" as the whole query
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise GuardError(
            f"only SELECT queries are allowed; this is {_statement_kind(tree)}, which could change or reveal data outside your scope"
        )
    tree.parent = None
    return tree


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _statement_kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} statement"
    return f"a {type(node).__name__.upper()} statement"


# -- 2. refuse ----------------------------------------------------------------------------------------------------


def _refuse_forbidden(tree: exp.Expr, tokens: list[Token]) -> None:
    """Walk the tree for what may not appear; function calls are judged last, on the written tokens first (so the
    refusal names the function as written) and then on the tree (which also sees calls written without parentheses)."""
    nodes = tables = 0
    function_refusal: str | None = None
    for node in tree.walk():
        nodes += 1
        if nodes > MAX_NODES:
            raise GuardError(f"the query is too large to check: more than {MAX_NODES} parts (names, values, operators)")
        if isinstance(node, _DENIED_NODE_TYPES):
            raise GuardError(f"{_statement_kind(node)} is not allowed: only SELECT queries may run here")
        if isinstance(node, _PLACEHOLDER_TYPES):
            raise GuardError(
                f"query parameters such as {node.sql(dialect=DIALECT)} are not allowed: the scope is the only parameter, and it is added for you"
            )
        if isinstance(node, exp.Query):
            for arg, what in (("format", "FORMAT"), ("settings", "SETTINGS"), ("into", "INTO")):
                if node.args.get(arg):
                    raise GuardError(
                        f"{what} is not allowed: the output format, the settings and the limits are set by xolap"
                        if what != "INTO"
                        else "SELECT ... INTO is not allowed: queries may not write anywhere"
                    )
        if isinstance(node, exp.Table):
            tables += 1
            if tables > MAX_TABLE_REFERENCES:
                raise GuardError(f"the query reads more than {MAX_TABLE_REFERENCES} tables; that is the limit")
            _refuse_table_form(node)
        if isinstance(node, exp.Func) and function_refusal is None:
            function_refusal = function_problem(node)
        if isinstance(node, exp.In):
            _refuse(in_problem(node))
        if isinstance(node, (exp.Column, exp.Var)):
            _refuse(bare_name_problem(node))
        if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise GuardError(
                f"the name {node.sql(dialect=DIALECT)} has too many parts: refer to columns as column or alias.column"
            )
        if isinstance(node, exp.TableAlias) and node.columns:
            raise GuardError(
                f"column lists in a table alias ({node.sql(dialect=DIALECT)}) are not supported: alias the columns inside a subquery"
            )
    _refuse(function_token_problem(tokens))
    _refuse(function_refusal)


def _refuse_table_form(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        name = table.this.name if isinstance(table.this, exp.Func) else table.this.sql(dialect=DIALECT)
        raise GuardError(f"table function {name}() is not allowed: read raw_events (or content_titles) instead")
    if table.args.get("db") or table.args.get("catalog"):
        raise GuardError(
            f"database-qualified name {table.sql(dialect=DIALECT)} is not allowed: write the table name alone (raw_events), it is resolved for you"
        )
    if table.args.get("sample"):
        raise GuardError("SAMPLE is not supported: raw_events has no sampling key")
    extra = sorted(key for key, value in table.args.items() if value and key not in _TABLE_ARGS_ALLOWED)
    if extra:
        raise GuardError(f"table modifier {', '.join(extra)} on {table.name} is not supported")


# -- 3. resolve and rewrite ---------------------------------------------------------------------------------------


def _with_of(node: exp.Expr) -> exp.With | None:
    value = node.args.get("with_") or node.args.get("with")
    return value if isinstance(value, exp.With) else None


def _is_table_cte(cte: exp.CTE) -> bool:
    return not cte.args.get("scalar") and isinstance(cte.this, exp.Query)


def _resolve_cte(table: exp.Table) -> exp.CTE | None:
    """The CTE this unqualified table name refers to: the nearest enclosing WITH that defines it, not counting the
    CTE whose own body holds the reference (a self-reference reads the real table, or fails)."""
    name = table.name
    chain: set[int] = set()
    node: exp.Expr | None = table
    while node is not None:
        chain.add(id(node))
        with_ = _with_of(node)
        if with_ is not None:
            for cte in with_.expressions:
                if isinstance(cte, exp.CTE) and _is_table_cte(cte) and cte.alias == name and id(cte) not in chain:
                    return cte
        node = node.parent
    return None


def _rename_ctes(tree: exp.Expr) -> set[str]:
    """Give every table-valued CTE a generated name and point the references we resolve to it at that name."""
    taken = {identifier.name for identifier in tree.find_all(exp.Identifier)}
    names: dict[int, str] = {}
    counter = 0
    for with_ in list(tree.find_all(exp.With)):
        seen: set[str] = set()
        for cte in with_.expressions:
            if not isinstance(cte, exp.CTE):
                raise GuardError("this WITH clause is not supported")
            if cte.alias in seen:
                raise GuardError(f"WITH defines {cte.alias} twice")
            seen.add(cte.alias)
            if not _is_table_cte(cte):
                continue
            counter += 1
            while f"{CTE_PREFIX}{counter}" in taken:
                counter += 1
            names[id(cte)] = f"{CTE_PREFIX}{counter}"
    references: list[tuple[exp.Table, str, str]] = []
    for table in list(tree.find_all(exp.Table)):
        cte = _resolve_cte(table)
        if cte is not None:
            references.append((table, names[id(cte)], table.name))
    for with_ in list(tree.find_all(exp.With)):
        for cte in with_.expressions:
            if id(cte) in names:
                cte.set("alias", exp.TableAlias(this=exp.to_identifier(names[id(cte)])))
    for table, generated, original in references:
        alias = table.alias or original
        table.set("this", exp.to_identifier(generated))
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        table.meta["xolap_cte"] = True
    return set(names.values())


def _scoped_source(table_name: str, scope: GuardScope, database: str) -> str:
    """The subquery text that replaces a user's reference to an exposed table."""
    qualified = f"`{database}`.{table_name}"
    if scope == "admin":
        if table_name == "raw_events":
            return f"(SELECT * FROM {deduplicated_events(database)})"
        return f"(SELECT * FROM {qualified} FINAL)" if table_name == "content_titles" else qualified
    if table_name == "raw_events":
        return scoped_events(database, scope)
    if table_name == "content_titles":
        if scope == "project":
            return f"(SELECT * FROM {qualified} FINAL WHERE project_id = {{{SCOPE_PARAMETER}:UInt64}})"
        # A section sees the titles of the projects its own events belong to.
        return (
            f"(SELECT * FROM {qualified} FINAL WHERE project_id IN (SELECT project_id FROM {events_table(database)} "
            f"WHERE {SCOPE_COLUMNS['section']} = {{{SCOPE_PARAMETER}:UInt64}}))"
        )
    raise AssertionError(table_name)


def _replace_tables(tree: exp.Expr, scope: GuardScope, database: str) -> set[str]:
    exposed = ADMIN_TABLES if scope == "admin" else SCOPED_TABLES
    read: set[str] = set()
    user_tables = [table for table in tree.find_all(exp.Table) if not table.meta.get("xolap_cte")]
    for table in user_tables:
        name = table.name
        if name not in exposed:
            hint = f"you may read {', '.join(exposed)}"
            if name.lower() in exposed:
                hint += " (table names are case-sensitive)"
            raise GuardError(f"table {name} is not available: {hint}")
        read.add(name)
        alias = table.alias or name
        alias_node = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
        source_sql = _scoped_source(name, scope, database)
        if source_sql.startswith("("):
            replacement: exp.Expr = _parsed(source_sql).copy()
            assert isinstance(replacement, exp.Subquery)
            replacement.set("alias", alias_node)
        else:
            replacement = exp.Table(
                this=exp.to_identifier(name), db=exp.to_identifier(database, quoted=True), alias=alias_node
            )
        target = table.parent if isinstance(table.parent, exp.Final) else table
        target.replace(replacement)
    return read


@lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expr:
    """sqlglot tree of our own SQL snippets (callers copy before changing it)."""
    return _parse_tokens(_DIALECT.tokenize(sql), sql)[0]


def _fold_prewhere(tree: exp.Expr) -> None:
    """PREWHERE applies to a table, and tables are now subqueries: fold it into WHERE (the same rows pass)."""
    for select in list(tree.find_all(exp.Select)):
        prewhere = select.args.get("prewhere")
        if prewhere is None:
            continue
        condition = prewhere.this
        where = select.args.get("where")
        merged = exp.and_(exp.paren(condition, copy=False), exp.paren(where.this, copy=False)) if where else condition
        select.set("prewhere", None)
        select.set("where", exp.Where(this=merged))


# -- 4. verify the printed SQL on its own -------------------------------------------------------------------------


def _verify(printed: str, scope: GuardScope, database: str, cte_names: set[str]) -> int:
    """Re-parse the printed SQL and check the invariants without trusting the rewrite; returns placeholder count."""

    def broken(reason: str) -> GuardError:
        return GuardError(f"the query could not be checked safely ({reason}); simplify it or report this")

    try:
        tokens = _DIALECT.tokenize(printed)
        statements = _parse_tokens(tokens, printed)
    except (ParseError, TokenError, RecursionError) as exc:
        raise broken(f"re-parse failed: {_first_line(exc)}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise broken("not one SELECT after rewriting")
    tree = statements[0]
    scoped = scope != "admin"
    predicate = None
    if scoped:
        predicate = _parsed(f"{SCOPE_COLUMNS[scope]} = {{{SCOPE_PARAMETER}:UInt64}}")
    exposed = ADMIN_TABLES if scope == "admin" else SCOPED_TABLES
    placeholders = 0
    for node in tree.walk():
        if isinstance(node, _DENIED_NODE_TYPES):
            raise broken(f"{type(node).__name__} after rewriting")
        if isinstance(node, exp.Query) and any(node.args.get(arg) for arg in ("format", "settings", "into")):
            raise broken("FORMAT/SETTINGS/INTO after rewriting")
        if isinstance(node, _PLACEHOLDER_TYPES):
            if not scoped or node.name != SCOPE_PARAMETER:
                raise broken(f"unexpected parameter {node.sql(dialect=DIALECT)}")
            placeholders += 1
        if isinstance(node, exp.Table):
            _verify_table(node, scope, database, cte_names, exposed, predicate, broken)
        if isinstance(node, exp.Func) and (problem := function_problem(node)) is not None:
            raise broken(f"after rewriting, {problem}")
        if isinstance(node, exp.In) and (problem := in_problem(node)) is not None:
            raise broken(f"after rewriting, {problem}")
        if isinstance(node, (exp.Column, exp.Var)) and (problem := bare_name_problem(node)) is not None:
            raise broken(f"after rewriting, {problem}")
    if (problem := function_token_problem(tokens)) is not None:
        raise broken(f"after rewriting, {problem}")
    return placeholders


def _verify_table(
    table: exp.Table,
    scope: GuardScope,
    database: str,
    cte_names: set[str],
    exposed: tuple[str, ...],
    predicate: exp.Expr | None,
    broken: Callable[[str], GuardError],
) -> None:
    if not isinstance(table.this, exp.Identifier) or table.args.get("catalog"):
        raise broken("a table that is not a plain name")
    db = table.args.get("db")
    if db is None:
        if table.name not in cte_names:
            raise broken(f"unresolved table {table.name}")
        return
    if db.name != database or table.name not in exposed:
        raise broken(f"unexpected table {table.sql(dialect=DIALECT)}")
    if scope == "admin":
        return
    # Every read of an exposed table sits alone in the FROM of a SELECT whose WHERE is the scope filter.
    holder = table.parent.parent if isinstance(table.parent, exp.Final) else table.parent
    select = holder.parent if isinstance(holder, exp.From) else None
    if not isinstance(select, exp.Select) or select.args.get("joins") or select.args.get("prewhere"):
        raise broken(f"{table.name} read outside its scope subquery")
    where = select.args.get("where")
    condition = where.this if where is not None else None
    if table.name == "raw_events":
        if condition != predicate:
            raise broken("raw_events read without the scope filter")
    elif scope == "project":
        if condition != predicate:
            raise broken("content_titles read without the scope filter")
    else:
        query = condition.args.get("query") if isinstance(condition, exp.In) else None
        inner = query.this if isinstance(query, exp.Subquery) else None
        if not (
            isinstance(condition, exp.In)
            and isinstance(inner, exp.Select)
            and condition.this == exp.column("project_id")
            and inner.args.get("where") is not None
            and inner.args["where"].this == predicate
        ):
            raise broken("content_titles read without the section's project filter")
