"""S3 Inventory: read manifest.json and the (bucket, key) rows of one inventory data file (CSV, Parquet or ORC).

Inventory files are read with boto3 + pyarrow rather than ClickHouse s3(): they are small key lists that must be
filtered and chunked in Python anyway, pyarrow reads all three formats by the column names the manifest's
fileSchema gives, the MD5checksum can be verified on the bytes, and a missing manifest or file is reported as
such even when ClickHouse itself is down (the two failures stay distinguishable).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from xolap.backfill.s3paths import parse_s3_url

FILE_FORMATS = ("CSV", "Parquet", "ORC")


class InventoryError(Exception):
    """The manifest or an inventory file is missing or malformed; the message names the object and the problem."""


@dataclass(frozen=True)
class InventoryFile:
    key: str
    size: int | None
    md5: str | None


@dataclass(frozen=True)
class Manifest:
    bucket: str  # where manifest.json and the data files live (destinationBucket)
    key: str
    source_bucket: str
    destination_bucket: str
    file_format: str
    file_schema: str
    files: list[InventoryFile] = field(default_factory=list)


def _get(s3: Any, bucket: str, key: str, what: str) -> bytes:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore ClientError / EndpointConnectionError
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise InventoryError(f"{what} s3://{bucket}/{key} does not exist ({code})") from exc
        raise InventoryError(f"cannot read {what} s3://{bucket}/{key}: {exc}") from exc


def _bucket_from_arn(value: str) -> str:
    return value.rsplit(":", 1)[-1] if value.startswith("arn:") else value


def read_manifest(s3: Any, manifest_url: str) -> Manifest:
    """Fetch and validate manifest.json at s3://bucket/key."""
    location = parse_s3_url(manifest_url, "manifest_url")
    raw = _get(s3, location.bucket, location.key, "manifest")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InventoryError(f"manifest s3://{location.bucket}/{location.key} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InventoryError(f"manifest s3://{location.bucket}/{location.key}: expected a JSON object")
    missing = [name for name in ("sourceBucket", "fileFormat", "files") if name not in doc]
    if missing:
        raise InventoryError(f"manifest s3://{location.bucket}/{location.key}: missing field(s) {', '.join(missing)}")
    file_format = next((f for f in FILE_FORMATS if f.lower() == str(doc["fileFormat"]).lower()), None)
    if file_format is None:
        raise InventoryError(f"manifest fileFormat {doc['fileFormat']!r} is not supported (CSV, Parquet or ORC)")
    if file_format == "CSV" and not doc.get("fileSchema"):
        raise InventoryError("manifest: a CSV inventory needs fileSchema (the column names)")
    files = []
    for i, entry in enumerate(doc["files"] if isinstance(doc["files"], list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise InventoryError(f"manifest files[{i}]: expected an object with a string 'key'")
        files.append(InventoryFile(entry["key"], entry.get("size"), entry.get("MD5checksum")))
    destination = _bucket_from_arn(str(doc.get("destinationBucket") or location.bucket))
    return Manifest(
        location.bucket,
        location.key,
        _bucket_from_arn(str(doc["sourceBucket"])),
        destination,
        file_format,
        str(doc.get("fileSchema") or ""),
        files,
    )


def csv_columns(file_schema: str) -> list[str]:
    return [name.strip() for name in file_schema.split(",") if name.strip()]


def read_inventory_file(s3: Any, manifest: Manifest, file: InventoryFile) -> list[tuple[str, str]]:
    """(bucket, key) of every object listed in one inventory data file (CSV keys are URL-decoded)."""
    import pyarrow as pa

    bucket = manifest.bucket
    raw = _get(s3, bucket, file.key, "inventory file")
    if file.md5 and hashlib.md5(raw).hexdigest() != file.md5.lower().strip('"'):
        raise InventoryError(f"inventory file s3://{bucket}/{file.key}: MD5 differs from the manifest's MD5checksum")
    try:
        if manifest.file_format == "CSV":
            import pyarrow.csv as pacsv

            data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            names = csv_columns(manifest.file_schema)
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=names),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
            )
        elif manifest.file_format == "Parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(raw))
        else:
            import pyarrow.orc as orc

            table = orc.ORCFile(io.BytesIO(raw)).read()
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends
        raise InventoryError(
            f"inventory file s3://{bucket}/{file.key} cannot be read as {manifest.file_format}: {exc}"
        ) from None
    columns = {name.lower(): name for name in table.column_names}
    if "key" not in columns:
        raise InventoryError(
            f"inventory file s3://{bucket}/{file.key}: no 'key' column (columns: {table.column_names})"
        )
    keys = table.column(columns["key"]).to_pylist()
    buckets = (
        table.column(columns["bucket"]).to_pylist() if "bucket" in columns else [manifest.source_bucket] * len(keys)
    )
    decode = manifest.file_format == "CSV"
    out = []
    for b, k in zip(buckets, keys, strict=False):
        if not k or k.endswith("/"):
            continue  # folder placeholders hold no data
        out.append((b or manifest.source_bucket, unquote_plus(k) if decode else k))
    return out
