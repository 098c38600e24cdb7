"""Executor: limits (time, rows, read, memory), exact truncation, read-only, tags, progress, cancel, errors."""

from __future__ import annotations

import threading
import time

import pytest

from xolap.analytics.executor import Limits, QueryError, cancel, progress, run, single_statement
from xolap.clickhouse.client import thread_client


def limits(settings, **changes) -> Limits:
    return Limits.from_settings(settings).replace(**changes)


def test_rows_columns_types_and_parameters(ch_db):
    client, settings = ch_db
    result = run(client, settings, "SELECT {x:UInt64} + 1 AS y, 'a' AS s, [1, 2] AS arr", parameters={"x": 4})
    assert result.columns == ["y", "s", "arr"]
    assert result.types == ["UInt64", "String", "Array(UInt8)"]
    assert result.rows == [(5, "a", [1, 2])]
    assert result.records() == [{"y": 5, "s": "a", "arr": [1, 2]}]
    assert result.truncated is False
    assert result.elapsed_ms > 0
    assert result.tag.startswith("q-")


def test_read_statistics_absent_on_embedded_engine(ch_db):
    client, settings = ch_db
    result = run(client, settings, "SELECT sum(number) FROM numbers(12345)")
    assert result.rows == [(12345 * 12344 // 2,)]
    # chDB reports result rows as "rows read"; the executor says "unknown" rather than a wrong number
    assert settings.is_embedded_clickhouse
    assert result.rows_read is None and result.bytes_read is None


@pytest.mark.parametrize(
    ("total", "limit", "expected_rows", "truncated"),
    [
        (9, 10, 9, False),
        (10, 10, 10, False),
        (11, 10, 10, True),
        (12, 10, 10, True),
        (100_000, 10, 10, True),
        (1, 1, 1, False),
        (2, 1, 1, True),
    ],
)
def test_truncation_is_exact(ch_db, total, limit, expected_rows, truncated):
    client, settings = ch_db
    result = run(
        client,
        settings,
        f"SELECT number FROM numbers({total}) ORDER BY number",
        limits=limits(settings, max_result_rows=limit),
    )
    assert len(result.rows) == expected_rows
    assert result.truncated is truncated
    assert [row[0] for row in result.rows] == list(range(expected_rows))


def test_result_row_limit_does_not_cut_subqueries(ch_db):
    client, settings = ch_db
    sql = "SELECT count() FROM numbers(100000) WHERE number IN (SELECT number FROM numbers(50000))"
    result = run(client, settings, f"SELECT * FROM ({sql})", limits=limits(settings, max_result_rows=5))
    assert result.rows == [(50000,)] and not result.truncated


def test_timeout_fires(ch_db):
    client, settings = ch_db
    started = time.perf_counter()
    with pytest.raises(QueryError) as info:
        run(
            client,
            settings,
            "SELECT count() FROM numbers(100000000000)",
            limits=limits(settings, max_execution_time=1, max_rows_to_read=10**15, max_bytes_to_read=10**16),
        )
    assert info.value.kind == "timeout"
    assert info.value.code == 159
    assert "1 s limit" in str(info.value)
    assert time.perf_counter() - started < 10


def test_rows_to_read_limit(ch_db):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(
            client, settings, "SELECT sum(number) FROM numbers(1000000)", limits=limits(settings, max_rows_to_read=1000)
        )
    assert info.value.kind == "too_many_rows_read"
    assert "limit of 1000 rows" in str(info.value)


def test_bytes_to_read_limit(ch_db):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(
            client,
            settings,
            "SELECT sum(number) FROM numbers(1000000)",
            limits=limits(settings, max_bytes_to_read=100_000),
        )
    assert info.value.kind == "too_many_bytes_read"
    assert "100000 bytes" in str(info.value)


def test_memory_limit(ch_db):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(
            client,
            settings,
            "SELECT groupArray(number) FROM numbers(10000000)",
            limits=limits(settings, max_memory_usage=10_000_000),
        )
    assert info.value.kind == "memory"
    assert "memory" in str(info.value)


def test_readonly_blocks_writes(ch_db):
    client, settings = ch_db
    db = settings.clickhouse_database
    for sql in (
        f"INSERT INTO `{db}`.ingest_errors (source_file, source_line, reason, raw_line) VALUES ('f', 1, 'r', 'l')",
        f"CREATE TABLE `{db}`.evil (x UInt8) ENGINE = Memory",
        f"TRUNCATE TABLE `{db}`.raw_events",
        "SET max_threads = 1",
    ):
        with pytest.raises(QueryError) as info:
            run(client, settings, sql)
        assert info.value.kind == "readonly", sql
    with pytest.raises(QueryError) as info:
        run(client, settings, "SELECT 1 SETTINGS max_rows_to_read = 0")
    assert info.value.kind == "readonly"
    assert client.query(f"SELECT count() FROM `{db}`.ingest_errors").result_rows == [(0,)]
    assert client.query(f"EXISTS TABLE `{db}`.evil").result_rows == [(0,)]
    # the shared client is not left read-only (readonly went per query, never through command())
    client.command(f"CREATE TABLE `{db}`.scratch (x UInt8) ENGINE = Memory")
    client.command(f"DROP TABLE `{db}`.scratch")


def test_readonly_false_allows_session_settings_but_keeps_limits(ch_db):
    client, settings = ch_db
    result = run(
        client,
        settings,
        "SELECT number FROM numbers(50) SETTINGS max_threads = 1",
        readonly=False,
        limits=limits(settings, max_result_rows=3),
    )
    assert len(result.rows) == 3 and result.truncated


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "SELECT 1 INTO OUTFILE '/tmp/xolap-never.csv'; SELECT 2",
        "SELECT 1;; SELECT 2",
        "SELECT 'a' ; DROP TABLE x",
    ],
)
def test_multiple_statements_refused(ch_db, sql):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(client, settings, sql)
    assert info.value.kind == "multiple_statements"


