"""The one "here or through the server" seam under the CLI: open_operations(settings) gives the running server's typed
client (xolap.remote.ServerClient) while `xolap serve` holds the embedded engine, else LocalOperations, which runs
the same operations in this process. Both have the same methods, answers (JSON-ready dicts) and errors
(xolap.operation_errors.OperationError), so every command behaves the same with and without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.operation_errors import OperationError, refused

if TYPE_CHECKING:
    from xolap.config import Settings
    from xolap.remote import ServerClient
    from xolap.runtime import Runtime


def _runtime(settings: Settings, client: ClickHouseClient | None) -> Runtime:
    """A Runtime for this process (on the given ClickHouse client when one is given, e.g. a test's database)."""
    from xolap.runtime import Runtime

    if client is None:
        return Runtime(settings)
    given: ClickHouseClient = client

    class GivenClientRuntime(Runtime):
        def clickhouse(self) -> ClickHouseClient:
            return given

    return GivenClientRuntime(settings)


class LocalOperations:
    """The operations run in this process, on this data dir's engine and Postgres."""

    remote = False
    url = None

    def __init__(
        self, settings: Settings, *, client: ClickHouseClient | None = None, s3_factory: Callable[[], Any] | None = None
    ):
        from xolap.store.postgres import embedded_dirs

        self.settings = settings
        self.runtime = _runtime(settings, client)
        self._s3_factory = s3_factory
        self._postgres_before = embedded_dirs()

    def close(self) -> None:
        """Stop the embedded Postgres these operations started (one already running in this process keeps running)."""
        from xolap.store.postgres import embedded_dirs, stop_embedded

        for pgdata in embedded_dirs() - self._postgres_before:
            stop_embedded(pgdata)

    # ------------------------------------------------------------ analytics

    def query(
        self, sql: str, *, scope: str, ref: str | None = None, max_rows: int | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        from xolap.analytics import operations

        return operations.query(self.runtime, sql, scope=scope, ref=ref, max_rows=max_rows, timeout=timeout)

    def analytics_run(
        self, key: str, *, scope: str, ref: str, start: date | None = None, end: date | None = None
    ) -> dict[str, Any]:
        from xolap.analytics import operations

        return operations.category(self.runtime, key, scope=scope, ref=ref, start=start, end=end)

    def analytics_health(self) -> dict[str, Any]:
        from xolap.analytics import operations

        return operations.health(self.runtime)

    def titles_import(self, path: Path) -> dict[str, Any]:
        from xolap.analytics import operations

        try:
            content = path.read_bytes()
        except OSError as exc:
            raise refused(f"{path.name}: cannot read: {exc.strerror}") from None
        return operations.import_titles(self.runtime, path.name, content)

    # ------------------------------------------------------------ ingest

    def ingest_paths(
        self, paths: list[str], *, engine: str = "auto", max_errors: int = 20, progress: Any = None
    ) -> dict[str, Any]:
        from xolap.ingest.paths import ingest_here

        return ingest_here(
            self.runtime.clickhouse(),
            self.settings,
            paths,
            engine=engine,
            max_errors=max_errors,
            progress=progress,
            s3_factory=self._s3_factory,
        )

    # ------------------------------------------------------------ ClickHouse migrations

    def migrate(self, action: str, *, steps: int = 1, target: int | None = None) -> dict[str, Any]:
        from xolap.clickhouse.migrations import run_action

        try:
            return run_action(self.runtime.migrator(), action, steps=steps, target=target)
        except ValueError as exc:
            raise refused(str(exc)) from None

    # ------------------------------------------------------------ backfill

    def _backfill(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from xolap.backfill import service
        from xolap.backfill.naming import BackfillInputError

        try:
            return getattr(service, name)(self.runtime, *args, **kwargs)
        except (service.ServiceError, BackfillInputError) as exc:
            raise OperationError(str(exc), kind="backfill") from None

    def backfill_create_manual(self, **fields: Any) -> dict[str, Any]:
        return self._backfill("create_manual_run", **fields)

    def backfill_create_inventory(self, **fields: Any) -> dict[str, Any]:
        return self._backfill("create_inventory_run", **fields)

    def backfill_list(self, **filters: Any) -> list[dict[str, Any]]:
        return self._backfill("list_runs", **filters)

    def backfill_get(self, kind: str, run_id: int) -> dict[str, Any]:
        return self._backfill("get_run", kind, run_id)

    def backfill_action(self, kind: str, run_id: int, action: str) -> dict[str, Any]:
        """pause | resume | cancel | retry"""
        names = {"pause": "pause", "resume": "resume", "cancel": "cancel", "retry": "retry_run"}
        if action not in names:
            raise refused(f"unknown action {action!r}: use pause, resume, cancel or retry")
        return self._backfill(names[action], kind, run_id)

    def backfill_retry_batch(self, batch_id: int) -> dict[str, Any]:
        return self._backfill("retry_batch", batch_id)

    def backfill_events(self, kind: str, run_id: int) -> Iterator[dict[str, Any]]:
        from xolap.backfill.event_stream import run_events

        self.backfill_get(kind, run_id)  # an unknown run is an error before following
        return run_events(self.settings, kind, run_id)


@contextmanager
def open_operations(
    settings: Settings | None = None,
    *,
    client: ClickHouseClient | None = None,
    s3_factory: Callable[[], Any] | None = None,
) -> Iterator[LocalOperations | ServerClient]:
    """The running server's client when `xolap serve` holds this data dir's engine, else LocalOperations (always
    local when a ClickHouse client is given). Closed on exit."""
    from xolap.config import ConfigError, get_settings

    if settings is None:
        try:
            settings = get_settings()
        except ConfigError as exc:
            raise OperationError(str(exc), kind="config") from None
    ops: LocalOperations | ServerClient | None = None
    if client is None:
        from xolap.remote import running_server

        ops = running_server(settings)
    if ops is None:
        ops = LocalOperations(settings, client=client, s3_factory=s3_factory)
    try:
        yield ops
    finally:
        ops.close()
