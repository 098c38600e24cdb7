"""The Lambda handler end to end against a moto server (S3 + SQS over HTTP) and the test ClickHouse database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import orjson
import pytest

from xolap.clickhouse.events import READ_SETTINGS, deduplicated_events, events_table
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.etl import handler as etl
from xolap.ingest.etl.batching import EtlLimits, TimeBudget
from xolap.ingest.etl.handler import EtlProcessor

EXT = "http://oli.cmu.edu/extensions/"


def page_viewed(n: int, section_id: int = 42) -> dict:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": f"user-{n % 7}"}, "objectType": "Agent"},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en-US": "viewed"}},
        "object": {
            "id": f"https://torus.example/page/{100 + n % 5}",
            "definition": {"type": EXT + "types/page", "subType": "graded", "name": {"en-US": f"Page {n % 5}"}},
            "objectType": "Activity",
        },
        "result": {"completion": True, "success": True},
        "context": {
            "extensions": {
                EXT + "section_id": section_id,
                EXT + "project_id": 7,
                EXT + "publication_id": 3,
                EXT + "page_id": 100 + n % 5,
                EXT + "page_attempt_guid": f"guid-{n}",
                EXT + "page_attempt_number": 1,
            }
        },
        "timestamp": at.isoformat().replace("+00:00", "Z"),
    }


def jsonl(statements: list[dict]) -> bytes:
    return b"".join(orjson.dumps(s) + b"\n" for s in statements)


def s3_event_body(bucket: str, key: str, etag: str | None = None) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-01-05T09:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "xolap",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 1, "eTag": etag or "0"},
        },
    }
    return json.dumps({"Records": [record]})


def sns_body(inner: str) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": inner,
        }
    )


def sqs_record(body: str, message_id: str | None = None) -> dict:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:xolap-etl",
        "awsRegion": "us-east-1",
    }


class FakeContext:
    """A Lambda context: only get_remaining_time_in_millis, driven by a function."""

    def __init__(self, remaining):
        self.remaining = remaining

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining())


class CountingS3:
    """Wraps the real boto3 S3 client to count object reads (drives the time budget in tests)."""

    def __init__(self, s3):
        self.s3 = s3
        self.reads = 0

    def get_object(self, **kwargs):
        self.reads += 1
        return self.s3.get_object(**kwargs)


@pytest.fixture()
def etl_env(ch_db, aws_settings):
    client, ch_settings = ch_db
    sqs = aws_client(aws_settings, "sqs")
    s3 = aws_client(aws_settings, "s3")
    suffix = uuid.uuid4().hex[:10]
    dlq_url = sqs.create_queue(QueueName=f"etl-dlq-{suffix}")["QueueUrl"]
    bucket = f"lrs-{suffix}"
    s3.create_bucket(Bucket=bucket)
    settings = aws_settings.model_copy(
        update={"clickhouse_database": ch_settings.clickhouse_database, "etl_dlq_url": dlq_url}
    )
    return {"client": client, "settings": settings, "s3": s3, "sqs": sqs, "bucket": bucket, "dlq": dlq_url}


def put(env, key: str, data: bytes) -> str:
    return env["s3"].put_object(Bucket=env["bucket"], Key=key, Body=data)["ETag"].strip('"')


def processor(env, **limits) -> EtlProcessor:
    return EtlProcessor(env["settings"], env["client"], s3=env["s3"], sqs=env["sqs"], limits=EtlLimits(**limits))


def count(env, final: bool = True, where: str = "1") -> int:
    db = env["settings"].clickhouse_database
    table = deduplicated_events(db) if final else events_table(db)
    return env["client"].query(f"SELECT count() FROM {table} WHERE {where}", settings=READ_SETTINGS).result_rows[0][0]


def dlq_messages(env) -> list[dict]:
    response = env["sqs"].receive_message(
        QueueUrl=env["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    )
    return response.get("Messages", [])


def test_handler_ingests_raw_sns_and_plain_notifications_with_encoded_keys(etl_env, monkeypatch, data_dir):
    env = etl_env
    keys = [
        "section/42/page_viewed/2026-01-05T09-00-00.000000Z_a b+c.jsonl",  # space and plus: URL-encoded in events
        "section/42/page_viewed/2026-01-05T09-01-00.000000Z_sns=1.jsonl",
        "section/43/page_viewed/2026-01-05T09-02-00.000000Z_plain.jsonl",
    ]
    etags = [put(env, keys[0], jsonl([page_viewed(i) for i in range(5)])),
             put(env, keys[1], jsonl([page_viewed(i) for i in range(5, 12)])),
             put(env, keys[2], jsonl([page_viewed(i, section_id=43) for i in range(12, 15)]))]  # fmt: skip
    assert "a+b%2Bc" in s3_event_body(env["bucket"], keys[0])
    records = [
        sqs_record(s3_event_body(env["bucket"], keys[0], etags[0])),
        sqs_record(sns_body(s3_event_body(env["bucket"], keys[1]))),
        sqs_record(json.dumps({"bucket": env["bucket"], "key": keys[2]})),
    ]
    # The real entry point, configured from XOLAP_* env as in Lambda.
    settings = env["settings"]
    for name, value in {
        "XOLAP_DATA_DIR": str(data_dir),
        "XOLAP_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "XOLAP_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "XOLAP_SQS_ENDPOINT_URL": settings.sqs_endpoint_url,
        "XOLAP_AWS_ACCESS_KEY_ID": "testing",
        "XOLAP_AWS_SECRET_ACCESS_KEY": "testing",
        "XOLAP_ETL_DLQ_URL": env["dlq"],
    }.items():
        monkeypatch.setenv(name, value)
    etl.reset_lambda_processor()
    try:
        result = etl.lambda_handler({"Records": records}, FakeContext(lambda: 60_000))
    finally:
        etl.reset_lambda_processor()
    assert result == {"batchItemFailures": []}
    assert count(env) == 15
    rows = (
        env["client"]
        .query(
            f"SELECT source_file, source_etag, min(source_line), max(source_line), count() FROM {events_table(settings.clickhouse_database)} "
            "GROUP BY source_file, source_etag ORDER BY source_file"
        )
        .result_rows
    )
    assert rows == sorted(
        [(f"s3://{env['bucket']}/{k}", e, 1, n, n) for k, e, n in zip(keys, etags, (5, 7, 3), strict=False)]
    )
    assert count(env, where="section_id = 43 AND event_type = 'page_viewed'") == 3
    assert dlq_messages(env) == []


def test_diagnostics_reports_runtime(etl_env, monkeypatch, data_dir):
    monkeypatch.setenv("XOLAP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XOLAP_CLICKHOUSE_DATABASE", etl_env["settings"].clickhouse_database)
    etl.reset_lambda_processor()
    try:
        info = etl.lambda_handler({"diagnostics": True}, FakeContext(lambda: 1234))
    finally:
        etl.reset_lambda_processor()
    assert info["clickhouse"]["reachable"] is True and info["clickhouse"]["version"]
    assert info["remaining_ms"] == 1234 and info["limits"]["max_rows_per_insert"] == 30_000
    assert (
        info["packages"]["pyarrow"] and info["config"]["clickhouse_database"] == etl_env["settings"].clickhouse_database
    )


def test_missing_object_fails_only_its_message_and_goes_to_dlq(etl_env):
    env = etl_env
    good_key = "section/42/page_viewed/good.jsonl"
    put(env, good_key, jsonl([page_viewed(i) for i in range(4)]))
    missing = sqs_record(s3_event_body(env["bucket"], "section/42/page_viewed/gone.jsonl"), "msg-missing")
    good = sqs_record(s3_event_body(env["bucket"], good_key), "msg-good")
    bad_body = sqs_record('{"hello": "world"}', "msg-bad-body")
    report = processor(env).process_records([missing, good, bad_body], TimeBudget.unlimited())
    assert report.batch_item_failures() == {
        "batchItemFailures": [{"itemIdentifier": "msg-missing"}, {"itemIdentifier": "msg-bad-body"}]
    }
    assert count(env) == 4
    copies = {m["MessageAttributes"]["OriginalMessageId"]["StringValue"]: m for m in dlq_messages(env)}
    assert set(copies) == {"msg-missing", "msg-bad-body"}
    gone = copies["msg-missing"]
    reason = gone["MessageAttributes"]["FailureReason"]["StringValue"]
    assert "gone.jsonl: object not found" in reason and len(reason) <= 256
    assert (
        gone["MessageAttributes"]["SourceObject"]["StringValue"]
        == f"s3://{env['bucket']}/section/42/page_viewed/gone.jsonl"
    )
    assert gone["Body"] == missing["body"]
    assert (
        "bad notification: not an S3 notification"
        in copies["msg-bad-body"]["MessageAttributes"]["FailureReason"]["StringValue"]
    )


def test_not_jsonl_object_is_a_preparation_failure(etl_env):
    env = etl_env
    put(env, "section/1/video/bin.jsonl", bytes(range(256)) * 8)
    put(env, "section/1/video/broken.jsonl.gz", b"\x1f\x8b\x08\x00" + b"\x00garbage" * 10)
    records = [
        sqs_record(s3_event_body(env["bucket"], k), k)
        for k in ("section/1/video/bin.jsonl", "section/1/video/broken.jsonl.gz")
    ]
    report = processor(env).process_records(records)
    assert report.failed == ["section/1/video/bin.jsonl", "section/1/video/broken.jsonl.gz"]
    reasons = [m["MessageAttributes"]["FailureReason"]["StringValue"] for m in dlq_messages(env)]
    assert len(reasons) == 2 and all("not JSONL" in r for r in reasons)
    assert count(env) == 0


def test_test_event_is_skipped_not_failed(etl_env):
    env = etl_env
    body = json.dumps(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-01-05T09:00:00Z", "Bucket": env["bucket"]}
    )
    report = processor(env).process_records([sqs_record(body, "test-event")])
    assert report.batch_item_failures() == {"batchItemFailures": []}
    assert report.ids("skipped") == ["test-event"] and dlq_messages(env) == []


def test_bad_lines_go_to_ingest_errors_and_good_lines_are_inserted(etl_env):
    env = etl_env
    good = [page_viewed(i) for i in range(3)]
    no_verb = page_viewed(9)
    del no_verb["verb"]
    data = (
        orjson.dumps(good[0])
        + b"\n{not json\n\n"
        + orjson.dumps(good[1])
        + b"\n"
        + orjson.dumps(no_verb)
        + b"\n[1,2]\n"
        + orjson.dumps(good[2])
        + b"\n"
    )
    key = "section/42/page_viewed/mixed.jsonl"
    put(env, key, data)
    report = processor(env).process_records([sqs_record(s3_event_body(env["bucket"], key), "mixed")])
    assert report.failed == [] and report.rows == 3 and report.rejected == 3
    assert count(env) == 3
    db = env["settings"].clickhouse_database
    errors = (
        env["client"]
        .query(
            f"SELECT source_file, source_line, reason, raw_line, ingest_path FROM `{db}`.ingest_errors ORDER BY source_line"
        )
        .result_rows
    )
    assert [(e[0], e[1]) for e in errors] == [(f"s3://{env['bucket']}/{key}", n) for n in (2, 4, 5)]
    assert errors[0][3] == "{not json" and "verb" in errors[1][2] and errors[2][3] == "[1,2]"
    assert {e[4] for e in errors} == {"etl"}
    lines = env["client"].query(f"SELECT source_line FROM {events_table(db)} ORDER BY source_line").result_rows
    assert [r[0] for r in lines] == [1, 3, 6]  # 1-based among non-empty lines


def test_redelivery_does_not_double_rows(etl_env):
    env = etl_env
    key = "section/42/page_viewed/redeliver.jsonl"
    put(env, key, jsonl([page_viewed(i) for i in range(25)]))
    record = sqs_record(s3_event_body(env["bucket"], key), "again")
    db = env["settings"].clickhouse_database
    # Let the single-node table honour insert_deduplication_token (a replicated table does by default).
    env["client"].command(f"ALTER TABLE {events_table(db)} MODIFY SETTING non_replicated_deduplication_window = 100")
    proc = processor(env, max_rows_per_insert=10)  # 3 inserts per delivery
    first = proc.process_records([record])
    second = proc.process_records([record])
    assert first.inserts == second.inserts == 3 and first.failed == second.failed == []
    assert count(env, final=False) == 25  # the token dropped the repeated blocks
    assert count(env) == 25


def test_redelivery_counts_once_without_token_dedup(etl_env):
    env = etl_env
    key = "section/42/page_viewed/redeliver2.jsonl"
    put(env, key, jsonl([page_viewed(i) for i in range(8)]))
    record = sqs_record(s3_event_body(env["bucket"], key))
    proc = processor(env)
    proc.process_records([record])
    proc.process_records([record])
    assert count(env) == 8  # ReplacingMergeTree on event_hash, read with FINAL


@pytest.mark.parametrize(
    ("drop_per_read", "expected_ok", "first_status"),
    [(50_000, 1, "ok"), (58_000, 0, "failed")],
    ids=["stop-taking-messages", "no-time-to-insert"],
)
def test_time_budget_stops_early_and_returns_untouched(etl_env, drop_per_read, expected_ok, first_status):
    env = etl_env
    keys = [f"section/42/page_viewed/budget-{i}.jsonl" for i in range(3)]
    for i, key in enumerate(keys):
        put(env, key, jsonl([page_viewed(10 * i + j) for j in range(2)]))
    s3 = CountingS3(env["s3"])
    # read_ahead=1: objects are read one at a time, so each read "costs" its time before the next decision
    proc = EtlProcessor(env["settings"], env["client"], s3=s3, sqs=env["sqs"], limits=EtlLimits(read_ahead=1))
    context = FakeContext(lambda: 60_000 - drop_per_read * s3.reads)  # each object read "costs" time
    records = [sqs_record(s3_event_body(env["bucket"], k), f"m{i}") for i, k in enumerate(keys)]
    report = proc.process_records(records, TimeBudget.from_context(context))
    statuses = [o.status for o in report.outcomes]
    assert statuses == [first_status, "untouched", "untouched"]
    assert report.batch_item_failures()["batchItemFailures"] == [
        {"itemIdentifier": m} for m in ("m0", "m1", "m2")[expected_ok:]
    ]
    assert s3.reads == 1 and count(env) == 2 * expected_ok


def test_message_cap_leaves_the_rest_untouched(etl_env):
    env = etl_env
    put(env, "a.jsonl", jsonl([page_viewed(1)]))
    records = [sqs_record(json.dumps({"bucket": env["bucket"], "key": "a.jsonl"}), f"m{i}") for i in range(3)]
    report = processor(env, max_messages=2).process_records(records)
    assert [o.status for o in report.outcomes] == ["ok", "ok", "untouched"] and report.failed == ["m2"]


def test_insert_failure_is_retried_not_sent_to_dlq(etl_env):
    env = etl_env
    put(env, "b.jsonl", jsonl([page_viewed(1)]))
    settings = env["settings"].model_copy(update={"clickhouse_database": "xolap_no_such_db"})
    proc = EtlProcessor(settings, env["client"], s3=env["s3"], sqs=env["sqs"], limits=EtlLimits())
    report = proc.process_records([sqs_record(json.dumps({"bucket": env["bucket"], "key": "b.jsonl"}), "ins")])
    assert report.failed == ["ins"] and report.outcomes[0].dlq is False
    assert dlq_messages(env) == []


def test_stage_logs_carry_counts_not_learners(etl_env, caplog):
    env = etl_env
    put(env, "c.jsonl", jsonl([page_viewed(i) for i in range(3)]))
    with caplog.at_level("INFO", logger="xolap.etl"):
        processor(env).process_records([sqs_record(json.dumps({"bucket": env["bucket"], "key": "c.jsonl"}))])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ETL stage ")]
    stages = [json.loads(line.removeprefix("ETL stage "))["stage"] for line in lines]
    assert stages[0] == "invocation_start" and stages[-1] == "invocation_end" and "insert" in stages
    end = json.loads(lines[-1].removeprefix("ETL stage "))
    assert end["rows"] == 3 and end["ok"] == 1
    assert not any("user-" in line for line in lines)


def test_small_objects_share_inserts_within_the_caps(etl_env):
    env = etl_env
    records = []
    for i in range(6):
        key = f"section/42/page_viewed/small-{i}.jsonl"
        put(env, key, jsonl([page_viewed(10 * i + j) for j in range(4)]))
        records.append(sqs_record(s3_event_body(env["bucket"], key), f"s{i}"))
    report = processor(env).process_records(records)
    assert report.inserts == 1 and report.rows == 24 and report.failed == []
    assert [o.rows for o in report.outcomes] == [4] * 6
    capped = processor(env, max_rows_per_insert=10).process_records(records)  # 4+4 | 4+4 | 4+4
    assert capped.inserts == 3 and count(env) == 24


def test_truncated_gzip_is_a_preparation_failure(etl_env):
    import gzip

    env = etl_env
    whole = gzip.compress(jsonl([page_viewed(i) for i in range(3000)]))
    put(env, "section/42/page_viewed/cut.jsonl.gz", whole[: len(whole) * 2 // 3])
    put(env, "section/42/page_viewed/fine.jsonl.gz", gzip.compress(jsonl([page_viewed(i) for i in range(5)])))
    records = [
        sqs_record(s3_event_body(env["bucket"], "section/42/page_viewed/fine.jsonl.gz"), "fine"),
        sqs_record(s3_event_body(env["bucket"], "section/42/page_viewed/cut.jsonl.gz"), "cut"),
    ]
    report = processor(env).process_records(records)
    assert report.failed == ["cut"] and report.outcomes[1].dlq
    assert "broken gzip stream" in report.outcomes[1].reason
    assert count(env, where="source_file LIKE '%fine.jsonl.gz'") == 5


def test_failed_message_holds_back_its_other_objects(etl_env):
    """A message naming a good and a missing object fails as a whole: the good object's rows wait for the retry."""
    env = etl_env
    put(env, "section/42/page_viewed/first.jsonl", jsonl([page_viewed(i) for i in range(3)]))
    put(env, "section/42/page_viewed/other.jsonl", jsonl([page_viewed(i) for i in range(3, 5)]))
    first = json.loads(s3_event_body(env["bucket"], "section/42/page_viewed/first.jsonl"))
    gone = json.loads(s3_event_body(env["bucket"], "section/42/page_viewed/gone.jsonl"))
    two = sqs_record(json.dumps({"Records": first["Records"] + gone["Records"]}), "two-objects")
    other = sqs_record(s3_event_body(env["bucket"], "section/42/page_viewed/other.jsonl"), "other")
    report = processor(env).process_records([two, other])
    assert report.failed == ["two-objects"] and report.outcomes[0].dlq and report.outcomes[0].rows == 0
    assert count(env) == 2 and report.inserts == 1


def test_running_out_of_time_between_inserts_fails_the_message(etl_env):
    env = etl_env
    put(env, "long.jsonl", jsonl([page_viewed(i) for i in range(25)]))
    put(env, "next.jsonl", jsonl([page_viewed(99)]))
    records = [sqs_record(json.dumps({"bucket": env["bucket"], "key": k}), k) for k in ("long.jsonl", "next.jsonl")]
    # Plenty of time until the first insert has landed, then too little for another one.
    context = FakeContext(lambda: 60_000 if count(env, final=False) == 0 else 1_000)
    report = processor(env, max_rows_per_insert=10).process_records(records, TimeBudget.from_context(context))
    assert [(o.status, o.reason) for o in report.outcomes] == [
        ("failed", "time budget exhausted before insert"),
        ("untouched", "time budget exhausted"),
    ]
    assert report.inserts == 1 and count(env, final=False) == 10  # the redelivery re-sends all 25; dedup keeps 25
