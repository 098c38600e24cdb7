"""The local SQS worker against moto: real S3 bucket notifications -> SQS -> worker -> raw_events; deletes what
succeeded, leaves failures for redelivery, honours message caps and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import orjson
import pytest

from xolap.clickhouse.events import READ_SETTINGS, deduplicated_events
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.sqs_worker import SqsEtlWorker

EXT = "http://oli.cmu.edu/extensions/"


def video_played(n: int) -> bytes:
    return orjson.dumps(
        {
            "actor": {"account": {"homePage": "https://torus.example", "name": f"learner-{n}"}},
            "verb": {"id": "https://w3id.org/xapi/video/verbs/played"},
            "object": {
                "id": "https://cdn.example/v.mp4",
                "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
            },
            "result": {"extensions": {"https://w3id.org/xapi/video/extensions/time": n}},
            "context": {"extensions": {EXT + "section_id": 9, EXT + "project_id": 2, EXT + "resource_id": 55}},
            "timestamp": f"2026-02-0{1 + n % 9}T10:00:00Z",
        }
    )


def body(n: int, start: int = 0) -> bytes:
    return b"\n".join(video_played(start + i) for i in range(n)) + b"\n"


@pytest.fixture()
def queue_env(ch_db, aws_settings):
    client, ch_settings = ch_db
    sqs = aws_client(aws_settings, "sqs")
    s3 = aws_client(aws_settings, "s3")
    suffix = uuid.uuid4().hex[:10]
    queue_url = sqs.create_queue(QueueName=f"etl-{suffix}", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    bucket = f"bundles-{suffix}"
    s3.create_bucket(Bucket=bucket)
    settings = aws_settings.model_copy(update={"clickhouse_database": ch_settings.clickhouse_database})
    return {"client": client, "settings": settings, "sqs": sqs, "s3": s3, "queue": queue_url, "bucket": bucket}


def rows(env) -> int:
    db = env["settings"].clickhouse_database
    return (
        env["client"].query(f"SELECT count() FROM {deduplicated_events(db)}", settings=READ_SETTINGS).result_rows[0][0]
    )


def queue_counts(env) -> tuple[int, int]:
    attributes = env["sqs"].get_queue_attributes(
        QueueUrl=env["queue"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def worker(env, **kwargs) -> SqsEtlWorker:
    kwargs.setdefault("wait_seconds", 1)
    return SqsEtlWorker(env["settings"], env["client"], env["queue"], sqs=env["sqs"], s3=env["s3"], **kwargs)


def test_worker_ingests_objects_announced_by_bucket_notifications(queue_env):
    env = queue_env
    arn = env["sqs"].get_queue_attributes(QueueUrl=env["queue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env["s3"].put_bucket_notification_configuration(
        Bucket=env["bucket"],
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    env["s3"].put_object(
        Bucket=env["bucket"], Key="section/9/video/2026-02-01T10-00-00.000000Z_x y.jsonl", Body=body(6)
    )
    env["s3"].put_object(
        Bucket=env["bucket"], Key="section/9/video/2026-02-01T10-00-01.000000Z_z.jsonl", Body=body(4, 100)
    )
    totals = worker(env).run_forever(threading.Event(), until_empty=True)
    # moto delivers an s3:TestEvent when the configuration is set, then one ObjectCreated per object.
    assert totals.received == 3 and totals.failed == 0 and totals.deleted == 3
    assert totals.rows == 10 and rows(env) == 10
    assert queue_counts(env) == (0, 0)
    files = (
        env["client"]
        .query(
            f"SELECT DISTINCT source_file FROM {deduplicated_events(env['settings'].clickhouse_database)} ORDER BY 1",
            settings=READ_SETTINGS,
        )
        .result_rows
    )
    assert files[0][0].endswith("_x y.jsonl")  # URL-encoded key in the notification, decoded


def test_failed_messages_stay_for_redelivery(queue_env):
    env = queue_env
    env["sqs"].set_queue_attributes(QueueUrl=env["queue"], Attributes={"VisibilityTimeout": "3"})
    env["s3"].put_object(Bucket=env["bucket"], Key="ok.jsonl", Body=body(2))
    for key in ("ok.jsonl", "missing.jsonl"):
        env["sqs"].send_message(QueueUrl=env["queue"], MessageBody=json.dumps({"bucket": env["bucket"], "key": key}))
    totals = worker(env, wait_seconds=0).run_forever(threading.Event(), until_empty=True)
    assert (totals.received, totals.succeeded, totals.failed, totals.deleted) == (2, 1, 1, 1)
    assert rows(env) == 2
    again = env["sqs"].receive_message(QueueUrl=env["queue"], WaitTimeSeconds=10, MessageSystemAttributeNames=["All"])[
        "Messages"
    ]
    assert len(again) == 1 and json.loads(again[0]["Body"])["key"] == "missing.jsonl"
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_max_messages_and_stop_event(queue_env):
    env = queue_env
    env["s3"].put_object(Bucket=env["bucket"], Key="k.jsonl", Body=body(1))
    for _ in range(3):
        env["sqs"].send_message(
            QueueUrl=env["queue"], MessageBody=json.dumps({"bucket": env["bucket"], "key": "k.jsonl"})
        )
    totals = worker(env).run_forever(threading.Event(), max_messages=2)
    assert totals.received == 2 and totals.deleted == 2
    assert queue_counts(env) == (1, 0)
    stopped = threading.Event()
    stopped.set()
    assert worker(env).run_forever(stopped).receives == 0  # a set stop event: no receive at all


def test_run_once_returns_empty_stats_on_empty_queue(queue_env):
    stats = worker(queue_env, wait_seconds=0).run_once()
    assert (stats.receives, stats.received, stats.deleted) == (1, 0, 0)


def test_invalid_worker_arguments(queue_env):
    with pytest.raises(ValueError, match="batch_size must be 1..10"):
        worker(queue_env, batch_size=11)
    with pytest.raises(ValueError, match="wait_seconds must be 0..20"):
        worker(queue_env, wait_seconds=21)


def test_cli_worker_stops_cleanly_on_sigterm(queue_env, tmp_path, moto_server):
    """`etl run` in its own process (own embedded engine): ingests a message, then SIGTERM -> exit 0."""
    env = queue_env
    env["s3"].put_object(Bucket=env["bucket"], Key="cli.jsonl", Body=body(3))
    env["sqs"].send_message(
        QueueUrl=env["queue"], MessageBody=json.dumps({"bucket": env["bucket"], "key": "cli.jsonl"})
    )
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    child_env.update(
        XOLAP_CONFIG_FILE="/nonexistent/xolap.toml",
        XOLAP_DATA_DIR=str(tmp_path / "var"),
        XOLAP_S3_ENDPOINT_URL=moto_server,
        XOLAP_SQS_ENDPOINT_URL=moto_server,
        XOLAP_AWS_ACCESS_KEY_ID="testing",
        XOLAP_AWS_SECRET_ACCESS_KEY="testing",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from xolap.ingest.etl.cli import etl_app; etl_app()",
            "run",
            "--queue",
            env["queue"],
            "--wait",
            "1",
        ],
        env=child_env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any('"stage":"invocation_end"' in line and '"ok":1' in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=5)
    text = "".join(lines)
    assert "SIGTERM: stopping after the current batch" in text
    assert '"stage":"worker_stop"' in text and "received 1, ingested 1 (deleted 1)" in text
    assert queue_counts(env) == (0, 0)


def test_missing_queue_is_an_error_not_a_retry_loop(queue_env):
    from xolap.ingest.sqs_worker import QueueUnavailable

    env = queue_env
    gone = env["queue"].rsplit("/", 1)[0] + "/no-such-queue"
    lost = SqsEtlWorker(env["settings"], env["client"], gone, sqs=env["sqs"], s3=env["s3"], wait_seconds=0)
    with pytest.raises(QueueUnavailable, match="no-such-queue: .*does not exist"):
        lost.run_forever(threading.Event())


def test_cli_run_needs_a_queue():
    from typer.testing import CliRunner

    from xolap.config import get_settings
    from xolap.ingest.etl.cli import etl_app

    get_settings.cache_clear()
    result = CliRunner().invoke(etl_app, ["run"])
    assert result.exit_code == 2 and "no queue: pass --queue URL or set XOLAP_ETL_QUEUE_URL" in result.output


def test_serve_starter_runs_the_worker_until_stopped(queue_env):
    from xolap.ingest.sqs_worker import start_sqs_etl_worker
    from xolap.runtime import Runtime

    env = queue_env
    assert start_sqs_etl_worker(Runtime(env["settings"]), threading.Event()) is None  # no queue configured
    runtime = Runtime(env["settings"].model_copy(update={"etl_queue_url": env["queue"]}))
    env["s3"].put_object(Bucket=env["bucket"], Key="served.jsonl", Body=body(3))
    env["sqs"].send_message(
        QueueUrl=env["queue"], MessageBody=json.dumps({"bucket": env["bucket"], "key": "served.jsonl"})
    )
    stop = threading.Event()
    thread = start_sqs_etl_worker(runtime, stop, wait_seconds=1)
    try:
        deadline = time.monotonic() + 30
        while rows(env) < 3:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive() and rows(env) == 3
