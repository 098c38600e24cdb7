"""bench/backfill: an S3 Inventory backfill (chunked INSERT … SELECT FROM s3('…{k1,k2,…}')) vs one raw
INSERT … SELECT FROM s3(glob) over the same objects, on a moto S3 server. Prints a table plus JSON and the ratio
(goal: inventory chunk 25 >= 0.9x raw rows/s).

    python bench/backfill.py [--files 100] [--lines 10000] [--chunk-sizes 5,25,100] [--with-rejected]

Objects are gzip'd JSONL bundles at Torus keys (<prefix>section/<id>/<category>/<UTC time>_<bundle>.jsonl.gz),
listed by a CSV inventory manifest (--inventory-files, default 1 = one batch; chunks never span batches). Both paths use the same mapping SQL
(xolap.xapi.sql via xolap.backfill.chunk_sql). The inventory path is xolap.backfill.runner.run_chunk called for
every planned chunk, exactly as the worker calls it (metrics from system.query_log per chunk included), without
Postgres bookkeeping. raw_events is truncated between passes. Each chunk reads its objects once into a staging
table (xolap.backfill.runner._insert_staged); --with-rejected also moves rejections and warnings from it, as the
worker does by default (no second read of S3).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from verdicts import goal_row, print_verdicts  # noqa: E402  (bench/, the script's own folder)
from xolap.backfill import chunk_sql, runner  # noqa: E402
from xolap.backfill.chunking import key_filter_reason, plan_chunks  # noqa: E402
from xolap.backfill.inventory import read_inventory_file, read_manifest  # noqa: E402
from xolap.backfill.s3paths import object_url  # noqa: E402
from xolap.clickhouse.client import close_thread_client, connect  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import load_settings  # noqa: E402
from xolap.ingest.aws_clients import aws_client  # noqa: E402

DB = "bench_backfill"
BUCKET = "bench-backfill"
PREFIX = "xapi/"
GOAL = 0.9  # issue 14 item 6: an inventory chunk of 25 objects at >= 0.9x one raw INSERT … SELECT FROM s3(glob)


def goal_verdicts(results: list[dict]) -> list[dict]:
    """Issue 14's backfill goal in this run: inventory chunk 25's rows/s against GOAL x one raw INSERT … SELECT FROM
    s3(glob) over the same objects (results[0], measured in the same run); "-" when chunk 25 was not run."""
    raw = results[0]["rows_per_s"] if results else None
    chunk25 = next((r["rows_per_s"] for r in results if r["path"] == "inventory, chunk 25"), None)
    return [
        goal_row(
            "backfill",
            f"inventory chunk 25 rows/s >= {GOAL}x one raw INSERT … SELECT FROM s3(glob)",
            chunk25 if raw else None,
            unit="rows/s",
            at_least=GOAL * raw if raw else 0.0,
            baseline=raw,
            baseline_name="raw",
        )
    ]


def statement_line(n: int) -> bytes:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return (
        b'{"id":"%d","actor":{"account":{"name":"user-%d","homePage":"https://example.edu"}},'
        b'"verb":{"id":"http://id.tincanapi.com/verb/viewed"},'
        b'"object":{"id":"https://example.edu/page/%d","definition":{"type":"http://oli.cmu.edu/extensions/types/page"}},'
        b'"context":{"extensions":{"http://oli.cmu.edu/extensions/section_id":%d,"http://oli.cmu.edu/extensions/page_id":%d}},'
        b'"timestamp":"%s"}'
        % (n, n % 5000, n % 300, 1 + n % 40, n % 300, at.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode())
    )


def upload(s3, files: int, lines: int) -> list[str]:
    keys = []
    for f in range(files):
        at = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(minutes=f)
        key = f"{PREFIX}section/{1 + f % 40}/page_viewed/{at.strftime('%Y-%m-%dT%H-%M-%S.%fZ')}_b{f:05d}.jsonl.gz"
        body = gzip.compress(b"\n".join(statement_line(f * lines + i) for i in range(lines)) + b"\n", compresslevel=1)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        keys.append(key)
    return keys


def write_manifest(s3, keys: list[str], parts: int = 4) -> str:
    import hashlib

    files = []
    size = -(-len(keys) // parts)
    for i in range(parts):
        rows = keys[i * size : (i + 1) * size]
        body = gzip.compress("".join(f'"{BUCKET}","{k}","1","2026-01-01T00:00:00.000Z","e"\n' for k in rows).encode())
        key = f"inventory/data/part-{i}.csv.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag",
        "files": files,
    }
    s3.put_object(Bucket=BUCKET, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{BUCKET}/inventory/manifest.json"


def cpu_seconds() -> float:
    """CPU time of this process (chDB's threads and the moto server's included): on a shared machine the wall
    clock also measures the neighbours."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def count(client) -> int:
    return client.query(f"SELECT count() FROM `{DB}`.raw_events FINAL").result_rows[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--chunk-sizes", default="5,25,100")
    parser.add_argument(
        "--inventory-files", type=int, default=1, help="Inventory data files (= batches) listing the objects."
    )
    parser.add_argument("--with-rejected", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="Passes per path (interleaved); the best one counts.")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support import free_port

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="xolap-bench-backfill-", ignore_cleanup_errors=True) as tmp:
            settings = load_settings(
                data_dir=Path(tmp),
                clickhouse_database=DB,
                s3_endpoint_url=f"http://127.0.0.1:{port}",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            client = connect(settings)
            Migrator(client, RenderContext(DB)).up()
            s3 = aws_client(settings, "s3")
            s3.create_bucket(Bucket=BUCKET)
            started = time.perf_counter()
            keys = upload(s3, args.files, args.lines)
            manifest_url = write_manifest(s3, keys, args.inventory_files)
            events = args.files * args.lines
            print(
                f"uploaded {args.files} objects, {events:,} events in {time.perf_counter() - started:.1f}s",
                file=sys.stderr,
            )

            manifest = read_manifest(s3, manifest_url)
            entries = []
            for file in manifest.files:
                entries.append(
                    [
                        e
                        for e in read_inventory_file(s3, manifest, file)
                        if key_filter_reason(e[1], prefix=PREFIX, date_from=None, date_to=None) is None
                    ]
                )
            results = []

            def measure(name: str, work) -> None:
                client.command(f"TRUNCATE TABLE `{DB}`.raw_events")
                t0, cpu0 = time.perf_counter(), cpu_seconds()
                queries = work()
                seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
                visible = count(client)
                if visible != events:
                    raise SystemExit(f"{name}: expected {events} events, found {visible}")
                best = next((r for r in results if r["path"] == name), None)
                if best is None:
                    best = {"path": name, "queries": queries, "seconds": seconds, "all_seconds": [], "all_cpu": []}
                    results.append(best)
                best["all_seconds"].append(round(seconds, 2))
                best["all_cpu"].append(round(cpu, 2))
                best["cpu_seconds"] = min(best["all_cpu"])
                best["seconds"] = round(min(best["all_seconds"]), 2)
                best["rows_per_s"] = round(events / best["seconds"])
                print(f"{name}: {seconds:.2f}s ({cpu:.2f}s CPU)", file=sys.stderr)

            def raw() -> int:
                url = object_url(settings, BUCKET, f"{PREFIX}**.jsonl.gz")
                client.command(
                    chunk_sql.insert_sql(
                        settings,
                        target_table=f"{DB}.raw_events",
                        url=url,
                        fmt="JSONAsString",
                        query_tag="bench-raw",
                        clickhouse_settings={},
                    )
                )
                return 1

            def inventory(chunk_size: int):
                def work() -> int:
                    n = 0
                    for batch_id, batch_entries in enumerate(entries, 1):
                        for chunk in plan_chunks(batch_entries, chunk_size):
                            runner.run_chunk(
                                settings,
                                run_id=1,
                                batch_id=batch_id,
                                chunk=chunk,
                                target_table=f"{DB}.raw_events",
                                fmt="JSONAsString",
                                ch_settings={},
                                record_rejected=args.with_rejected,
                            )
                            n += 1
                    return n

                return work

            # Passes are interleaved so a busy machine slows every path alike; each path's best pass counts.
            for _ in range(args.repeat):
                measure("raw INSERT … SELECT FROM s3(glob)", raw)
                for size in [int(s) for s in args.chunk_sizes.split(",")]:
                    measure(f"inventory, chunk {size}", inventory(size))
            # chDB writes its system logs when its engine stops: close every client before the folder goes
            client.close()
            close_thread_client(settings)
            raw_rate = results[0]["rows_per_s"]
            for r in results:
                r["ratio_vs_raw"] = round(r["rows_per_s"] / raw_rate, 3)
                r["cpu_ratio_vs_raw"] = round(results[0]["cpu_seconds"] / r["cpu_seconds"], 3)
            print(f"\n{'path':<36}{'queries':>8}{'seconds':>10}{'rows/s':>12}{'× raw':>8}{'CPU s':>8}{'× raw CPU':>11}")
            for r in results:
                print(
                    f"{r['path']:<36}{r['queries']:>8}{r['seconds']:>10.2f}{r['rows_per_s']:>12,}{r['ratio_vs_raw']:>8.2f}"
                    f"{r['cpu_seconds']:>8.2f}{r['cpu_ratio_vs_raw']:>11.2f}"
                )
            best = max(r["ratio_vs_raw"] for r in results[1:])
            chunk25 = next((r["ratio_vs_raw"] for r in results if r["path"] == "inventory, chunk 25"), None)
            verdict = "-" if chunk25 is None else ("PASS" if chunk25 >= GOAL else "MISS")
            print(f"goal: inventory chunk 25 >= {GOAL}x raw: {chunk25 if chunk25 is not None else '-'}  {verdict}")
            checked = goal_verdicts(results)
            print_verdicts(checked)
            print(
                json.dumps(
                    {
                        "bench": "backfill",
                        "files": args.files,
                        "events": events,
                        "with_rejected": args.with_rejected,
                        "results": results,
                        "best_inventory_ratio": best,
                        "chunk_25_ratio": chunk25,
                        "goal": GOAL,
                        "verdict": verdict,
                        "goal_verdicts": checked,
                    },
                    indent=2,
                )
            )
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
