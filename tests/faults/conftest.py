"""Fault-injection fixtures: ports that refuse or never answer, a `xolap serve` subprocess, a private Postgres."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "backfill"))  # bf_support
sys.path.insert(0, str(Path(__file__).parent))  # faults_support


@pytest.fixture()
def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung S3 or proxy)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in accepted:
        conn.close()


@pytest.fixture()
def bf_runtime(runtime, moto_server):
    """A runtime on fresh databases whose S3 is the moto server (as in tests/backfill)."""
    from xolap.runtime import Runtime

    return Runtime(
        runtime.settings.model_copy(
            update={
                "s3_endpoint_url": moto_server,
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
            }
        )
    )


@pytest.fixture()
def s3(bf_runtime):
    from xolap.ingest.aws_clients import aws_client

    return aws_client(bf_runtime.settings, "s3")


@pytest.fixture()
def bucket(s3) -> str:
    import uuid

    name = f"faults-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name
