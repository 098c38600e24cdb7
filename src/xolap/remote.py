"""Reaching a running `xolap serve` from the CLI: in embedded mode it holds the engine, so commands go to its API."""

from __future__ import annotations

from typing import Any

import httpx

from xolap.config import Settings
from xolap.runtime import local_admin_token
from xolap.serve_lock import read_holder


class RemoteError(Exception):
    """The running server answered with an error; the message carries its reason, status_code its HTTP status."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class RemoteServer:
    def __init__(self, url: str, token: str, timeout: float = 600):
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RemoteError(f"{response.status_code} from {self.url}{path}: {detail}", response.status_code)
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


def running_server(settings: Settings) -> RemoteServer | None:
    """The server holding this data dir's embedded engine, if one runs (server mode ClickHouse needs none)."""
    if not settings.is_embedded_clickhouse:
        return None
    holder = read_holder(settings.data_dir)
    if not holder or not holder.get("url"):
        return None
    token = settings.admin_token.get_secret_value() if settings.admin_token else local_admin_token(settings.data_dir)
    return RemoteServer(holder["url"], token)
