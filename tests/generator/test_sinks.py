"""Sinks: one JSONL file (plain/gz, byte-identical reruns), a folder split by section/category/day, S3 bundles on moto."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from xolap.generator import generate
from xolap.generator.sinks import JsonlFileSink, JsonlFolderSink, S3BundleSink, write_statements
from xolap.generator.statements import CATEGORIES
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.s3_bundles import BUNDLE_KEY_RE, S3BundleUploader, parse_bundle_key

OPTIONS = {"projects": 2, "sections_per_project": 2, "learners_per_section": 6}
SECTION_ID = "http://oli.cmu.edu/extensions/section_id"


def expected_lines(seed: int, events: int) -> list[bytes]:
    return [orjson.dumps(item.statement) for item in generate(seed, events, **OPTIONS)]


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_single_file_holds_every_statement_and_reruns_are_byte_identical(tmp_path: Path, name: str):
    path = tmp_path / name
    with JsonlFileSink(path) as sink:
        assert write_statements(generate(4, 3_000, **OPTIONS), sink) == 3_000
    first = path.read_bytes()
    with JsonlFileSink(path) as sink:  # overwrites
        write_statements(generate(4, 3_000, **OPTIONS), sink)
    assert path.read_bytes() == first
    text = gzip.decompress(first) if name.endswith(".gz") else first
    assert text.splitlines() == expected_lines(4, 3_000)
    assert text.endswith(b"\n")


@pytest.mark.parametrize("compress", [False, True])
def test_folder_is_split_by_section_category_and_utc_day(tmp_path: Path, compress: bool):
    with JsonlFolderSink(tmp_path, compress=compress) as sink:
        write_statements(generate(4, 3_000, **OPTIONS), sink)
    files = sorted((tmp_path / "section").rglob("*.jsonl.gz" if compress else "*.jsonl"))
    assert files and sorted(sink.files_written) == files
    total = 0
    for path in files:
        section_id, category, day = path.parts[-3], path.parts[-2], path.name.split(".")[0]
        assert category in CATEGORIES
        data = path.read_bytes()
        for line in (gzip.decompress(data) if compress else data).splitlines():
            statement = orjson.loads(line)
            assert str(statement["context"]["extensions"][SECTION_ID]) == section_id
            assert statement["timestamp"][:10] == day
            total += 1
    assert total == 3_000
    # a rerun replaces (never appends to) the files
    with JsonlFolderSink(tmp_path, compress=compress) as sink:
        write_statements(generate(4, 3_000, **OPTIONS), sink)
    again = 0
    for path in files:
        data = path.read_bytes()
        again += len((gzip.decompress(data) if compress else data).splitlines())
    assert again == 3_000


def test_s3_bundles_follow_the_torus_key_layout(aws_settings):
    s3 = aws_client(aws_settings, "s3")
    s3.create_bucket(Bucket="gen-bundles")
    keys_by_run = []
    for prefix in ("run-a", "run-b"):
        uploader = S3BundleUploader(s3, "gen-bundles", prefix)
        with S3BundleSink(uploader, seed=4, bundle_size=150) as sink:
            write_statements(generate(4, 2_000, **OPTIONS), sink)
        listed = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="gen-bundles", Prefix=prefix + "/")
            for o in page.get("Contents", [])
        ]
        assert sorted(listed) == sorted(sink.keys)
        lines = 0
        for key in listed:
            match = BUNDLE_KEY_RE.match(key)
            assert match, key
            parsed = parse_bundle_key(key)
            assert parsed.prefix == prefix + "/" and parsed.partition == "section" and parsed.category in CATEGORIES
            body = s3.get_object(Bucket="gen-bundles", Key=key)["Body"].read().splitlines()
            assert 1 <= len(body) <= 150
            stamps = []
            for line in body:
                statement = orjson.loads(line)
                assert str(statement["context"]["extensions"][SECTION_ID]) == parsed.partition_id
                stamps.append(datetime.strptime(statement["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))
            assert parsed.at == max(stamps), "a bundle's key time is its last statement's time"
            lines += len(body)
        assert lines == 2_000
        keys_by_run.append(sorted(key.split("/", 1)[1] for key in listed))
    assert keys_by_run[0] == keys_by_run[1], "keys are deterministic"


def test_s3_upload_failure_is_reported(aws_settings):
    s3 = aws_client(aws_settings, "s3", max_attempts=1)
    uploader = S3BundleUploader(s3, "no-such-bucket-for-generator")
    uploader.retry_delay_seconds = 0
    with pytest.raises(Exception, match="no-such-bucket-for-generator"):
        with S3BundleSink(uploader, seed=1, bundle_size=100) as sink:
            write_statements(generate(1, 300, **OPTIONS), sink)
