"""Slow and silent clients cannot hold connections for ever: `xolap serve` runs uvicorn with a deadline for each
request's line and headers (serve_protocol). A client that connects and sends nothing, sends half its headers, trickles
them a byte at a time or starts a kept-alive second request and stops is disconnected; a slow answer and a slow body
are not cut. Run on a real socket against the protocol `xolap serve` configures, with a short deadline."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from xolap.serve import http_config
from xolap.serve_protocol import HeadersDeadlineProtocol

DEADLINE_S = 0.3
PATIENCE_S = 15.0  # how long the test waits for the server to hang up (generous: a loaded machine)


class ShortDeadline(HeadersDeadlineProtocol):
    headers_timeout_s = DEADLINE_S


async def slow_answer(request: Request) -> PlainTextResponse:
    await asyncio.sleep(DEADLINE_S * 3)
    return PlainTextResponse("slow")


async def echo_size(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


APP = Starlette(routes=[Route("/slow", slow_answer), Route("/echo", echo_size, methods=["POST"])])


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    config = http_config(APP, host="127.0.0.1", port=0)
    assert config.http is HeadersDeadlineProtocol  # what `xolap serve` runs
    config.http = ShortDeadline
    config.lifespan = "off"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(20)
    sock.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S)


def hung_up(conn: socket.socket) -> bool:
    """True when the server closes the connection (recv returns b"" or resets) before PATIENCE_S."""
    try:
        while conn.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_a_client_that_sends_nothing_is_disconnected(server_port):
    with connect(server_port) as conn:
        assert hung_up(conn)


def test_half_sent_headers_are_disconnected(server_port):
    with connect(server_port) as conn:
        conn.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Half: ")
        assert hung_up(conn)


def test_headers_trickled_a_byte_at_a_time_are_disconnected(server_port):
    request = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 60 + b"\r\n\r\n"
    with connect(server_port) as conn:
        try:
            for byte in request:  # each byte well within the deadline, the whole (~3 s) far beyond it
                conn.sendall(bytes([byte]))
                time.sleep(DEADLINE_S / 10)
        except (BrokenPipeError, ConnectionResetError):
            return  # hung up while the headers were still coming
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert not answer, answer[:80]  # without the deadline the trickled request is answered (405 for GET /echo)


def test_a_kept_alive_connection_stalling_in_its_next_request_is_disconnected(server_port):
    with connect(server_port) as conn:
        conn.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET /slow HTTP/1.1\r\nHo")
        assert hung_up(conn)


def test_a_slow_answer_is_not_cut(server_port):
    with connect(server_port) as conn:
        conn.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"slow")


def test_a_slow_body_is_not_cut(server_port):
    with connect(server_port) as conn:
        conn.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n")
        for part in (b"ab", b"cd", b"ef"):  # the body takes longer than the headers' deadline
            time.sleep(DEADLINE_S)
            conn.sendall(part)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n6")
