"""The custom-SQL guard: parse a user's query, refuse what could escape its scope, rewrite every table it reads into a
scope-filtered subquery, and print the ClickHouse SQL that actually runs (parse -> resolve -> print, like HogQL).

Fail closed at every step:
1. Parse with sqlglot (dialect clickhouse). Anything that does not parse as exactly one SELECT query (WITH, UNION,
   INTERSECT, EXCEPT, subqueries, joins, ARRAY JOIN, window functions allowed) is refused.
2. Refuse, anywhere in the tree: statements other than SELECT, INTO OUTFILE, FORMAT, SETTINGS, query-parameter
   placeholders, table functions, database-qualified names, names of tables that are not exposed, `IN <name>` and
   `IN ((<name>))` (ClickHouse reads a table there, however many parentheses), SAMPLE, and functions that reach outside the query (DENIED_FUNCTION_PREFIXES).
3. Resolve every table reference: a name defined by an enclosing WITH is a CTE and is renamed to a generated name
   (xolap_cte_N) that no real table has, so a reference ClickHouse would resolve differently from us fails as an
   unknown table instead of reading one. Every other reference must be an exposed table and is replaced by the
   scoped subquery from xolap.clickhouse.events (FINAL inside, scope id as the bound parameter {xolap_scope_id:UInt64}),
   aliased to the user's alias or the table name. No predicate the user writes can widen it: it sits outside.
4. Print without comments, then re-parse the printed SQL and verify it independently: every table is ours and every
   read of raw_events is immediately filtered by the scope predicate; every placeholder is ours; no denied function
   name appears before a parenthesis anywhere in the token stream.

Admin scope reads raw_events, content_titles and ingest_errors of the database without a scope filter (raw_events and
content_titles still deduplicated with FINAL). It gets every other refusal too: no system tables, no table functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from xolap.clickhouse.events import SCOPE_COLUMNS, SCOPE_PARAMETER, deduplicated_events, events_table, scoped_events

GuardScope = Literal["section", "project", "admin"]
DIALECT = "clickhouse"
MAX_SQL_CHARS = 100_000
CTE_PREFIX = "xolap_cte_"

SCOPED_TABLES = ("raw_events", "content_titles")
ADMIN_TABLES = ("raw_events", "content_titles", "ingest_errors")

# Function names are compared lower-cased, by prefix (a family: dictGet, dictGetOrDefault, dictHas, ... all start
# with "dict"). These reach outside the query: other tables or dictionaries, files, the network, server and session
# state, introspection, or sleep. Table functions are refused structurally (any function in FROM / JOIN).
DENIED_FUNCTION_PREFIXES: tuple[str, ...] = (
    "dict",  # dictGet*, dictHas, dictIsIn: read dictionaries
    "joinget",  # joinGet*: reads Join-engine tables
    "hascolumnintable",  # reads other tables' schemas
    "getsetting", "getserver", "getmergetree", "getmacro", "getclient", "getmax", "getos", "globalvariable",
    "file", "url", "s3", "remote", "input", "hdfs", "azure", "gcs", "mysql", "postgres", "jdbc", "odbc", "mongo",
    "redis", "sqlite", "iceberg", "deltalake", "hudi", "paimon", "cluster", "executable", "python", "eval", "view",
    "merge", "loop", "numbers", "zeros", "generate_series", "generaterandom", "values",
    "current", "enabled", "defaultroles", "hostname", "fqdn", "serveruuid", "shard", "displayname", "filesystem",
    "initial", "queryid", "query_id", "buildid", "tcpport", "zookeeper", "connection", "showcertificate",
    "transaction", "catboost", "modelevaluate", "naivebayes", "sleep", "addressto", "demangle", "logtrace",
    "notin", "nullin", "notnullin", "global",  # function forms of IN take a table name: in(x, other_table)
    "_",  # internal functions (__getScalar, _CAST, ...)
)
DENIED_FUNCTION_NAMES: frozenset[str] = frozenset({"in", "inignoreset", "user", "database", "schema"})
# Harmless functions inside a denied family (URL string functions, date helpers, aggregate state).
ALLOWED_FUNCTION_NAMES: frozenset[str] = frozenset(
    {"current_date", "current_timestamp", "currentdate", "currenttimestamp", "urlhash", "urlhierarchy",
     "urlpathhierarchy", "initializeaggregation"}
)
# sqlglot models some functions as classes; these are the ones whose ClickHouse counterparts read session state.
_HARMLESS_CURRENT_CLASSES = {"CurrentDate", "CurrentTimestamp", "CurrentTime", "CurrentDatetime", "CurrentTimezone", "CurrentVersion"}

# Statement kinds refused wherever they appear (sqlglot parses unknown statements as Command).
_DENIED_NODE_TYPES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL", "DML", "Command", "Set", "Describe", "Use", "Kill", "Transaction", "Commit", "Rollback", "Pragma",
        "Analyze", "TruncateTable", "Grant", "Revoke", "Copy", "Merge", "LoadData", "Into", "Show", "Insert", "Create",
        "Drop", "Alter", "Delete", "Update", "Cache", "Uncache", "Refresh", "Export", "Summarize", "Declare",
        "Attach", "Detach", "Execute", "Values", "Lateral", "TableFromRows", "Unnest",
    )
    if hasattr(exp, name)
)
_PLACEHOLDER_TYPES: tuple[type[exp.Expression], ...] = tuple(
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


def guard(sql: str, *, scope: GuardScope, database: str) -> GuardedQuery:
    """Check one user query and rewrite it to read only the given scope's rows; raises GuardError."""
    if scope not in ("section", "project", "admin"):
        raise ValueError(f"unknown scope {scope!r}: use section, project or admin")
    try:
        return _guard(sql, scope, database)
    except RecursionError:
        raise GuardError("the query is nested too deeply to check") from None


