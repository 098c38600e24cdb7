"""Shared fixtures: one embedded ClickHouse per test process, a fresh migrated database per test, a moto server."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never read a developer's xolap.toml or environment.
for _name in list(os.environ):
    if _name.startswith("XOLAP_"):
        del os.environ[_name]
os.environ["XOLAP_CONFIG_FILE"] = "/nonexistent/xolap.toml"

from xolap.clickhouse.client import connect  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import Settings, load_settings  # noqa: E402

_db_counter = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test process's data dir: chDB allows one engine (one path) per process."""
    return tmp_path_factory.mktemp("xolap-var")


@pytest.fixture(scope="session")
def base_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir)


@pytest.fixture(scope="session")
def ch_engine(base_settings: Settings):
    """The process-wide embedded ClickHouse client (its first connect starts the engine)."""
    return connect(base_settings)


@pytest.fixture()
def ch_db(base_settings: Settings, ch_engine) -> Iterator[tuple[object, Settings]]:
    """(client, settings) for a fresh, fully migrated ClickHouse database unique to this test."""
    name = f"xolap_t{os.getpid()}_{next(_db_counter)}"
    settings = base_settings.model_copy(update={"clickhouse_database": name})
    Migrator(ch_engine, RenderContext(name)).up()
    yield ch_engine, settings
    ch_engine.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3/SQS server on 127.0.0.1 (HTTP, so chDB's s3() can reach it); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture()
def aws_settings(base_settings: Settings, moto_server: str) -> Settings:
    return base_settings.model_copy(
        update={
            "s3_endpoint_url": moto_server,
            "sqs_endpoint_url": moto_server,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    )
