"""Object reads for the ETL against moto: missing/oversized objects are preparation failures, read-ahead starts the
next small objects early, large or unknown-size objects wait for their turn."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from xolap.ingest.aws_clients import aws_client
from xolap.ingest.etl.notifications import S3ObjectRef
from xolap.ingest.etl.objects import READ_AHEAD_MAX_OBJECT_BYTES, ObjectReads, PreparationFailure, read_object


class RecordingS3:
    """The real boto3 client, recording which keys were requested (thread-safe)."""

    def __init__(self, s3):
        self.s3 = s3
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def get_object(self, **kwargs):
        with self.lock:
            self.keys.append(kwargs["Key"])
        return self.s3.get_object(**kwargs)


@pytest.fixture()
def bucket(aws_settings):
    s3 = aws_client(aws_settings, "s3")
    name = f"objs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    for i in range(6):
        s3.put_object(Bucket=name, Key=f"k{i}.jsonl", Body=f'{{"n": {i}}}\n'.encode())
    return s3, name


def wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_read_object_returns_content_and_etag(bucket):
    s3, name = bucket
    data, etag = read_object(s3, S3ObjectRef(name, "k1.jsonl"), max_bytes=1000)
    assert data == b'{"n": 1}\n' and etag and '"' not in etag


def test_missing_and_oversized_objects_are_preparation_failures(bucket):
    s3, name = bucket
    with pytest.raises(PreparationFailure, match=r"s3://.*/nope.jsonl: object not found \(NoSuchKey\)"):
        read_object(s3, S3ObjectRef(name, "nope.jsonl"), max_bytes=1000)
    with pytest.raises(PreparationFailure, match="NoSuchBucket"):
        read_object(s3, S3ObjectRef("no-such-bucket-xyz", "k.jsonl"), max_bytes=1000)
    with pytest.raises(PreparationFailure, match="9 bytes is over XOLAP_ETL_MAX_OBJECT_BYTES=5"):
        read_object(s3, S3ObjectRef(name, "k1.jsonl"), max_bytes=5)  # size learnt from the response
    with pytest.raises(PreparationFailure, match="100 bytes is over"):
        read_object(s3, S3ObjectRef(name, "k1.jsonl", size=100), max_bytes=50)  # size from the notification


def test_read_ahead_starts_next_small_objects(bucket):
    s3, name = bucket
    recording = RecordingS3(s3)
    refs = [S3ObjectRef(name, f"k{i}.jsonl", size=9) for i in range(6)]
    with ObjectReads(recording, refs, max_bytes=1000, depth=3) as reads:
        assert reads.get(0)[0] == b'{"n": 0}\n'
        wait_for(lambda: len(recording.keys) >= 3)
        assert set(recording.keys) == {"k0.jsonl", "k1.jsonl", "k2.jsonl"}
        assert [reads.get(i)[0] for i in (1, 2, 3)] == [f'{{"n": {i}}}\n'.encode() for i in (1, 2, 3)]
    assert sorted(recording.keys) == sorted(set(recording.keys))  # each object read once


def test_large_unknown_and_depth_one_reads_wait_for_their_turn(bucket):
    s3, name = bucket
    recording = RecordingS3(s3)
    refs = [
        S3ObjectRef(name, "k0.jsonl", size=9),
        S3ObjectRef(name, "k1.jsonl"),  # size unknown ({bucket,key} message)
        S3ObjectRef(name, "k2.jsonl", size=READ_AHEAD_MAX_OBJECT_BYTES + 1),
    ]
    with ObjectReads(recording, refs, max_bytes=2**40, depth=4) as reads:
        reads.get(0)
        time.sleep(0.2)
        assert recording.keys == ["k0.jsonl"]
    sequential = RecordingS3(s3)
    with ObjectReads(
        sequential, [S3ObjectRef(name, f"k{i}.jsonl", size=9) for i in range(3)], max_bytes=1000, depth=1
    ) as reads:
        reads.get(0)
        time.sleep(0.2)
        assert sequential.keys == ["k0.jsonl"]


def test_prefetched_failure_surfaces_on_get(bucket):
    s3, name = bucket
    refs = [S3ObjectRef(name, "k0.jsonl", size=9), S3ObjectRef(name, "gone.jsonl", size=9)]
    with ObjectReads(s3, refs, max_bytes=1000, depth=2) as reads:
        reads.get(0)
        with pytest.raises(PreparationFailure, match="gone.jsonl: object not found"):
            reads.get(1)
