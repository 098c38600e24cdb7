"""The running `xolap serve` as a typed client: in embedded mode it holds the engine, so CLI commands ask its API.

ServerClient offers the same operations, with the same answers and errors, as xolap.operations.LocalOperations;
`xolap.operations.open_operations(settings)` picks one. Errors are RemoteError (an OperationError): 400/404/413
answers are refused (exit 2), the others failed (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from xolap.operation_errors import REFUSED_STATUSES, OperationError


class RemoteError(OperationError):
    """The running server answered with an error; the message carries its reason, status_code its HTTP status."""

    def __init__(self, message: str, status_code: int | None = None, kind: str = "error"):
        super().__init__(message, kind=kind, refused=status_code in REFUSED_STATUSES, status_code=status_code)


def _error_of(response: httpx.Response, url: str) -> RemoteError:
    try:
        body = response.json()
    except ValueError:
        return RemoteError(f"{response.status_code} from {url}: {response.text[:300]}", response.status_code)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "message" in error:  # an operation's own answer: its message, as given locally
        return RemoteError(str(error["message"]), response.status_code, str(error.get("kind", "error")))
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):  # a refusal with its reason: the same words the operation says locally
        return RemoteError(detail, response.status_code)
    return RemoteError(f"{response.status_code} from {url}: {detail or response.text[:300]}", response.status_code)


class ServerClient:
    """The admin API of one running server, method by method."""

    remote = True

    def __init__(self, url: str, token: str, timeout: float = 600):
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------ plumbing

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach `xolap serve` at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise _error_of(response, f"{self.url}{path}")
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def stream_events(self, path: str) -> Iterator[dict[str, Any]]:
        """A server-sent event stream's data objects (resuming with Last-Event-ID) until its `end` event."""
        import json

        last_id = "0"
        while True:
            with self._client.stream("GET", path, headers={"Last-Event-ID": last_id}, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response, f"{self.url}{path}")
                event, data = "message", ""
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        if event == "end":
                            return
                        if event == "refused":  # the server ended the stream: this caller may no longer follow it
                            raise RemoteError(f"{self.url}{path}: {json.loads(data).get('reason')}", 403)
                        yield json.loads(data)
                        event, data = "message", ""

    # ------------------------------------------------------------ analytics

    def query(
        self, sql: str, *, scope: str, ref: str | None = None, max_rows: int | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return self.post(
            "/api/v1/admin/query",
            json={"sql": sql, "scope": scope, "ref": ref, "max_rows": max_rows, "timeout": timeout},
        )

    def analytics_run(
        self, key: str, *, scope: str, ref: str, start: date | None = None, end: date | None = None
    ) -> dict[str, Any]:
        return self.post(
            f"/api/v1/admin/analytics/categories/{key}",
            json={"scope": scope, "ref": ref, "start": start and start.isoformat(), "end": end and end.isoformat()},
        )

    def analytics_health(self) -> dict[str, Any]:
        return self.get("/api/v1/admin/analytics/health")

    def titles_import(self, path: Path) -> dict[str, Any]:
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RemoteError(f"{path.name}: cannot read: {exc}", 400) from None
        return self.post("/api/v1/admin/analytics/titles", json={"filename": path.name, "content": content})

    # ------------------------------------------------------------ ingest

    def ingest_paths(
        self, paths: list[str], *, engine: str = "auto", max_errors: int = 20, progress: Any = None
    ) -> dict[str, Any]:
        """Local paths are sent absolute (same machine); the server reads only those under its ingest roots."""
        sent = [p if p.startswith("s3://") else str(Path(p).expanduser().absolute()) for p in paths]
        return self.post("/api/v1/ingest/paths", json={"paths": sent, "engine": engine, "max_errors": max_errors})

    # ------------------------------------------------------------ ClickHouse migrations

    def migrate(self, action: str, *, steps: int = 1, target: int | None = None) -> dict[str, Any]:
        return self.post(
            "/api/v1/admin/clickhouse/migrations", json={"action": action, "steps": steps, "target": target}
        )

    # ------------------------------------------------------------ backfill

    def backfill_create_manual(self, **fields: Any) -> dict[str, Any]:
        return self.post("/api/v1/backfill/runs/manual", json=fields)

    def backfill_create_inventory(self, **fields: Any) -> dict[str, Any]:
        return self.post("/api/v1/backfill/runs/inventory", json=fields)

    def backfill_list(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/api/v1/backfill/runs", params={k: v for k, v in filters.items() if v is not None})

    def backfill_get(self, kind: str, run_id: int) -> dict[str, Any]:
        return self.get(f"/api/v1/backfill/runs/{kind}/{run_id}")

    def backfill_action(self, kind: str, run_id: int, action: str) -> dict[str, Any]:
        """pause | resume | cancel | retry"""
        return self.post(f"/api/v1/backfill/runs/{kind}/{run_id}/{action}")

    def backfill_retry_batch(self, batch_id: int) -> dict[str, Any]:
        return self.post(f"/api/v1/backfill/batches/{batch_id}/retry")

    def backfill_events(self, kind: str, run_id: int) -> Iterator[dict[str, Any]]:
        return self.stream_events(f"/api/v1/backfill/runs/{kind}/{run_id}/events")


RemoteServer = ServerClient  # the earlier name


def running_server(settings: Any) -> ServerClient | None:
    """The server holding this data dir's embedded engine, if one runs (server mode ClickHouse needs none)."""
    from xolap.runtime import local_admin_token
    from xolap.serve_lock import read_holder

    if not settings.is_embedded_clickhouse:
        return None
    holder = read_holder(settings.data_dir)
    if not holder or not holder.get("url"):
        return None
    token = settings.admin_token.get_secret_value() if settings.admin_token else local_admin_token(settings.data_dir)
    return ServerClient(holder["url"], token)