def test_single_statement_strips_trailing_semicolons():
    assert single_statement("SELECT 1;") == "SELECT 1"
    assert single_statement("SELECT ';' ;;  ") == "SELECT ';'"
    assert single_statement("SELECT 1 -- a; b") == "SELECT 1 -- a; b"
    with pytest.raises(QueryError):
        single_statement("  ;  ")


def test_syntax_and_unknown_errors_are_clean(ch_db):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(client, settings, "SELECT 1 +")
    assert info.value.kind == "syntax"
    assert "DB::Exception" not in str(info.value) and "xolap:" not in str(info.value)
    with pytest.raises(QueryError) as info:
        run(client, settings, "SELECT no_such_column")
    assert info.value.kind == "invalid"
    assert "no_such_column" in str(info.value)
    assert "SETTINGS readonly" not in str(info.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC 1",
        "SHOW TABLES",
        "DESCRIBE TABLE system.one",
        "EXISTS TABLE system.one",
        "/* c */ INSERT INTO t VALUES (1)",
    ],
)
def test_readonly_runs_only_queries(ch_db, sql):
    client, settings = ch_db
    with pytest.raises(QueryError) as info:
        run(client, settings, sql)
    assert info.value.kind == "readonly"
    assert "only SELECT" in str(info.value)


def test_tag_is_used_and_validated(ch_db):
    client, settings = ch_db
    assert run(client, settings, "SELECT 1", tag="my-tag.1").tag == "my-tag.1"
    with pytest.raises(ValueError):
        run(client, settings, "SELECT 1", tag="bad tag */ DROP")


def test_progress_and_cancel_from_another_thread(ch_db):
    client, settings = ch_db
    outcome: dict[str, object] = {}

    def victim() -> None:
        own = thread_client(settings)
        try:
            outcome["result"] = run(
                own,
                settings,
                "SELECT count() FROM numbers(100000000000)",
                tag="victim-1",
                limits=limits(settings, max_execution_time=60, max_rows_to_read=10**15, max_bytes_to_read=10**16),
            )
        except QueryError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=victim)
    worker.start()
    seen = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and seen is None:
        seen = progress(client, "victim-1")
        if seen is None or seen.rows_read == 0:
            seen = None
            time.sleep(0.05)
    assert seen is not None, "the tagged query never showed up in system.processes"
    assert seen.rows_read > 0 and seen.total_rows >= seen.rows_read
    assert seen.fraction is not None and 0 < seen.fraction <= 1
    started = time.perf_counter()
    assert cancel(client, "victim-1") == 1
    worker.join(10)
    assert not worker.is_alive()
    assert time.perf_counter() - started < 5
    error = outcome.get("error")
    assert isinstance(error, QueryError) and error.kind == "cancelled", outcome
    assert progress(client, "victim-1") is None
    assert cancel(client, "victim-1") == 0


