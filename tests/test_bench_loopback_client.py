"""bench/loopback_http (the simulated users' client): a kept-alive connection the server reset while idle is opened
anew and the request sent once more, as browsers do, instead of counting an error the user would never see."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from loopback_http import LoopbackClient  # noqa: E402

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


async def _serve_then_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, served: list[int]) -> None:
    """Answer one request on the connection, then drop it with a reset (SO_LINGER 0), as a server ending an idle
    keep-alive connection can."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(ANSWER)
    await writer.drain()
    served.append(1)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_a_request_on_a_connection_reset_while_idle_is_sent_again_on_a_new_one():
    async def scenario() -> tuple[int, int, int]:
        served: list[int] = []
        server = await asyncio.start_server(lambda r, w: _serve_then_reset(r, w, served), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with LoopbackClient(f"http://127.0.0.1:{port}", timeout=30) as client:
                first = await client.get("/one")
                while len(served) < 1:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)  # the reset reaches the client's socket while it is idle
                second = await client.get("/two")
            return first.status_code, second.status_code, len(served)
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == (200, 200, 2)
