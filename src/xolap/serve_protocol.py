"""The HTTP protocol `xolap serve` speaks: uvicorn's h11 protocol with a deadline for each request's line and headers.

uvicorn times only the wait between two requests of a kept-alive connection: a client that connects and sends
nothing, or sends its headers a byte at a time (slowloris), held its connection for ever, and each one holds a file
descriptor of the process that chDB needs for its parts. Here the request line and headers must arrive whole within
REQUEST_HEADERS_TIMEOUT_S of the connection (or of the first byte of a kept-alive connection's next request), else the
connection is closed. The body and the answer are not timed: an upload or a long query goes on as before.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_HEADERS_TIMEOUT_S = 20.0


class HeadersDeadlineProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers are not complete within headers_timeout_s."""

    headers_timeout_s: float = REQUEST_HEADERS_TIMEOUT_S

    # uvicorn's H11Protocol narrows asyncio's BaseTransport to Transport; this override keeps uvicorn's signature
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._headers_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_headers_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers():
            self._arm_headers_deadline()  # a kept-alive connection's next request: timed from its first byte
        else:
            self._disarm_headers_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_headers_deadline()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _arm_headers_deadline(self) -> None:
        if self._headers_deadline is None:
            self._headers_deadline = self.loop.call_later(self.headers_timeout_s, self._headers_too_slow)

    def _disarm_headers_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_too_slow(self) -> None:
        self._headers_deadline = None
        if self._awaiting_headers() and not self.transport.is_closing():
            try:
                self.conn.send(h11.ConnectionClosed())
            except h11.LocalProtocolError:  # mid-answer on our side: closing is all that is left
                pass
            self.transport.close()