def _guard(sql: str, scope: GuardScope, database: str) -> GuardedQuery:
    tree = _parse_one(sql)
    _refuse_forbidden(tree)
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


# -- 1. parse -----------------------------------------------------------------------------------------------------


def _parse_one(sql: str) -> exp.Expression:
    if not isinstance(sql, str) or not sql.strip():
        raise GuardError("the query is empty: write one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise GuardError(f"the query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}")
    if "\x00" in sql:
        raise GuardError("the query contains a NUL character")
    try:
        statements = [statement for statement in sqlglot.parse(sql, read=DIALECT) if statement is not None]
    except (ParseError, TokenError) as exc:
        raise GuardError(f"the query could not be parsed as a ClickHouse SELECT: {_first_line(exc)}") from None
    except RecursionError:
        raise GuardError("the query is nested too deeply to check") from None
    if len(statements) != 1:
        raise GuardError(f"write exactly one SELECT statement; found {len(statements)} statements separated by ';'")
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not tree.alias and isinstance(tree.this, exp.Query):
        tree = tree.this  # "(SELECT ...)" as the whole query
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise GuardError(f"only SELECT queries are allowed; this is {_statement_kind(tree)}, which could change or reveal data outside your scope")
    tree.parent = None
    return tree


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _statement_kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} statement"
    return f"a {type(node).__name__.upper()} statement"


# -- 2. refuse ----------------------------------------------------------------------------------------------------


def function_denied(name: str) -> bool:
    """Whether a function of this name may not appear in user SQL (case-insensitive, by family prefix)."""
    lowered = name.lower()
    if lowered in ALLOWED_FUNCTION_NAMES:
        return False
    return lowered in DENIED_FUNCTION_NAMES or lowered.startswith(DENIED_FUNCTION_PREFIXES)


def _function_names(node: exp.Func) -> Iterator[str]:
    """The names a function node may print as: the written name of unknown functions, and the SQL names of
    sqlglot's classes for session-state functions (CURRENT_USER, CURRENT_DATABASE, ...)."""
    if isinstance(node, exp.Anonymous) or isinstance(node.args.get("this"), str):
        name = node.name if isinstance(node, exp.Anonymous) else node.args["this"]
        if name:
            yield name
        return
    cls = type(node).__name__
    if cls.startswith("Current") and cls not in _HARMLESS_CURRENT_CLASSES:
        yield from type(node).sql_names() or [cls]


def _refuse_forbidden(tree: exp.Expression) -> None:
    for node in tree.walk():
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
                        if what != "INTO" else "SELECT ... INTO is not allowed: queries may not write anywhere"
                    )
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                if function_denied(name):
                    raise GuardError(
                        f"function {name}() is not allowed: it reaches outside your query (other tables, dictionaries, files, the network or server state)"
                    )
        if isinstance(node, exp.Table):
            _refuse_table_form(node)
        if isinstance(node, exp.In):
            _refuse_in_name(node)
        if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise GuardError(f"the name {node.sql(dialect=DIALECT)} has too many parts: refer to columns as column or alias.column")
        if isinstance(node, exp.TableAlias) and node.columns:
            raise GuardError(f"column lists in a table alias ({node.sql(dialect=DIALECT)}) are not supported: alias the columns inside a subquery")


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


