"""The SQS ETL worker under `xolap serve` when its queue is missing (a dependency failure that used to end the
thread for good): it is restarted with backoff, its real reason is shown on the component board, and once the
queue exists it ingests what arrives exactly once."""

from __future__ import annotations

import json
import threading
import time
import uuid

import orjson
import pytest
from faults_support import report, wait_for

from xolap.analytics.health import component_health
from xolap.clickhouse.events import READ_SETTINGS, deduplicated_events
from xolap.component_status import board
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.sqs_worker import start_sqs_etl_worker
from xolap.runtime import Runtime
from xolap.supervisor import Backoff

pytestmark = pytest.mark.faults
EXT = "http://oli.cmu.edu/extensions/"


def _statement(n: int) -> bytes:
    return orjson.dumps(
        {
            "actor": {"account": {"homePage": "https://torus.example", "name": f"learner-{n}"}},
            "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
            "object": {"id": f"https://example.edu/page/{n}", "definition": {"type": EXT + "types/page"}},
            "context": {"extensions": {EXT + "section_id": 4, EXT + "page_id": n}},
            "timestamp": f"2026-03-01T10:00:{n:02d}Z",
        }
    )


def test_etl_worker_restarts_until_its_queue_exists_then_ingests_exactly(ch_db, aws_settings, pg_settings):
    client, ch_settings = ch_db
    settings = aws_settings.model_copy(
        update={"clickhouse_database": ch_settings.clickhouse_database, "database_url": pg_settings.database_url}
    )
    sqs, s3 = aws_client(settings, "sqs"), aws_client(settings, "s3")
    name = f"etl-faults-{uuid.uuid4().hex[:8]}"
    probe = sqs.create_queue(QueueName=name + "-probe")["QueueUrl"]  # the URL shape moto gives queues
    queue_url = probe[: -len("-probe")]
    bucket = f"etl-faults-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    runtime = Runtime(settings.model_copy(update={"etl_queue_url": queue_url}))
    stop = threading.Event()
    started = time.monotonic()
    worker = start_sqs_etl_worker(runtime, stop, wait_seconds=1, backoff=Backoff(0.3, 1.0))
    try:
        _, visible_after = wait_for(
            lambda: board.get("etl_worker") and board.get("etl_worker").ok is False and worker.restarts >= 2, timeout=30
        )
        state = component_health(runtime)["components"]["etl_worker"]
        assert state["ok"] is False and "QueueUnavailable" in state["last_error"], state
        assert worker.is_alive()

        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})  # the dependency is back
        s3.put_object(Bucket=bucket, Key="a.jsonl", Body=b"\n".join(_statement(i) for i in range(12)) + b"\n")
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"bucket": bucket, "key": "a.jsonl"}))
        db = settings.clickhouse_database

        def stored() -> tuple[int, int]:
            deduped = client.query(
                f"SELECT count() FROM {deduplicated_events(db)}", settings=READ_SETTINGS
            ).result_rows[0][0]
            return deduped, client.query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0]

        wait_for(lambda: stored()[0] >= 12, timeout=30)
        assert stored() == (12, 12)
        assert component_health(runtime)["components"]["etl_worker"]["ok"] is True
        report("ETL worker, queue missing (supervised restarts)", visible_after, 12 - stored()[0], stored()[1] - 12)
    finally:
        stop.set()
        worker.join(15)
    assert not worker.is_alive() and time.monotonic() - started < 60
