"""Headers on every response (pages, JSON, static files, errors, 404s): browser policy (a Content-Security-Policy
that allows only this origin's scripts (no inline script, no eval), no framing, no MIME sniffing, same-origin
referrers), `Cache-Control: no-store` unless the response sets its own caching (static assets do), and
`Server-Timing: app;dur=<ms>`, the server's time from receiving the request to starting the answer
(after any `answer;dur=` an endpoint set). Pure ASGI middleware, so streamed and file responses get them too."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script, no eval: charts use vega's expression interpreter
        "style-src 'self' 'unsafe-inline'",  # vega-embed, htmx and a few templates set inline styles
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# Every answer but a static asset (which sets its own caching) may hold a scope's data, so no cache keeps it: a shared
# proxy may hand a stored 200 to the next requester of the URL, a browser's disk cache keeps it after sign-out.
PRIVATE_CACHING = ("Cache-Control", "no-store")
_ENCODED = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in [*SECURITY_HEADERS.items(), PRIVATE_CACHING]
]


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response that does not already set that header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in _ENCODED if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ServerTimingMiddleware:
    """Adds `Server-Timing: app;dur=<ms>` (time until the response starts) to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", []), (b"server-timing", f"app;dur={elapsed:.3f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_timing)


def server_time_ms(header: str, metric: str = "app") -> float | None:
    """The duration of `metric` in a Server-Timing header value (entries joined by commas), or None."""
    for entry in header.split(","):
        name, _, params = entry.strip().partition(";")
        if name == metric:
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    try:
                        return float(value)
                    except ValueError:
                        return None
    return None


def install(app: Starlette) -> None:
    """Wrap the whole middleware stack, outside Starlette's error middleware, so 500 pages get the headers too."""
    build = app.build_middleware_stack
    # Starlette has no hook outside its error middleware: its stack builder is wrapped, hence the method-assign ignore.
    app.build_middleware_stack = lambda: ServerTimingMiddleware(  # type: ignore[method-assign]
        SecurityHeadersMiddleware(build())
    )
