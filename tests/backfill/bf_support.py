"""Backfill test helpers: synthetic statements at Torus bundle keys, inventory manifests, event counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

OLI = "http://oli.cmu.edu/extensions/"


def statement(n: int, section: int = 1) -> bytes:
    """One valid page-viewed statement; n makes it unique (so its event_hash is unique)."""
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return (
        b'{"id":"%d","actor":{"account":{"name":"user-%d","homePage":"https://example.edu"}},'
        b'"verb":{"id":"http://id.tincanapi.com/verb/viewed"},'
        b'"object":{"id":"https://example.edu/page/%d","definition":{"type":"http://oli.cmu.edu/extensions/types/page"}},'
        b'"context":{"extensions":{"http://oli.cmu.edu/extensions/section_id":%d,"http://oli.cmu.edu/extensions/page_id":%d}},'
        b'"timestamp":"%s"}' % (n, n % 50, n % 20, section, n % 20, at.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode())
    )


def bundle_key(prefix: str, index: int, day: int = 1) -> str:
    at = datetime(2026, 1, day, 9, 0, 0, tzinfo=UTC) + timedelta(minutes=index)
    return f"{prefix}section/1/page_viewed/{at.strftime('%Y-%m-%dT%H-%M-%S.%fZ')}_b{index:05d}.jsonl"


def upload_bundles(s3, bucket: str, prefix: str, files: int, lines: int, *, start: int = 0, day: int = 1) -> list[str]:
    """`files` bundles of `lines` statements each; returns their keys. Statement numbers start at `start`."""
    keys = []
    for f in range(files):
        body = b"\n".join(statement(start + f * lines + i) for i in range(lines)) + b"\n"
        key = bundle_key(prefix, f, day)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    return keys


def count_events(runtime) -> int:
    db = runtime.settings.clickhouse_database
    return runtime.clickhouse().query(f"SELECT count() FROM `{db}`.raw_events FINAL").result_rows[0][0]


def raw_rows(runtime) -> int:
    db = runtime.settings.clickhouse_database
    return runtime.clickhouse().query(f"SELECT count() FROM `{db}`.raw_events").result_rows[0][0]


def write_csv_manifest(
    s3, bucket: str, inventory_files: list[list[tuple[str, str]]], *, prefix: str = "inventory/"
) -> str:
    """An AWS-style CSV inventory (gzip, URL-encoded keys) with one data file per list; returns the manifest URL."""
    import gzip
    import hashlib
    from urllib.parse import quote

    files = []
    for i, rows in enumerate(inventory_files):
        text = "".join(f'"{b}","{quote(k)}","10","2026-01-01T00:00:00.000Z","etag"\n' for b, k in rows)
        body = gzip.compress(text.encode())
        key = f"{prefix}data/part-{i}.csv.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag",
        "files": files,
    }
    s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/{prefix}manifest.json"


def write_parquet_manifest(
    s3,
    bucket: str,
    inventory_files: list[list[tuple[str, str]]],
    *,
    prefix: str = "inventory-pq/",
    file_format: str = "Parquet",
) -> str:
    import hashlib
    import io

    import pyarrow as pa

    files = []
    for i, rows in enumerate(inventory_files):
        table = pa.table({"bucket": [b for b, _ in rows], "key": [k for _, k in rows], "size": [10] * len(rows)})
        sink = io.BytesIO()
        if file_format == "Parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, sink)
        else:
            import pyarrow.orc as orc

            orc.write_table(table, sink)
        body = sink.getvalue()
        key = f"{prefix}data/part-{i}.{file_format.lower()}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "fileFormat": file_format,
        "fileSchema": "message s3.inventory { required binary bucket (STRING); required binary key (STRING); }",
        "files": files,
    }
    s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/{prefix}manifest.json"


def local_cli(settings, monkeypatch) -> None:
    """The CLI in local mode on these settings' stores (no server holds the data dir); get_settings re-read."""
    from xolap.config import get_settings

    for name, value in {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(f"XOLAP_{name}", value)
    get_settings.cache_clear()
    monkeypatch.setattr("xolap.remote.running_server", lambda settings: None)
