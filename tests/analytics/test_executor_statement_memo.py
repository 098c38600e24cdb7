"""The executor's statement check is a pure function of (sql, select_only): the same text is tokenized by sqlglot once
per process, and a refused text is refused again with the same kind and message (a new exception each time)."""

from __future__ import annotations

import uuid

import pytest

from xolap.analytics import executor
from xolap.analytics.executor import QueryError, single_statement


@pytest.fixture()
def tokenize_calls(monkeypatch):
    """Counts sqlglot's tokenize calls made by the executor (the real tokenizer still runs)."""
    calls: list[str] = []
    real = executor.sqlglot.tokenize

    def counting(sql, *args, **kwargs):
        calls.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(executor.sqlglot, "tokenize", counting)
    return calls


def unique(sql: str) -> str:
    return f"/* {uuid.uuid4().hex} */ {sql}"


def test_the_same_text_is_tokenized_once(tokenize_calls):
    sql = unique("SELECT count() FROM t WHERE section_id = {xolap_scope_id:UInt64};")
    first = single_statement(sql, select_only=True)
    assert first == sql[:-1]
    for _ in range(5):
        assert single_statement(sql, select_only=True) == first
    assert len(tokenize_calls) == 1


def test_select_only_is_part_of_what_is_remembered(tokenize_calls):
    sql = unique("INSERT INTO t VALUES (1)")
    assert single_statement(sql) == sql  # one statement, allowed when writes are
    with pytest.raises(QueryError) as refused:
        single_statement(sql, select_only=True)
    assert refused.value.kind == "readonly"
    assert len(tokenize_calls) == 2


@pytest.mark.parametrize(
    ("sql", "kind"),
    [("SELECT 1; SELECT 2", "multiple_statements"), ("   ;  ", "syntax"), ("INSERT INTO t VALUES (1)", "readonly")],
)
def test_a_refusal_is_repeated_with_the_same_kind_and_message(tokenize_calls, sql, kind):
    text = sql if sql.strip() == ";" else unique(sql)
    errors = []
    for _ in range(3):
        with pytest.raises(QueryError) as refused:
            single_statement(text, select_only=True)
        errors.append(refused.value)
    assert {error.kind for error in errors} == {kind}
    assert len({error.message for error in errors}) == 1
    assert len({id(error) for error in errors}) == 3, "each caller gets its own exception (run() sets its tag)"
    assert all(error.tag is None for error in errors)
    assert len(tokenize_calls) <= 1


def test_a_tag_set_on_one_refusal_does_not_reach_the_next(tokenize_calls):
    text = unique("SELECT 1; SELECT 2")
    with pytest.raises(QueryError) as first:
        single_statement(text)
    first.value.tag = "q-someone"
    with pytest.raises(QueryError) as second:
        single_statement(text)
    assert second.value.tag is None
