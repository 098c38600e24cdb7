"""bench/etl: the ETL handler's throughput against a local moto S3/SQS and embedded ClickHouse. Prints a table plus JSON.

    python bench/etl.py [--big-rows 100000] [--bundles 400] [--bundle-size 50] [--batch 50]

Scenarios: "big object" is one JSONL object of --big-rows statements in one message (bounded inserts of
XOLAP_ETL_MAX_ROWS_PER_INSERT rows); "bundles" is Torus's shape: --bundles objects of --bundle-size statements,
delivered --batch messages per invocation, as the recommended event-source mapping does. Time includes S3 reads
over HTTP from moto, mapping, Arrow inserts and per-message bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from timing import free_port  # noqa: E402  (bench/, the script's own folder)

os.environ.setdefault("XOLAP_CONFIG_FILE", "/nonexistent/xolap.toml")

import orjson  # noqa: E402

from xolap.clickhouse.client import connect  # noqa: E402
from xolap.clickhouse.events import READ_SETTINGS, deduplicated_events  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import load_settings  # noqa: E402
from xolap.ingest.aws_clients import aws_client  # noqa: E402
from xolap.ingest.etl.batching import EtlLimits, TimeBudget  # noqa: E402
from xolap.ingest.etl.handler import EtlProcessor  # noqa: E402

EXT = "http://oli.cmu.edu/extensions/"
DB = "bench_etl"


def statement(n: int) -> bytes:
    section = 1 + n % 37
    kind = n % 4
    context = {EXT + "section_id": section, EXT + "project_id": 1 + section % 5, EXT + "page_id": 1000 + n % 80,
               EXT + "page_attempt_guid": f"pg-{n // 10}", EXT + "page_attempt_number": 1}  # fmt: skip
    actor = {"account": {"homePage": "https://torus.example", "name": str(10_000 + n % 5000)}}
    stamp = f"2026-0{1 + n % 9}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{n % 1000:03d}Z"
    if kind == 0:
        body = {"verb": {"id": "http://id.tincanapi.com/verb/viewed"},
                "object": {"id": f"https://torus.example/page/{n % 80}", "definition": {"type": EXT + "types/page", "subType": "graded"}},
                "result": {"completion": True, "success": True}}  # fmt: skip
    elif kind == 1:
        body = {"verb": {"id": "https://w3id.org/xapi/video/verbs/paused"},
                "object": {"id": f"https://cdn.example/{n % 20}.mp4", "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"}},
                "result": {"extensions": {"https://w3id.org/xapi/video/extensions/time": n % 300,
                                          "https://w3id.org/xapi/video/extensions/progress": (n % 100) / 100,
                                          "https://w3id.org/xapi/video/extensions/played-segments": "0[.]12.5"}}}  # fmt: skip
    else:
        context.update({EXT + "activity_id": 500 + n % 40, EXT + "activity_attempt_guid": f"aa-{n}", EXT + "activity_attempt_number": 1,
                        EXT + "part_id": "1", EXT + "part_attempt_guid": f"pa-{n}", EXT + "part_attempt_number": 1 + n % 3,
                        EXT + "hints_requested": n % 3, EXT + "session_id": f"s-{n % 900}"})  # fmt: skip
        body = {"verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": f"https://torus.example/part_attempt/pa-{n}}}", "definition": {"type": "http://adlnet.gov/expapi/activities/question"}},
                "result": {"score": {"raw": n % 2, "min": 0, "max": 1, "scaled": n % 2}, "completion": True, "success": bool(n % 2),
                           "response": {"input": "choice-a"}, "extensions": {EXT + "feedback": "ok"}}}  # fmt: skip
    return orjson.dumps({"actor": actor, **body, "context": {"extensions": context}, "timestamp": stamp})


def record(bucket: str, key: str, size: int) -> dict:
    """An SQS record carrying an S3 ObjectCreated notification, as S3 sends it (size included, key URL-encoded)."""
    event = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"), "size": size}}}  # fmt: skip
    return {"messageId": str(uuid.uuid4()), "body": json.dumps({"Records": [event]})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-rows", type=int, default=100_000)
    parser.add_argument("--bundles", type=int, default=400)
    parser.add_argument("--bundle-size", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-etl-", ignore_cleanup_errors=True) as tmp:
        settings = load_settings(data_dir=Path(tmp), clickhouse_database=DB, s3_endpoint_url=endpoint, sqs_endpoint_url=endpoint,
                                 aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
        client = connect(settings)
        Migrator(client, RenderContext(DB)).up()
        s3 = aws_client(settings, "s3")
        bucket = "bench-etl"
        s3.create_bucket(Bucket=bucket)
        processor = EtlProcessor(settings, client, s3=s3, limits=EtlLimits.from_env())

        big = b"\n".join(statement(n) for n in range(args.big_rows)) + b"\n"
        s3.put_object(Bucket=bucket, Key="big.jsonl", Body=big)
        started = time.perf_counter()
        report = processor.process_records([record(bucket, "big.jsonl", len(big))], TimeBudget.unlimited())
        elapsed = time.perf_counter() - started
        results.append({"scenario": "big object", "messages": 1, "rows": report.rows, "inserts": report.inserts,
                        "bytes": len(big), "seconds": round(elapsed, 3), "rows_per_s": round(report.rows / elapsed)})  # fmt: skip

        keys = []
        offset = args.big_rows
        for i in range(args.bundles):
            key = f"section/{1 + i % 37}/mixed/2026-01-01T00-00-{i % 60:02d}.000000Z_{i}.jsonl"
            data = b"\n".join(statement(offset + j) for j in range(args.bundle_size)) + b"\n"
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            offset += args.bundle_size
            keys.append((key, len(data)))
        rows = inserts = 0
        started = time.perf_counter()
        for start in range(0, len(keys), args.batch):
            report = processor.process_records(
                [record(bucket, k, n) for k, n in keys[start : start + args.batch]], TimeBudget.unlimited()
            )
            assert not report.failed, report.summary()
            rows += report.rows
            inserts += report.inserts
        elapsed = time.perf_counter() - started
        results.append({"scenario": f"bundles of {args.bundle_size}", "messages": len(keys), "rows": rows, "inserts": inserts,
                        "bytes": None, "seconds": round(elapsed, 3), "rows_per_s": round(rows / elapsed),
                        "ms_per_message": round(elapsed * 1000 / len(keys), 2)})  # fmt: skip
        total = client.query(f"SELECT count() FROM {deduplicated_events(DB)}", settings=READ_SETTINGS).result_rows[0][0]
        assert total == args.big_rows + args.bundles * args.bundle_size, total
    server.stop()

    print(f"{'scenario':<16} {'messages':>8} {'rows':>8} {'inserts':>7} {'seconds':>8} {'rows/s':>8}")
    for r in results:
        print(
            f"{r['scenario']:<16} {r['messages']:>8} {r['rows']:>8} {r['inserts']:>7} {r['seconds']:>8} {r['rows_per_s']:>8}"
        )
    print(json.dumps({"bench": "etl", "results": results}))


if __name__ == "__main__":
    main()