def test_limits_reject_nonpositive():
    with pytest.raises(ValueError):
        Limits(max_execution_time=0, max_result_rows=1, max_rows_to_read=1, max_bytes_to_read=1, max_memory_usage=1)


def test_settings_travel_with_the_query_only(ch_db):
    client, settings = ch_db
    sql = (
        "SELECT getSetting('readonly'), getSetting('max_result_rows'), getSetting('result_overflow_mode'), "
        "getSetting('max_execution_time'), getSetting('max_memory_usage'), getSetting('do_not_merge_across_partitions_select_final')"
    )
    chosen = limits(settings, max_result_rows=7, max_execution_time=9)
    row = run(client, settings, sql, limits=chosen).rows[0]
    # memory: the configured cap, lowered to memory_per_second per second of the time limit (9 s x 70 MiB)
    assert chosen.effective_memory_usage == min(settings.query_max_memory_usage, 9 * settings.query_memory_per_second)
    assert (
        row[0] == 1 and row[1] == 8 and row[2] == "break" and row[4] == chosen.effective_memory_usage and row[5] is True
    )
    assert float(row[3]) == 9
    # nothing stuck on the session afterwards
    after = client.query("SELECT getSetting('readonly'), getSetting('max_result_rows')").result_rows[0]
    assert after == (0, 0)


def test_a_query_with_bound_parameters_is_found_and_cancelled_by_tag(ch_db):
    """ClickHouse lists a parameterized query re-formatted (comments gone); the bound marker still finds it."""
    import threading
    import time

    from xolap.analytics.executor import Limits, QueryError, cancel, progress, run
    from xolap.clickhouse.client import connect

    client, settings = ch_db
    limits = Limits.from_settings(settings).replace(max_rows_to_read=10**12)
    other = connect(settings)
    outcome: dict = {}

    def slow() -> None:
        try:
            run(
                connect(settings),
                settings,
                "SELECT count() FROM numbers(100000000000) WHERE number % {m:UInt64} = 1",
                parameters={"m": 7},
                tag="param-slow",
                limits=limits,
            )
        except QueryError as exc:
            outcome["kind"] = exc.kind

    worker = threading.Thread(target=slow)
    worker.start()
    seen = None
    for _ in range(100):
        seen = progress(other, "param-slow")
        if seen is not None and seen.rows_read:
            break
        time.sleep(0.05)
    assert seen is not None and seen.rows_read > 0
    assert cancel(other, "param-slow") >= 1
    worker.join(timeout=20)
    assert outcome.get("kind") == "cancelled"


# Fractions of a second that ClickHouse reads back as another number: each failed its own readonly=1 check
# ("Cannot modify 'max_execution_time' setting in readonly mode"), as ~1 % of the time left after a custom query's
# wait did (test_custom_sql_waits, CI).
FRACTIONAL_TIME_LIMITS = [0.5158948772206171, 0.25156534236720807, 4.079, 4.055, 256.996, 265.0087890625, 0.1]


@pytest.mark.parametrize("seconds", FRACTIONAL_TIME_LIMITS)
def test_any_fractional_time_limit_runs_read_only(ch_db, seconds):
    client, settings = ch_db
    result = run(
        client, settings, "SELECT getSetting('max_execution_time')", limits=limits(settings, max_execution_time=seconds)
    )
    sent = float(result.rows[0][0])
    assert seconds <= sent < seconds + 1 / 64, "the limit sent is the asked one, rounded up to a 64th of a second"


def test_a_thousand_random_time_limits_run_read_only(ch_db):
    import random

    client, settings = ch_db
    draw = random.Random(20261201)
    for seconds in [draw.uniform(0.1, 600) for _ in range(1000)]:
        run(client, settings, "SELECT 1", limits=limits(settings, max_execution_time=seconds))
