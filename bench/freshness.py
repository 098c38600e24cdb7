"""bench/freshness: ETL freshness, from an S3 put to the event counted in a dashboard answer; p50/p95 over N puts.

The production ETL path, run locally: a moto server on 127.0.0.1 (S3 and SQS; the bucket sends its ObjectCreated
notifications to the queue, as Torus's bucket does), the local ETL worker in a thread with its own chDB client
(xolap.ingest.sqs_worker.SqsEtlWorker, as `xolap serve` runs it when XOLAP_ETL_QUEUE_URL is set, with serve's
long-poll wait), and a dashboard reader asking the section's page-engagement category JSON through the process's
result cache (xolap.analytics.result_cache.cached_json, the path of GET …/categories/engagement), every --poll-ms
until the new view is counted. Only the worker's data-version bump can make a cached answer show it.

Each put is one Torus-shaped bundle of one page view. Goal (issue 14 item 7): p95 <= 5 s. Also printed: the CPU the
process used while idle (worker long-polling an empty queue, no reader) over --idle-seconds.

    python bench/freshness.py [--puts 20] [--poll-ms 50] [--wait-seconds 10] [--idle-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("XOLAP_CONFIG_FILE", "/nonexistent/xolap.toml")

import orjson  # noqa: E402

from verdicts import goal_row, print_verdicts  # noqa: E402  (bench/, the script's own folder)
from xolap.analytics.categories import run_category  # noqa: E402
from xolap.analytics.result_cache import cached_json  # noqa: E402
from xolap.analytics.result_formats import json_value  # noqa: E402
from xolap.clickhouse.client import close_thread_client, connect, thread_client  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import load_settings  # noqa: E402
from xolap.ingest.aws_clients import aws_client  # noqa: E402
from xolap.ingest.sqs_worker import SqsEtlWorker  # noqa: E402

DB = "bench_freshness"
BUCKET = "bench-freshness"
SECTION = 4242
GOAL_P95_S = 5.0
OLI = "http://oli.cmu.edu/extensions/"


def goal_verdicts(latencies: list[float]) -> list[dict]:
    """Issue 14's freshness goal in this run: p95 seconds from S3 put to visible in a dashboard query (no baseline:
    the goal is a bound)."""
    return [
        goal_row(
            "freshness",
            f"ETL put -> visible in a dashboard query p95 <= {GOAL_P95_S:g} s",
            round(percentile(latencies, 0.95), 3) if latencies else None,
            unit="s",
            at_most=GOAL_P95_S,
        )
    ]


def page_view(n: int) -> bytes:
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return orjson.dumps(
        {
            "id": f"fresh-{n}",
            "actor": {"account": {"homePage": "https://torus.example.edu", "name": f"learner-{n}"}},
            "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
            "object": {"id": "https://torus.example.edu/page/7", "definition": {"type": OLI + "types/page"}},
            "context": {"extensions": {OLI + "section_id": SECTION, OLI + "project_id": 1, OLI + "page_id": 7}},
            "timestamp": when,
        }
    )


def views(settings) -> int:
    """Page views the section's engagement answer counts, asked through the result cache as the API asks."""
    client = thread_client(settings)

    def produce():
        result = run_category(client, settings, "engagement", scope="section", scope_id=SECTION)
        return json_value(result.__dict__)

    body, _hit = cached_json(settings, "section", SECTION, ("category", "engagement", None, None), produce)
    rows = orjson.loads(body).get("rows") or []
    return max((int(row.get("views") or 0) for row in rows), default=0)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=20)
    parser.add_argument("--poll-ms", type=int, default=50, help="How often the reader asks the dashboard answer.")
    parser.add_argument("--wait-seconds", type=int, default=10, help="The worker's SQS long-poll wait (serve's).")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="Give up on one put after this many seconds.")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    from support import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("xolap.etl").setLevel(logging.WARNING)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    stop = threading.Event()
    worker_thread = None
    try:
        with tempfile.TemporaryDirectory(prefix="xolap-bench-freshness-", ignore_cleanup_errors=True) as tmp:
            settings = load_settings(
                data_dir=Path(tmp),
                clickhouse_database=DB,
                s3_endpoint_url=f"http://127.0.0.1:{port}",
                sqs_endpoint_url=f"http://127.0.0.1:{port}",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            client = connect(settings)
            Migrator(client, RenderContext(DB)).up()
            s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
            s3.create_bucket(Bucket=BUCKET)
            queue_url = sqs.create_queue(QueueName="bench-freshness", Attributes={"VisibilityTimeout": "60"})[
                "QueueUrl"
            ]
            arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            s3.put_bucket_notification_configuration(
                Bucket=BUCKET,
                NotificationConfiguration={
                    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
                },
            )
            worker = SqsEtlWorker(settings, thread_client(settings), queue_url, wait_seconds=args.wait_seconds)
            worker_thread = threading.Thread(target=worker.run_forever, args=(stop,), name="etl", daemon=True)
            worker_thread.start()
            time.sleep(1.0)  # the worker's first receive (moto's s3:TestEvent) is not a put we measure
            idle_started, idle_cpu = time.perf_counter(), cpu_seconds()
            time.sleep(args.idle_seconds)
            idle_share = (cpu_seconds() - idle_cpu) / (time.perf_counter() - idle_started)

            latencies: list[float] = []
            seen = views(settings)
            for n in range(args.puts):
                key = f"xapi/section/{SECTION}/page_viewed/{datetime.now(UTC):%Y-%m-%dT%H-%M-%S.%fZ}_{n}.jsonl"
                put_at = time.perf_counter()
                s3.put_object(Bucket=BUCKET, Key=key, Body=page_view(n) + b"\n")
                while views(settings) <= seen:
                    if time.perf_counter() - put_at > args.timeout:
                        raise SystemExit(f"put {n}: not visible after {args.timeout:.0f} s")
                    time.sleep(args.poll_ms / 1000)
                latencies.append(time.perf_counter() - put_at)
                seen += 1
                print(f"put {n}: visible after {latencies[-1]:.2f} s", file=sys.stderr)
            p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
            verdict = "PASS" if p95 <= GOAL_P95_S else "MISS"
            print(
                f"\nputs {len(latencies)}  p50 {p50:.2f} s  p95 {p95:.2f} s  max {max(latencies):.2f} s  "
                f"(goal p95 <= {GOAL_P95_S} s: {verdict}); idle CPU {idle_share * 100:.1f}% of a core"
            )
            checked = goal_verdicts(latencies)
            print_verdicts(checked)
            print(
                json.dumps(
                    {
                        "bench": "freshness",
                        "puts": len(latencies),
                        "wait_seconds": args.wait_seconds,
                        "poll_ms": args.poll_ms,
                        "p50_s": round(p50, 3),
                        "p95_s": round(p95, 3),
                        "max_s": round(max(latencies), 3),
                        "goal_p95_s": GOAL_P95_S,
                        "verdict": verdict,
                        "idle_cpu_share": round(idle_share, 4),
                        "goal_verdicts": checked,
                    }
                )
            )
            stop_worker(stop, worker_thread, args.wait_seconds)
            client.close()  # chDB writes its system logs when its engine stops: before the folder goes, not at exit
            close_thread_client(settings)
    finally:
        stop_worker(stop, worker_thread, args.wait_seconds)
        moto.stop()


def stop_worker(stop: threading.Event, worker_thread: threading.Thread | None, wait_seconds: int) -> None:
    """Ask the ETL worker to stop and wait for it (it finishes its long poll first)."""
    stop.set()
    if worker_thread is not None:
        worker_thread.join(wait_seconds + 15)


if __name__ == "__main__":
    main()
