"""xAPI 1.0.3's Alternate Request Syntax for /xAPI: `POST <resource>?method=PUT|GET|POST|DELETE|HEAD` with an
application/x-www-form-urlencoded body whose Authorization, X-Experience-API-Version, Content-Type, Content-Length,
If-Match and If-None-Match fields act as headers, `content` as the body, and every other field as a query parameter.
An ASGI middleware rewrites such a request before routing; a malformed one (not a POST, anything else in the query
string, not form-encoded, a PUT/POST without content) answers 400."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xolap.web.hostile_input import printable_name

PREFIX = "/xAPI"
HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}
MAX_FORM_BYTES = 16 * 1024 * 1024


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": True, "message": message, "detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _repeated_field(fields: list[tuple[str, str]]) -> str | None:
    """The first field given twice (header fields and `content` in any case, as they are read), if any."""
    seen: set[str] = set()
    for name, _value in fields:
        key = name.lower() if name.lower() in HEADER_FIELDS or name.lower() == "content" else name
        if key in seen:
            return name
        seen.add(key)
    return None


class AlternateRequestSyntax:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not any(name == "method" for name, _ in query):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _refuse(send, "the alternate request syntax (?method=) must be sent as a POST")
            return
        if len(query) != 1:
            await _refuse(send, "the alternate request syntax takes only `method` in the query string")
            return
        versions = [v for k, v in scope.get("headers", []) if k == b"x-experience-api-version"]
        if any(v.strip().startswith(b"2.") for v in versions):
            await _refuse(
                send, "xAPI 2.0 has no alternate request syntax: send the method, headers and body as they are"
            )
            return
        method = query[0][1].upper()
        if method not in METHODS:
            await _refuse(send, "method: must be GET, PUT, POST, DELETE or HEAD")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            await _refuse(send, "the alternate request syntax needs an application/x-www-form-urlencoded body")
            return
        raw = await _read(receive)
        if raw is None:
            await _refuse(send, "form body too large")
            return
        try:
            fields = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            await _refuse(send, "the form body is not application/x-www-form-urlencoded")
            return
        repeated = _repeated_field(fields)
        if repeated is not None:
            await _refuse(send, f"form field {printable_name(repeated)} given more than once: send it once")
            return
        content = b""
        params: list[tuple[str, str]] = []
        new_headers = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
        for name, value in fields:
            lower = name.lower()
            if lower == "content":
                content = value.encode("utf-8")
            elif lower in HEADER_FIELDS:
                new_headers[lower] = value
            else:
                params.append((name, value))
        if new_headers.get("x-experience-api-version", "").strip().startswith("2."):
            await _refuse(
                send, "xAPI 2.0 has no alternate request syntax: send the method, headers and body as they are"
            )
            return
        if method in ("PUT", "POST") and not content:
            await _refuse(send, "content: the alternate request syntax sends the body in the `content` form field")
            return
        if content:
            new_headers.setdefault("content-type", "application/json")
        new_headers["content-length"] = str(len(content))
        rewritten = dict(scope)
        rewritten["method"] = method
        rewritten["query_string"] = urlencode(params).encode("latin-1")
        rewritten["headers"] = [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in new_headers.items()]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": content, "more_body": False}
            return await receive()

        await self.app(rewritten, replay, send)
