"""Every write path to raw_events bumps the data version, so the rollup check memo (xolap.analytics.rollups) never
hands out builds from before the write: with the result cache off, the very next cold answer (rollups on) counts a
new event of each path (Python and SQL file ingest, the statements API, S3 bundle -> ETL as the SQS worker runs it,
a backfill chunk, the LRS statements resource) and stops counting a voided one. The last test removes the bump and
shows the memo then keeps the old answer (so each path test fails if its path stops bumping)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard_support import bearer, jsonl, module_runtime, page_view_statement, s3_put_sqs_record
from lrs_support import V103, basic, new_credential
from xolap.analytics import rollups
from xolap.analytics.categories import event_summary
from xolap.clickhouse import data_version
from xolap.web.app import create_app

SUMMARY = "/api/v1/sections/physics-fall/analytics/summary"  # section 101, project 1
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
def cold_world(base_settings, ch_engine, pg_template, moto_server):
    settings = base_settings.model_copy(
        update={
            "result_cache_bytes": 0,  # every load cold: only the rollup memo stands between a write and the answer
            "s3_endpoint_url": moto_server,
            "sqs_endpoint_url": moto_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    )
    yield from module_runtime(settings, ch_engine, pg_template, "rollwp")


@pytest.fixture()
def world(cold_world):
    runtime, tokens = cold_world
    with TestClient(create_app(runtime)) as client:
        yield client, bearer(tokens["inst_a"]), runtime


def statement(section: int = 101, project: int = 1) -> dict:
    return page_view_statement("memo", section, project)


def cold_total(client, who) -> int:
    response = client.get(SUMMARY, headers=who)
    assert response.status_code == 200, response.text
    assert response.headers.get("x-xolap-cache") != "hit"
    return response.json()["total_events"]


def remembered(client, who) -> int:
    """The total once the memo holds the section's builds (two loads: the second is answered without a check)."""
    first = cold_total(client, who)
    assert cold_total(client, who) == first
    return first


def test_python_file_ingest(world, tmp_path: Path):
    from xolap.ingest.files import expand_local, ingest_file

    client, who, runtime = world
    before = remembered(client, who)
    path = tmp_path / "python.jsonl"
    path.write_bytes(jsonl(statement(), statement()))
    (item,) = expand_local(str(path))
    assert ingest_file(runtime.clickhouse(), runtime.settings, item, ingest_path="cli", use_sql=False).rows == 2
    assert cold_total(client, who) == before + 2


def test_sql_file_ingest(world, tmp_path: Path):
    from xolap.ingest.files import expand_local, ingest_file

    client, who, runtime = world
    before = remembered(client, who)
    path = tmp_path / "sql.jsonl"
    path.write_bytes(jsonl(statement(), statement(), statement()))
    (item,) = expand_local(str(path))
    assert ingest_file(runtime.clickhouse(), runtime.settings, item, ingest_path="cli", use_sql=True).rows == 3
    assert cold_total(client, who) == before + 3


def test_statements_api(world):
    client, who, runtime = world
    before = remembered(client, who)
    response = client.post(
        "/api/v1/statements",
        content=jsonl(statement(), statement()),
        headers={"Authorization": f"Bearer {runtime.admin_token}"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    assert cold_total(client, who) == before + 2


def test_s3_bundle_through_the_etl(world):

    from xolap.ingest.aws_clients import aws_client
    from xolap.ingest.etl.batching import EtlLimits
    from xolap.ingest.etl.handler import EtlProcessor
    from xolap.ingest.s3_bundles import S3BundleUploader

    client, who, runtime = world
    settings = runtime.settings
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    bucket = f"rollwp-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    key = S3BundleUploader(s3, bucket).upload("section", 101, "page_viewed", [statement() for _ in range(4)])
    record = s3_put_sqs_record(bucket, key)
    before = remembered(client, who)
    report = EtlProcessor(settings, runtime.clickhouse(), s3=s3, sqs=sqs, limits=EtlLimits()).process_records([record])
    assert report.rows == 4, report.summary()
    assert cold_total(client, who) == before + 4


def test_backfill_chunk(world):
    from xolap.backfill.chunking import Chunk
    from xolap.backfill.runner import run_chunk
    from xolap.ingest.aws_clients import aws_client

    client, who, runtime = world
    s3 = aws_client(runtime.settings, "s3")
    bucket = f"rollwp-bf-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    key = "section/101/page_viewed/2026-09-01T09-00-00.000000Z_b00001.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(*(statement() for _ in range(5))))
    before = remembered(client, who)
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
    assert cold_total(client, who) == before + 5


def test_lrs_statements_and_their_voiding(world):
    client, who, runtime = world
    cred, secret = new_credential(runtime)
    lrs = basic(cred.key, secret) | V103
    before = remembered(client, who)
    sent = client.post("/xAPI/statements", headers=lrs, json=[statement(), statement(), statement()])
    assert sent.status_code == 200, sent.text
    assert remembered(client, who) == before + 3
    voiding = {
        "actor": {"mbox": "mailto:teacher@example.org"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": sent.json()[0]},
        "id": str(uuid.uuid4()),
    }
    # the voiding statement itself is no event of the section; the voided one leaves raw_events (a DELETE)
    assert client.post("/xAPI/statements", headers=lrs, json=voiding).status_code == 200
    assert cold_total(client, who) == before + 2


def test_without_the_bump_the_memo_keeps_the_old_answer(world, tmp_path: Path, monkeypatch):
    """The paths above are only proven by their bump: with data_version.bump removed, a written event is not seen
    while the memo lives (here: the next answer), so each test above fails if its path stops bumping."""
    from xolap.ingest.files import expand_local, ingest_file

    _, _, runtime = world
    client, settings = runtime.clickhouse(), runtime.settings
    total = lambda: sum(row["events"] for row in event_summary(client, settings, "section", 101))  # noqa: E731
    before = total()
    monkeypatch.setattr(data_version, "bump", lambda *args, **kwargs: None)
    path = tmp_path / "unbumped.jsonl"
    path.write_bytes(jsonl(statement()))
    (item,) = expand_local(str(path))
    assert ingest_file(client, settings, item, ingest_path="cli", use_sql=False).rows == 1
    assert total() == before, "the memo answered from the builds found before the write"
    monkeypatch.undo()
    data_version.rows_written(settings.clickhouse_database)  # what the write should have done
    assert total() == before + 1
    assert rollups.memo_max_age(settings) > 0
