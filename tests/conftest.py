"""Shared fixtures: one embedded ClickHouse per test process, a fresh migrated database per test, a moto server."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never read a developer's xolap.toml or environment (XOLAP_UPDATE_SCREENSHOTS only tells the browser tests
# to write the README's screenshots, see tests/browser/conftest.py).
for _name in list(os.environ):
    if _name.startswith("XOLAP_") and _name != "XOLAP_UPDATE_SCREENSHOTS":
        del os.environ[_name]
os.environ["XOLAP_CONFIG_FILE"] = "/nonexistent/xolap.toml"
# Nor the size of a terminal: pytest-xdist's workers start with COLUMNS=80, and a rich Console created while it is set
# (at import) keeps that width for good, so CLI tables would wrap in some runs and not others.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# pgserver keeps its inter-process lock file under XDG_RUNTIME_DIR (start_embedded points it at the first data dir's
# `run` folder, which the fixtures delete while pgserver may still take the lock at exit and re-create it): one
# runtime folder for the whole test process instead, removed at exit after pgserver's own exit handlers (registered
# later, so run earlier).
_RUNTIME_DIR = tempfile.mkdtemp(prefix="xolap-test-run-")
os.environ["XDG_RUNTIME_DIR"] = _RUNTIME_DIR
atexit.register(shutil.rmtree, _RUNTIME_DIR, True)

from migrated_copy import copy_migrated_database  # noqa: E402
from support import free_port  # noqa: E402
from xolap.clickhouse.client import connect  # noqa: E402
from xolap.clickhouse.migrations import Migrator, RenderContext  # noqa: E402
from xolap.config import Settings, load_settings  # noqa: E402

_db_counter = itertools.count(1)
# Folders this session starts Postgres servers under; at the end none may still run there (pytest_sessionfinish).
_PG_ROOTS: list[Path] = []


def pytest_sessionfinish(session, exitstatus):
    """Fail the session when a Postgres started under one of its test data dirs is still running (an orphan from
    a killed server, a missed stop), after stopping it so nothing is left on the machine."""
    from support import postgres_processes_under, stop_orphan_postgres

    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = getattr(factory, "_basetemp", None)
    roots = [*_PG_ROOTS, *([basetemp] if basetemp else [])]
    left = postgres_processes_under(roots)
    if left:
        for root in roots:
            stop_orphan_postgres(root)
        listing = ", ".join(f"pid {pid} ({data})" for pid, data in left)
        session.config.get_terminal_writer().line(f"FAILED: Postgres left running by the tests: {listing}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: `pytest -n N` (make test)
def pytest_xdist_make_scheduler(config, log):
    """Workers get whole modules (a module's fixtures start once) and every browser test goes to one worker, beside
    the one `xolap serve` and chromium they share; the largest groups are handed out first."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndBrowserTests(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/browser" if module.startswith("tests/browser/") else module

    return ModulesAndBrowserTests(config, log)


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


@pytest.fixture(scope="session")
def ch_template(ch_engine) -> str:
    """A ClickHouse database migrated once per test process; ch_db copies it (tests/migrated_copy.py)."""
    name = f"xolap_template_p{os.getpid()}"
    Migrator(ch_engine, RenderContext(name)).up()
    return name


@pytest.fixture()
def ch_db(base_settings: Settings, ch_engine, ch_template: str) -> Iterator[tuple[object, Settings]]:
    """(client, settings) for a fresh, fully migrated ClickHouse database unique to this test."""
    name = f"xolap_t{os.getpid()}_{next(_db_counter)}"
    settings = base_settings.model_copy(update={"clickhouse_database": name})
    copy_migrated_database(ch_engine, ch_template, name)
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


@pytest.fixture(scope="session")
def pg_template(data_dir: Path) -> Iterator[str]:
    """An embedded Postgres for the test process with a fully migrated template database; yields its socket dir."""
    import psycopg

    from xolap.store import migrate as pg_migrate
    from xolap.store.postgres import start_embedded, stop_embedded

    # Not under pytest's tmp dir: pgserver's system user must traverse the path, and every pytest start resets
    # /tmp/pytest-of-<user> to mode 0700 (which would pull the data dir from under a concurrent session's server).
    pg_root = Path(tempfile.mkdtemp(prefix="xolap-test-pg-"))
    _PG_ROOTS.append(pg_root)
    url = start_embedded(pg_root / "postgres")
    host = url.split("host=", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        # Its data dir is deleted after the session: no flush to disk at each commit and database copy (a killed
        # postgres process still loses nothing; only a machine crash would, and nothing is kept past the session).
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("DROP DATABASE IF EXISTS xolap_template")
        conn.execute("CREATE DATABASE xolap_template")
    template_settings = load_settings(
        data_dir=data_dir, database_url=f"postgresql://postgres:@/xolap_template?host={host}"
    )
    pg_migrate.upgrade(template_settings)
    from xolap.store.db import engine

    engine(template_settings).dispose()
    yield host
    stop_embedded()
    shutil.rmtree(pg_root, ignore_errors=True)


@pytest.fixture()
def pg_settings(pg_template: str, base_settings: Settings) -> Iterator[Settings]:
    """Settings whose database_url is a fresh, fully migrated Postgres database unique to this test."""
    import psycopg

    from xolap.store.db import engine

    name = f"xolap_t{os.getpid()}_{next(_db_counter)}"
    admin = f"postgresql://postgres:@/postgres?host={pg_template}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE xolap_template")
    settings = base_settings.model_copy(update={"database_url": f"postgresql://postgres:@/{name}?host={pg_template}"})
    yield settings
    engine(settings).dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture()
def runtime(ch_db, pg_settings):
    """A Runtime on a fresh ClickHouse database and a fresh Postgres database."""
    from xolap.runtime import Runtime

    _client, ch_settings = ch_db
    settings = pg_settings.model_copy(update={"clickhouse_database": ch_settings.clickhouse_database})
    return Runtime(settings)


@pytest.fixture()
def service_data_dir() -> Iterator[Path]:
    """A data dir for a `xolap serve` subprocess, outside pytest's tmp root (see pg_template for why)."""
    path = Path(tempfile.mkdtemp(prefix="xolap-test-serve-"))
    _PG_ROOTS.append(path)
    yield path / "var"
    shutil.rmtree(path, ignore_errors=True)
