"""Custom SQL is guarded once per distinct (query, scope kind, database) per process: a dashboard's repeated query
or export skips sqlglot's parse and rewrite, never shares an answer across scope kinds or databases, and a refusal
is refused again every time."""

from __future__ import annotations

import pytest

from xolap.analytics import custom_sql
from xolap.analytics.guard import GuardError

SQL = "SELECT event_type, count() AS events FROM raw_events GROUP BY event_type /* memo test */"


def test_the_same_query_is_guarded_once():
    custom_sql._guarded_once.cache_clear()
    first = custom_sql.guarded_sql(SQL, "section", "memo_db")
    hits = custom_sql._guarded_once.cache_info().hits
    again = custom_sql.guarded_sql(SQL, "section", "memo_db")
    assert again is first and custom_sql._guarded_once.cache_info().hits == hits + 1
    assert first.parameters(101) == {"xolap_scope_id": 101}  # the scope id is bound at run time, not kept


def test_scope_kinds_and_databases_never_share_an_answer():
    section = custom_sql.guarded_sql(SQL, "section", "memo_db")
    project = custom_sql.guarded_sql(SQL, "project", "memo_db")
    admin = custom_sql.guarded_sql(SQL, "admin", "memo_db")
    other = custom_sql.guarded_sql(SQL, "section", "memo_other")
    assert len({section.sql, project.sql, admin.sql, other.sql}) == 4
    assert "section_id" in section.sql and "project_id" in project.sql and not admin.parameters_required
    assert "memo_other" in other.sql and "memo_other" not in section.sql


def test_a_refusal_is_refused_every_time_and_not_kept():
    refused = "SELECT * FROM system.users"
    size = custom_sql._guarded_once.cache_info().currsize
    for _ in range(2):
        with pytest.raises(GuardError):
            custom_sql.guarded_sql(refused, "section", "memo_db")
    assert custom_sql._guarded_once.cache_info().currsize == size
