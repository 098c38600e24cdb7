"""Every request body is bounded before it is read: a route that reads its body whole (JSON models, forms, uploads)
gets at most DEFAULT_BODY_BYTES, the routes that stream and check their own bodies (statements, LRS documents, scope
files) their own larger limit. A body declared (Content-Length) or received past the limit is answered 413 naming the
limit, at once, without reading the rest: no request can make the server hold an unbounded body in memory or on disk
(a form's file part is spooled to disk whole before the route sees it)."""

from __future__ import annotations

import re

from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xolap.web import api_statements, lrs_statements, pages_scopes
from xolap.web.asgi_answers import send_json_error

MIB = 1024 * 1024
DEFAULT_BODY_BYTES = 4 * MIB  # custom SQL (100,000 characters, escaped) and a vega spec (256 KB) fit many times over
MULTIPART_MARGIN_BYTES = MIB  # boundaries and part headers around an uploaded file

# (path pattern, most bytes of a body): first match wins; every other path gets DEFAULT_BODY_BYTES.
ROUTE_BODY_BYTES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/api/v1/statements/?$"), api_statements.MAX_BODY_BYTES),
    (re.compile(r"^/xAPI/"), lrs_statements.MAX_BODY_BYTES + MULTIPART_MARGIN_BYTES),  # attachments, documents
    (re.compile(r"^(/api/v1)?/admin/scopes/import/?$"), pages_scopes.MAX_UPLOAD_BYTES + MULTIPART_MARGIN_BYTES),
)


def body_limit_for(path: str) -> int:
    """The most bytes a request body to this path may have."""
    for pattern, limit in ROUTE_BODY_BYTES:
        if pattern.match(path):
            return limit
    return DEFAULT_BODY_BYTES


def too_large_message(limit: int) -> str:
    return f"the request body is over the {limit:,}-byte limit of this address: send less, or split it"


def declared_length(scope: Scope) -> int | None:
    """The Content-Length a request declares (None when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BoundRequestBodies:
    """ASGI middleware: 413 for a declared length over the path's limit before the app runs; a body that grows past it
    while the app reads it raises HTTPException(413) from receive(), which FastAPI hands to its error handlers (it
    re-raises a middleware's HTTPException while reading a body) and a route's own reader lets through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope.get("path", ""))
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, bounded_receive, send)


async def _refuse(send: Send, limit: int) -> None:
    await send_json_error(send, 413, too_large_message(limit), close=True)  # the unread body is not read to reuse


def install(app: FastAPI) -> None:
    app.add_middleware(BoundRequestBodies)
