"""Warm dashboards: an unchanged scope's answers come from the result cache, and an event written by any insert path
(Python and SQL file ingest, statements API, ETL, backfill chunk, titles) is visible on the next load."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, jsonl, module_runtime, page_view_statement, s3_put_sqs_record, section_event_count
from timing import manual_clock
from xolap.analytics import result_cache
from xolap.analytics.result_cache import ResultCache
from xolap.clickhouse import data_version
from xolap.web.app import create_app

A = "/api/v1/sections/physics-fall/analytics"  # section 101, project 1
A2 = "/api/v1/sections/physics-evening/analytics"  # section 102, project 1
B = "/api/v1/sections/chem-fall/analytics"  # section 201, project 2
P = "/api/v1/projects/intro-physics/analytics"  # project 1
P2 = "/api/v1/projects/chem-basics/analytics"  # project 2


@pytest.fixture(scope="module")
def cache_world(base_settings, ch_engine, pg_template, moto_server):
    settings = base_settings.model_copy(
        update={
            "s3_endpoint_url": moto_server,
            "sqs_endpoint_url": moto_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    )
    yield from module_runtime(settings, ch_engine, pg_template, "rcache")


@pytest.fixture()
def world(cache_world):
    runtime, tokens = cache_world
    with TestClient(create_app(runtime)) as client:
        yield client, {role: bearer(token) for role, token in tokens.items()}, runtime


def statement(section: int = 101, project: int = 1) -> dict:
    return page_view_statement("fresh", section, project)


def load(client, who, path: str) -> tuple[int, bool]:
    """(events the summary counts, was it served from the cache)."""
    response = client.get(path + "/summary", headers=who)
    assert response.status_code == 200, response.text
    return response.json()["total_events"], response.headers.get("x-xolap-cache") == "hit"


def warm(client, who, path: str) -> int:
    first, _ = load(client, who, path)
    again, hit = load(client, who, path)
    assert hit and again == first, "an unchanged scope is answered from the cache"
    return first


# ---------------------------------------------------------------- served warm, never across scopes


def test_unchanged_tab_is_a_cache_hit_with_the_same_body(world):
    client, who, _ = world
    first = client.get(A + "/categories/cross_event", headers=who["inst_a"])
    second = client.get(A + "/categories/cross_event", headers=who["inst_a"])
    assert first.status_code == second.status_code == 200
    assert second.headers["x-xolap-cache"] == "hit" and first.headers.get("x-xolap-cache") != "hit"
    assert second.json() == first.json()
    assert second.headers["content-type"].startswith("application/json")
    assert second.headers["server-timing"].startswith("answer;dur=")


def test_cached_answers_stay_in_their_scope_and_authorization_still_applies(world):
    client, who, _ = world
    a, b = warm(client, who["inst_a"], A), warm(client, who["inst_b"], B)
    assert a >= section_event_count(101)
    assert b >= section_event_count(201) and a != b
    refused = client.get(B + "/summary", headers=who["inst_a"])
    assert refused.status_code in (403, 404), "a warm answer of section 201 is not served to 101's instructor"
    anonymous = client.get(A + "/summary", headers={"Accept": "application/json"})
    assert anonymous.status_code in (401, 403)


def test_a_write_to_one_section_leaves_other_scopes_warm(world):
    client, who, runtime = world
    before = {path: warm(client, who["admin"], path) for path in (A, A2, B, P, P2)}
    response = client.post(
        "/api/v1/statements",
        content=jsonl(statement(101, 1)),
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    for path, expected_change in ((A, 1), (P, 1), (A2, 0), (B, 0), (P2, 0)):
        count, hit = load(client, who["admin"], path)
        assert count == before[path] + expected_change, path
        assert hit is (expected_change == 0), path


def test_overview_and_categories_see_the_new_event_too(world):
    client, who, runtime = world
    overview = client.get(A, headers=who["inst_a"]).json()["summary"]["total_events"]
    category = client.get(A + "/categories/cross_event", headers=who["inst_a"]).json()
    assert client.get(A, headers=who["inst_a"]).headers["x-xolap-cache"] == "hit"
    client.post(
        "/api/v1/statements",
        content=jsonl(statement(101, 1)),
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert client.get(A, headers=who["inst_a"]).json()["summary"]["total_events"] == overview + 1
    fresh = client.get(A + "/categories/cross_event", headers=who["inst_a"])
    assert fresh.headers.get("x-xolap-cache") != "hit" and fresh.json()["rows"] != category["rows"]


# ---------------------------------------------------------------- every insert path makes the next load fresh


def test_python_file_ingest_is_visible_on_the_next_load(world, tmp_path: Path):
    from xolap.ingest.files import expand_local, ingest_file

    client, who, runtime = world
    before = warm(client, who["inst_a"], A)
    path = tmp_path / "python.jsonl"
    path.write_bytes(jsonl(statement(), statement()))
    (item,) = expand_local(str(path))
    report = ingest_file(runtime.clickhouse(), runtime.settings, item, ingest_path="cli", use_sql=False)
    assert report.rows == 2
    assert load(client, who["inst_a"], A) == (before + 2, False)


def test_sql_file_ingest_is_visible_on_the_next_load(world, tmp_path: Path):
    from xolap.ingest.files import expand_local, ingest_file

    client, who, runtime = world
    before = warm(client, who["inst_a"], A)
    other = warm(client, who["inst_b"], B)
    path = tmp_path / "sql.jsonl"
    path.write_bytes(jsonl(statement(), statement(), statement()))
    (item,) = expand_local(str(path))
    report = ingest_file(runtime.clickhouse(), runtime.settings, item, ingest_path="cli", use_sql=True)
    assert report.rows == 3
    assert load(client, who["inst_a"], A) == (before + 3, False)
    assert load(client, who["inst_b"], B) == (other, False), "the SQL path bumps every scope (it does not read them)"


def test_statements_api_write_is_visible_on_the_next_load(world):
    client, who, runtime = world
    before = warm(client, who["inst_a"], A)
    body = orjson.dumps([statement(), statement()])
    response = client.post(
        "/api/v1/statements",
        content=body,
        headers={"Authorization": f"Bearer {runtime.admin_token}", "Content-Type": "application/json"},
    )
    assert response.json()["accepted"] == 2, response.text
    assert load(client, who["inst_a"], A) == (before + 2, False)


def test_etl_write_is_visible_on_the_next_load(world):

    from xolap.ingest.aws_clients import aws_client
    from xolap.ingest.etl.batching import EtlLimits
    from xolap.ingest.etl.handler import EtlProcessor

    client, who, runtime = world
    settings = runtime.settings
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    bucket = f"rcache-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    key = "section/101/page_viewed/bundle.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(statement(), statement(), statement(), statement()))
    record = s3_put_sqs_record(bucket, key)
    before = warm(client, who["inst_a"], A)
    report = EtlProcessor(settings, runtime.clickhouse(), s3=s3, sqs=sqs, limits=EtlLimits()).process_records([record])
    assert report.rows == 4, report.summary()
    assert load(client, who["inst_a"], A) == (before + 4, False)


def test_backfill_chunk_is_visible_on_the_next_load(world):
    from xolap.backfill.chunking import Chunk
    from xolap.backfill.runner import run_chunk
    from xolap.ingest.aws_clients import aws_client

    client, who, runtime = world
    s3 = aws_client(runtime.settings, "s3")
    bucket = f"rcache-bf-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    key = "section/101/page_viewed/2026-09-01T09-00-00.000000Z_b00001.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(statement(), statement(), statement(), statement(), statement()))
    before = warm(client, who["inst_a"], A)
    result = run_chunk(
        runtime.settings,
        run_id=1,
        batch_id=1,
        chunk=Chunk(0, bucket, (key,)),
        target_table=f"{runtime.settings.clickhouse_database}.raw_events",
        fmt="JSONAsString",
        ch_settings={},
    )
    assert result.rows_written == 5
    assert load(client, who["inst_a"], A) == (before + 5, False)


def test_titles_import_refreshes_the_dashboards(world):
    from xolap.analytics import titles

    client, who, runtime = world
    warm(client, who["inst_a"], A)
    rows = [{"project_id": 1, "kind": "page", "content_id": "1000", "title": "Renamed page"}]
    imported = titles.import_titles(runtime.clickhouse(), runtime.settings, rows)
    assert imported.imported == 1, imported
    assert load(client, who["inst_a"], A)[1] is False


def test_custom_sql_is_kept_like_the_curated_answers(world):
    """Custom SQL answers are kept per scope and data version too (tests/web/test_custom_sql_cache.py has the rest):
    a write that reports itself, as every insert path does, is seen by the next run."""
    client, who, runtime = world
    sql = {"sql": "SELECT count() AS n FROM raw_events"}
    first = client.post(A + "/query", json=sql, headers=who["inst_a"])
    second = client.post(A + "/query", json=sql, headers=who["inst_a"])
    assert first.status_code == 200 and second.headers["x-xolap-cache"] == "hit"
    n = second.json()["rows"][0][0]
    db = runtime.settings.clickhouse_database
    runtime.clickhouse().command(
        f"INSERT INTO `{db}`.raw_events (user_id, section_id, project_id, timestamp, event_type, "
        f"event_hash) VALUES ('direct', 101, 1, now(), 'page_viewed', '{uuid.uuid4().hex}')"
    )
    data_version.bump(db, sections=[101], projects=[1])  # what every insert path reports after writing
    fresh = client.post(A + "/query", json=sql, headers=who["inst_a"])
    assert fresh.headers["x-xolap-cache"] == "miss" and fresh.json()["rows"][0][0] == n + 1


# ---------------------------------------------------------------- the cache itself


def test_lru_is_bounded_by_bytes():
    cache = ResultCache(max_bytes=8 * (1000 + result_cache.ENTRY_OVERHEAD_BYTES) * 4, max_age=60)
    for index in range(100):
        cache.store(("k", index), (0, 0), b"x" * 1000)
        assert cache.bytes_held <= cache.max_bytes
    assert len(cache) == 32
    cache.lookup(("k", 68), (0, 0))  # recently used survives the next evictions
    for index in range(100, 131):
        cache.store(("k", index), (0, 0), b"y" * 1000)
    assert cache.lookup(("k", 68), (0, 0)) == b"x" * 1000
    assert cache.lookup(("k", 69), (0, 0)) is None
    cache.store(("huge",), (0, 0), b"z" * cache.max_bytes)
    assert cache.lookup(("huge",), (0, 0)) is None, "one answer over an eighth of the bound is not kept"


def test_a_new_version_or_age_is_a_miss(monkeypatch):
    # the cache's ages follow the test's steps (a 50 ms stall after a store made it a miss)
    with manual_clock(monkeypatch, result_cache) as clock:
        cache = ResultCache(max_bytes=1 << 20, max_age=0.05)
        cache.store("k", (1, 1), b"old")
        assert cache.lookup("k", (1, 1)) == b"old"
        assert cache.lookup("k", (1, 2)) is None and cache.bytes_held == 0
        cache.store("k", (1, 2), b"v2")
        clock.advance(0.04)
        assert cache.lookup("k", (1, 2)) == b"v2", "kept within max_age"
        clock.advance(0.02)
        assert cache.lookup("k", (1, 2)) is None


def test_concurrent_cold_loads_compute_once_and_failures_are_not_kept():
    cache = ResultCache(max_bytes=1 << 20, max_age=60)
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> bytes:
        calls.append(1)
        gate.wait(2)
        return b"answer"

    results: list[tuple[bytes, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", lambda: (0, 0), compute)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1 and len(results) == 8 and all(body == b"answer" for body, _ in results)

    def broken() -> bytes:
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("bad", lambda: (0, 0), broken)
    assert cache.get_or_compute("bad", lambda: (0, 0), lambda: b"ok") == (b"ok", False)


def test_versions_bump_only_the_scopes_a_batch_names():
    import pyarrow as pa

    db = f"versions_{uuid.uuid4().hex[:8]}"
    start = {scope: data_version.version(db, *scope) for scope in (("section", 1), ("section", 2), ("project", 9))}
    data_version.rows_written(
        db, pa.table({"section_id": pa.array([1, None], pa.uint64()), "project_id": pa.array([9, 9], pa.uint64())})
    )
    assert data_version.version(db, "section", 1) != start[("section", 1)]
    assert data_version.version(db, "project", 9) != start[("project", 9)]
    assert data_version.version(db, "section", 2) == start[("section", 2)]
    data_version.rows_written(db)  # scopes unknown: every scope's version moves
    assert data_version.version(db, "section", 2) != start[("section", 2)]
    assert data_version.version(f"{db}_other", "section", 2) == (0, 0), "versions are per database"


def test_a_write_during_the_computation_leaves_its_answer_stale():
    db = f"race_{uuid.uuid4().hex[:8]}"
    cache = ResultCache(max_bytes=1 << 20, max_age=60)

    def version():
        return data_version.version(db, "section", 5)

    def compute_while_rows_arrive() -> bytes:
        answer = b"counted before the write"
        data_version.bump(db, sections=[5])  # an insert lands while the query runs
        return answer

    assert cache.get_or_compute("k", version, compute_while_rows_arrive) == (b"counted before the write", False)
    body, hit = cache.get_or_compute("k", version, lambda: b"counted after")
    assert (body, hit) == (b"counted after", False), "the next load recomputes"


def test_no_cache_when_its_bound_is_zero(base_settings):
    settings = base_settings.model_copy(update={"result_cache_bytes": 0})
    calls: list[int] = []

    def produce() -> dict:
        calls.append(1)
        return {"n": len(calls)}

    first = result_cache.cached_json(settings, "section", 1, ("q",), produce)
    second = result_cache.cached_json(settings, "section", 1, ("q",), produce)
    assert first == (b'{"n":1}', False) and second == (b'{"n":2}', False)
    server = base_settings.model_copy(update={"clickhouse_url": "http://127.0.0.1:1"})
    assert result_cache.process_cache(server).max_age == result_cache.SERVER_MODE_MAX_AGE
