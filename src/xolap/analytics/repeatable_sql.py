"""Whether a custom query's answer depends on the rows it reads alone: no clock, random or block-layout function.

Such an answer may be kept and served again while the rows are unchanged (xolap.analytics.custom_sql keeps them in
the result cache); `SELECT now()`, `rand()` or `WHERE timestamp > today() - 7` must run every time. The names are
those ClickHouse itself marks non-deterministic (system.functions.deterministic = 0) among the functions the guard
allows, with their aliases and SQL keyword spellings (tests/analytics/test_custom_sql_cache.py checks this list
against system.functions, so a new ClickHouse version cannot add one unseen).

The check reads the query's token stream, both as the user wrote it and as the guard printed it (sqlglot may
respell `today()` as CURRENT_DATE), and fails towards "not repeatable": any word token spelling one of these names
counts, called or not (a column alias `now` only costs the cache).
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

NON_REPEATABLE_FUNCTIONS = frozenset(
    name.lower()
    for name in """
    now now64 nowInBlock nowInBlock64 today yesterday curdate current_date current_timestamp current_time
    localtime localtimestamp UTCTimestamp UTC_timestamp sysdate
    rand rand32 rand64 randConstant randCanonical randUniform randNormal randLogNormal randExponential
    randChiSquared randStudentT randFisherF randBernoulli randBinomial randNegativeBinomial randPoisson
    generateUUIDv4 arrayShuffle arrayPartialShuffle arrayRandomSample arrayPartialSort arrayPartialReverseSort
    blockNumber blockSize rowNumberInBlock rowNumberInAllBlocks runningConcurrency
    isConstant toColumnTypeName lowCardinalityIndices lowCardinalityKeys financialNetPresentValueExtended
    arrayJoin unnest
    """.split()
)
_LITERAL_TOKENS = (TokenType.STRING, TokenType.NUMBER)


def is_repeatable(*texts: str) -> bool:
    """True when none of these SQL texts (the user's query, the guard's printed form) names a clock, random or
    block-layout function; False too when a text cannot be tokenized."""
    return all(_repeatable(text) for text in texts)


@lru_cache(maxsize=1024)
def _repeatable(sql: str) -> bool:
    try:
        tokens = sqlglot.tokenize(sql, read="clickhouse")
    except SqlglotError:
        return False
    return not any(
        token.token_type not in _LITERAL_TOKENS and token.text.lower() in NON_REPEATABLE_FUNCTIONS for token in tokens
    )
