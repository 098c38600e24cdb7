"""Limit values ClickHouse cannot hold: a configured limit past what the engine keeps is a start-up error naming the
setting (ClickHouse wraps 64-bit limits: 2**64 became 0, no limit at all, and 2**64 + 7 became 7; a time limit past
~9.2e12 s failed every query), and a caller asking for more rows or time than configured gets the configured bound."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from xolap.analytics import executor
from xolap.analytics.custom_sql import limits_for
from xolap.config import LIMIT_MAX, TIME_LIMIT_MAX_S, ConfigError, load_settings
from xolap.store import accounts
from xolap.web.app import create_app

COUNT_LIMITS = [
    "XOLAP_QUERY_MAX_RESULT_ROWS",
    "XOLAP_QUERY_MAX_ROWS_TO_READ",
    "XOLAP_QUERY_MAX_BYTES_TO_READ",
    "XOLAP_QUERY_MAX_MEMORY_USAGE",
    "XOLAP_QUERY_MAX_RANGE_ELEMENTS",
    "XOLAP_QUERY_MEMORY_PER_SECOND",
]
BEYOND = [
    *((name, value) for name in COUNT_LIMITS for value in (str(2**64), str(2**64 + 7), str(2**64 - 1))),
    ("XOLAP_QUERY_MAX_EXECUTION_TIME", "10000000000000"),  # ClickHouse refuses it in every query
    ("XOLAP_QUERY_MAX_EXECUTION_TIME", "10000000000"),  # past Python's longest wait (threading.TIMEOUT_MAX)
    ("XOLAP_RESULT_CACHE_MAX_AGE", "inf"),
    ("XOLAP_RESULT_CACHE_BYTES", str(2**80)),
]


@pytest.mark.parametrize(("variable", "value"), BEYOND)
def test_a_limit_the_engine_cannot_hold_is_a_startup_error_naming_it(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert variable + ":" in str(info.value)


def test_the_largest_accepted_limits_reach_clickhouse_as_sent(ch_db):
    client, settings = ch_db
    largest = settings.model_copy(
        update={
            "query_max_execution_time": TIME_LIMIT_MAX_S,
            **{name.removeprefix("XOLAP_").lower(): LIMIT_MAX for name in COUNT_LIMITS},
        }
    )
    for name in ("XOLAP_QUERY_MAX_EXECUTION_TIME", *COUNT_LIMITS):  # each one accepted at its largest
        assert load_settings(
            **{name.removeprefix("XOLAP_").lower(): getattr(largest, name.removeprefix("XOLAP_").lower())}
        )
    sent = executor.Limits.from_settings(largest).query_settings()
    names = [
        "max_execution_time",
        "max_result_rows",
        "max_rows_to_read",
        "max_bytes_to_read",
        "max_memory_usage",
        "function_range_max_elements_in_block",
    ]
    sql = "SELECT " + ", ".join(f"toString(getSetting('{name}'))" for name in names)
    read_back = executor.run(client, largest, sql).rows[0]
    assert [float(value) for value in read_back] == [float(sent[name]) for name in names]
    assert all(float(value) > 0 for value in read_back)  # none wrapped to 0 (no limit)


def test_a_caller_asking_for_more_than_configured_gets_the_configured_bound(base_settings):
    for max_rows, timeout in ((2**64 - 1, 10**13), (10**18, float("inf")), (2**200, 1e300)):
        limits = limits_for(base_settings, max_rows=max_rows, timeout=timeout)
        assert limits.max_result_rows == base_settings.query_max_result_rows
        assert limits.max_execution_time == base_settings.query_max_execution_time
    smaller = limits_for(base_settings, max_rows=5, timeout=0.5)
    assert (smaller.max_result_rows, smaller.max_execution_time) == (5, 0.5)


def test_the_admin_query_api_keeps_the_configured_bounds_whatever_it_is_asked(runtime):
    runtime.settings = runtime.settings.model_copy(update={"query_max_result_rows": 100})  # small answers: fast
    with runtime.sessions() as session:
        user = accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        token = accounts.create_token(session, user, "limits")[1]
        session.commit()
    client = TestClient(create_app(runtime), headers={"Authorization": f"Bearer {token}"})
    configured = runtime.settings.query_max_result_rows
    sql = f"SELECT arrayJoin(range({configured * 2})) AS n"
    for max_rows, timeout in ((2**64 - 1, None), (2**64, None), (None, float("inf")), (None, 1e13), (10**30, 1e300)):
        body = {"sql": sql, "scope": "admin", "max_rows": max_rows, "timeout": timeout}
        sent = json.dumps(body)  # Infinity as Python's json module writes (and FastAPI reads) it
        answer = client.post("/api/v1/admin/query", content=sent, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, (max_rows, timeout, answer.status_code, answer.text[:300])
        assert answer.json()["row_count"] == configured and answer.json()["truncated"] is True
