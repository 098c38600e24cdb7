"""A JSON error answered straight from an ASGI middleware, before the app (and its error handlers) runs."""

from __future__ import annotations

import json

from starlette.types import Send


async def send_json_error(send: Send, status: int, detail: str, *, close: bool = False) -> None:
    """Answer `{"detail": ...}` with `status`; close=True asks the client to drop the connection (a body left unread)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
