"""The guard's function allowlist against the ClickHouse it runs on: every name in chDB's system.functions is classified
(allowed or refused), an alias is classified like the function it names, allowed names exist, and the guard refuses
every refused name (called, or written bare where ClickHouse calls it) while letting allowed names through."""

from __future__ import annotations

import pytest
from sqlglot import exp

from xolap.analytics.function_allowlist import (
    AGGREGATE_FUNCTIONS,
    ALLOWED_FUNCTIONS,
    COMBINATORS,
    REFUSED_FUNCTIONS,
    SQLGLOT_SPELLINGS,
    function_allowed,
)
from xolap.analytics.guard import GuardError, guard

DB = "xdb"
# Printed by sqlglot as syntax that ClickHouse parses itself (not names in system.functions).
SYNTAX_SPELLINGS = {"CASE", "CAST", "EXTRACT", "COLUMNS", "DATE_ADD", "exists"}


@pytest.fixture(scope="module")
def functions(ch_engine) -> dict[str, tuple[str, bool]]:
    """name -> (alias_to, is_aggregate) from system.functions."""
    rows = ch_engine.query("SELECT name, alias_to, is_aggregate FROM system.functions").result_rows
    return {name: (alias_to, bool(is_aggregate)) for name, alias_to, is_aggregate in rows}


def _resolve(functions, name: str) -> str | None:
    """The function an alias finally names (system.functions spells some targets in another case)."""
    by_lower = {key.lower(): key for key in functions}
    seen = set()
    while name not in seen:
        seen.add(name)
        key = name if name in functions else by_lower.get(name.lower())
        if key is None:
            return None
        target = functions[key][0]
        if not target:
            return key
        name = target
    return None


def test_every_clickhouse_function_is_classified(functions):
    unclassified = sorted(set(functions) - ALLOWED_FUNCTIONS - REFUSED_FUNCTIONS)
    assert not unclassified, f"new ClickHouse functions to classify in function_allowlist.py: {unclassified}"
    assert not ALLOWED_FUNCTIONS & REFUSED_FUNCTIONS


def test_allowed_names_exist(functions):
    missing = sorted(name for name in ALLOWED_FUNCTIONS if name not in functions and name != "array_concat_agg")
    assert not missing
    stale = sorted(name for name in REFUSED_FUNCTIONS if name not in functions)
    assert not stale


def test_sqlglot_spellings_are_sqlglot_classes_printing_allowed_names():
    sqlglot_names = {(cls.sql_names() or [cls.key])[0].lower() for cls in exp.ALL_FUNCTIONS}
    assert not set(SQLGLOT_SPELLINGS) - sqlglot_names
    printed = sorted(
        value for value in SQLGLOT_SPELLINGS.values() if value not in SYNTAX_SPELLINGS and not function_allowed(value)
    )
    assert not printed


def test_aliases_are_classified_like_their_function(functions):
    wrong = []
    for name, (alias_to, _) in functions.items():
        if not alias_to:
            continue
        target = _resolve(functions, name)
        expected = function_allowed(target) if target is not None else function_allowed(alias_to)
        if function_allowed(name) != expected:
            wrong.append((name, alias_to))
    assert not wrong


def test_classification_ignores_case(functions):
    """ClickHouse resolves case-insensitive names in any case: no spelling of a refused name may be allowed."""
    wrong = []
    for name in functions:
        allowed = name in ALLOWED_FUNCTIONS
        for spelling in (name, name.lower(), name.upper(), name.swapcase()):
            if function_allowed(spelling) != allowed:
                wrong.append(spelling)
    assert not wrong


def test_aggregates_are_the_allowed_aggregate_functions(functions):
    aggregates = {name for name, (_, is_aggregate) in functions.items() if is_aggregate and name in ALLOWED_FUNCTIONS}
    assert aggregates == AGGREGATE_FUNCTIONS


def test_combinators_are_clickhouse_combinators(ch_engine):
    names = {row[0] for row in ch_engine.query("SELECT name FROM system.aggregate_function_combinators").result_rows}
    assert set(COMBINATORS) <= names
    assert not {"Null", "Tuple"} & set(COMBINATORS)


def test_every_refused_name_is_refused_by_the_guard():
    accepted = []
    for name in sorted(REFUSED_FUNCTIONS):
        for sql in (
            f"SELECT {name}()",
            f"SELECT {name}(1, 2)",
            f"SELECT `{name}`(1)",
            f"SELECT {name}",
            f"SELECT `{name}`",
            f"SELECT count() FROM raw_events WHERE {name.upper()}() = 1",
        ):
            try:
                guard(sql, scope="section", database=DB)
            except GuardError:
                continue
            accepted.append(sql)
    assert not accepted


def test_allowed_names_are_not_refused_for_their_name():
    """Each allowed name, called with 0 to 3 arguments, is either accepted or refused for another reason (arity that
    sqlglot cannot parse, ...), never as a function that is not allowed, not even after sqlglot re-prints it."""
    wrong = []
    for name in sorted(ALLOWED_FUNCTIONS):
        for arguments in ("", "user_id", "user_id, 1", "user_id, 1, 2"):
            try:
                guard(f"SELECT {name}({arguments}) FROM raw_events", scope="project", database=DB)
            except GuardError as exc:
                if "function" in str(exc) and "not allowed" in str(exc):
                    wrong.append((name, arguments, str(exc)))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT authUser()",
        "SELECT session_user()",
        "SELECT fullHostName()",
        "SELECT serverTimezone()",
        "SELECT tid()",
        "SELECT user",
        "SELECT `CURRENT_USER`",
        "SELECT database",
        "SELECT 0 IN ((system.one AS y))",
        "SELECT 1 IN ((system.one AS y)), arrayMap(x -> x GLOBAL NOT IN ((system.one AS z)), [0])",
    ],
)
def test_the_traps_are_real_in_chdb_and_refused(ch_engine, sql):
    """Unguarded, chDB runs each of these (reading user, host, server state or a whole table); the guard refuses them."""
    assert ch_engine.query(sql).result_rows
    with pytest.raises(GuardError):
        guard(sql, scope="section", database=DB)


def test_no_exposed_column_spells_a_refused_function(ch_db):
    """A column named like a refused function (user, version, ...) could only be read qualified (e.user): keep the
    exposed tables free of such names, or the bare-name rule would refuse ordinary queries."""
    client, settings = ch_db
    rows = client.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String} AND table IN ('raw_events', 'content_titles', 'ingest_errors')",
        parameters={"db": settings.clickhouse_database},
    ).result_rows
    assert len(rows) > 20
    assert not [
        (table, name) for table, name in rows if name.lower() in {refused.lower() for refused in REFUSED_FUNCTIONS}
    ]