def in_table_name(node: exp.In) -> exp.Expression | None:
    """The name after IN that ClickHouse would read as a table: `IN t`, `IN (t)`, `IN ((db.t))`, ..."""
    candidates = [node.args.get("field")] + list(node.args.get("expressions") or [])
    for item in candidates:
        while isinstance(item, exp.Paren):
            item = item.this
        if isinstance(item, (exp.Column, exp.Identifier, exp.Dot, exp.Table)):
            return item
    return None


def _refuse_in_name(node: exp.In) -> None:
    item = in_table_name(node)
    if item is not None:
        raise GuardError(
            f"IN {item.sql(dialect=DIALECT)} is not allowed: after IN, ClickHouse reads a table of that name; "
            "write IN (SELECT ...), IN (1, 2, 3), or has(array, value)"
        )


# -- 3. resolve and rewrite ---------------------------------------------------------------------------------------


def _with_of(node: exp.Expression) -> exp.With | None:
    value = node.args.get("with_") or node.args.get("with")
    return value if isinstance(value, exp.With) else None


def _is_table_cte(cte: exp.CTE) -> bool:
    return not cte.args.get("scalar") and isinstance(cte.this, exp.Query)


def _resolve_cte(table: exp.Table) -> exp.CTE | None:
    """The CTE this unqualified table name refers to: the nearest enclosing WITH that defines it, not counting the
    CTE whose own body holds the reference (a self-reference reads the real table, or fails)."""
    name = table.name
    chain: set[int] = set()
    node: exp.Expression | None = table
    while node is not None:
        chain.add(id(node))
        with_ = _with_of(node)
        if with_ is not None:
            for cte in with_.expressions:
                if isinstance(cte, exp.CTE) and _is_table_cte(cte) and cte.alias == name and id(cte) not in chain:
                    return cte
        node = node.parent
    return None


def _rename_ctes(tree: exp.Expression) -> set[str]:
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


def _replace_tables(tree: exp.Expression, scope: GuardScope, database: str) -> set[str]:
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
            replacement: exp.Expression = _parsed(source_sql).copy()
            assert isinstance(replacement, exp.Subquery)
            replacement.set("alias", alias_node)
        else:
            replacement = exp.Table(this=exp.to_identifier(name), db=exp.to_identifier(database, quoted=True), alias=alias_node)
        target = table.parent if isinstance(table.parent, exp.Final) else table
        target.replace(replacement)
    return read


@lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expression:
    """sqlglot tree of our own SQL snippets (callers copy before changing it)."""
    return sqlglot.parse_one(sql, read=DIALECT)


def _fold_prewhere(tree: exp.Expression) -> None:
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
        statements = [statement for statement in sqlglot.parse(printed, read=DIALECT) if statement is not None]
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
    for node in tree.walk():
        if isinstance(node, _DENIED_NODE_TYPES):
            raise broken(f"{type(node).__name__} after rewriting")
        if isinstance(node, exp.Query) and any(node.args.get(arg) for arg in ("format", "settings", "into")):
            raise broken("FORMAT/SETTINGS/INTO after rewriting")
        if isinstance(node, _PLACEHOLDER_TYPES):
            if not scoped or node.name != SCOPE_PARAMETER:
                raise broken(f"unexpected parameter {node.sql(dialect=DIALECT)}")
        if isinstance(node, exp.Table):
            _verify_table(node, scope, database, cte_names, exposed, predicate, broken)
        if isinstance(node, exp.In) and in_table_name(node) is not None:
            raise broken("IN <table name> after rewriting")
    _verify_function_tokens(printed, broken)
    return sum(1 for _ in tree.find_all(*_PLACEHOLDER_TYPES))


def _verify_table(table, scope, database, cte_names, exposed, predicate, broken) -> None:
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
        if not (isinstance(condition, exp.In) and isinstance(inner, exp.Select)
                and condition.this == exp.column("project_id")
                and inner.args.get("where") is not None and inner.args["where"].this == predicate):
            raise broken("content_titles read without the section's project filter")


def _verify_function_tokens(printed: str, broken) -> None:
    """Token-level second look: no denied name directly before '(' (independent of how sqlglot modelled it)."""
    try:
        tokens = sqlglot.tokenize(printed, read=DIALECT)
    except TokenError as exc:
        raise broken(f"re-tokenize failed: {exc}") from None
    for current, following in zip(tokens, tokens[1:]):
        if following.token_type != TokenType.L_PAREN or current.token_type in (TokenType.STRING, TokenType.NUMBER):
            continue
        if current.token_type == TokenType.IN:
            continue  # the IN operator; IN <name> was refused on the tree
        if function_denied(current.text):
            raise broken(f"function {current.text}() after rewriting")
