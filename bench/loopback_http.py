"""A minimal HTTP/1.1 keep-alive client on asyncio streams for load benches against our own server on loopback: one
connection per simulated user, cookies kept, Content-Length and chunked bodies. It does a small fraction of a full
client's work per request (no URL model, no cookie policy, no redirects), so the users of a bench take little of the
CPU the server under test needs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit


class HTTPFailure(Exception):
    """The connection broke or the answer was not HTTP/1.1 as expected."""


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


@dataclass
class LoopbackClient:
    """`async with LoopbackClient("http://127.0.0.1:8000") as http: reply = await http.get("/path")`."""

    base: str
    timeout: float = 60.0
    cookies: dict[str, str] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _head_bytes: int = 0  # bytes of the current answer's head read so far

    async def __aenter__(self) -> LoopbackClient:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, headers)

    async def post(
        self, path: str, *, data: dict | None = None, json_body=None, headers: dict[str, str] | None = None
    ) -> Reply:
        if data is not None:
            body, kind = urlencode(data).encode(), "application/x-www-form-urlencoded"
        else:
            body, kind = json.dumps(json_body).encode(), "application/json"
        return await self.request("POST", path, {"Content-Type": kind, **(headers or {})}, body)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Reply:
        """One exchange; a kept-alive connection the server has closed meanwhile (its idle timeout: an end of file,
        or a reset when the request reached the closed socket) is opened anew and the request sent once more, as
        browsers do, only when not a byte of an answer had come."""
        if self._reader is not None and self._reader.at_eof():
            await self.close()
        reused = self._writer is not None
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers or {}, body), self.timeout)
        except asyncio.IncompleteReadError as exc:
            await self.close()
            if not (reused and exc.partial == b"" and self._head_bytes == 0):
                raise HTTPFailure(f"IncompleteReadError: {exc}") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            await self.close()
            if not (reused and self._head_bytes == 0):
                raise HTTPFailure(f"{type(exc).__name__}: {exc}") from exc
        except (OSError, asyncio.LimitOverrunError, TimeoutError) as exc:
            await self.close()  # the next request opens a new connection
            raise HTTPFailure(f"{type(exc).__name__}: {exc}") from exc
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers or {}, body), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            await self.close()
            raise HTTPFailure(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        self._head_bytes = 0  # nothing of this request's answer yet (a failed write never reads one)
        if self._writer is None:
            address = urlsplit(self.base)
            self._reader, self._writer = await asyncio.open_connection(address.hostname, address.port)
        assert self._reader is not None and self._writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(self.base).netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in self.cookies.items()))
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()
        return await self._read_reply()

    async def _read_reply(self) -> Reply:
        assert self._reader is not None
        self._head_bytes = 0
        head = await self._reader.readuntil(b"\r\n\r\n")
        self._head_bytes = len(head)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HTTPFailure(f"not an HTTP/1.1 answer: {status_line[:80]!r}")
        reply_headers: dict[str, str] = {}
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            reply_headers[name] = value
            if name == "set-cookie":
                self._keep_cookie(value)
        if reply_headers.get("transfer-encoding", "").lower() == "chunked":
            content = await self._read_chunked()
        else:
            content = await self._reader.readexactly(int(reply_headers.get("content-length", "0")))
        if reply_headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(int(parts[1]), reply_headers, content)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers from our server: the empty line
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def _keep_cookie(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        expired = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
        if expired or value in ("", '""'):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value
