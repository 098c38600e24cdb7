"""Server-side chart rendering (Vega-Lite → SVG or PNG with vl-convert) in a small pool of warm child processes.

Each child limits its own memory (RLIMIT_DATA), loses its network (a private network namespace where the kernel
allows one, proxies pointed at a closed port, vl-convert's allowed_base_urls=[]), and draws the SVG first so a PNG
whose pixel count is past the limit is refused before any pixel is allocated. The parent waits at most the wall time
limit for an answer and kills the child on timeout, so a bad spec costs one failed export and the server stays
responsive. Callers pass specs that already passed xolap.analytics.vega_safety; this module is the second wall.

Run as `python -m xolap.analytics.chart_render <memory-bytes>`, it is the child: it reads framed requests on stdin
and answers on stdout.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import queue
import re
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

FORMATS = ("svg", "png")
_FRAME = struct.Struct(">Q")
_CLOSED_PROXY = "http://127.0.0.1:9"
_SVG_TAG = re.compile(rb"<svg\b[^>]*>", re.S)
log = logging.getLogger("xolap.chart_render")


@dataclass(frozen=True)
class RenderLimits:
    """What one render may cost: wall time in the parent's eyes, memory and output pixels in the child's."""

    timeout_s: float = 15.0
    memory_bytes: int = 2 * 1024**3  # RLIMIT_DATA of each child (V8 cannot start under any RLIMIT_AS ≤ 64 GiB)
    max_pixels: int = 40_000_000  # of a PNG, after scaling (160 MB of RGBA)
    workers: int = 2  # children kept warm


class ChartRenderError(Exception):
    """A chart that could not be drawn: `kind` is spec | too_large | timeout | crashed | busy; str() says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class ChartRenderer:
    """A pool of `limits.workers` child renderers, started on first use and restarted after a kill or crash."""

    def __init__(self, limits: RenderLimits = RenderLimits()) -> None:
        self.limits = limits
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._children = [_Child(limits.memory_bytes) for _ in range(max(1, limits.workers))]
        for child in self._children:
            self._idle.put(child)
        self._closed = False

    def render(self, spec: dict[str, Any], fmt: str, *, scale: float = 2.0) -> bytes:
        """SVG or PNG bytes of a Vega-Lite spec; ChartRenderError when it cannot be drawn within the limits."""
        if fmt not in FORMATS:
            raise ChartRenderError("spec", f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        if self._closed:
            raise ChartRenderError("busy", "the chart renderer is shut down")
        deadline = time.monotonic() + self.limits.timeout_s
        request = orjson.dumps(
            {"spec": spec, "format": fmt, "scale": float(scale), "max_pixels": self.limits.max_pixels}
        )
        try:
            child = self._idle.get(timeout=self.limits.timeout_s)
        except queue.Empty:
            raise ChartRenderError("busy", "every chart renderer is busy; try the export again shortly") from None
        try:
            return child.call(request, deadline)
        finally:
            self._idle.put(child)

    def warm_up(self, children: int | None = None) -> None:
        """Start every child (or the first `children`) now and wait until each has drawn a tiny chart, instead of on
        the first exports."""
        tiny = orjson.dumps(
            {
                "spec": {"mark": "point", "data": {"values": [{}]}},
                "format": "svg",
                "scale": 1.0,
                "max_pixels": self.limits.max_pixels,
            }
        )
        for child in self._children[:children]:
            child.call(tiny, time.monotonic() + max(self.limits.timeout_s, 30.0))

    def pids(self) -> list[int]:
        return [child.pid for child in self._children if child.pid is not None]

    def close(self) -> None:
        self._closed = True
        for child in self._children:
            child.stop()


# Children are started from this one thread, which lives as long as the process: a child's PR_SET_PDEATHSIG (_isolate)
# fires when the thread that started it ends, not the process, so a child started from a request's worker thread (the
# thread pool retires idle ones) or from the start-up warm-up was killed with it, and the next export paid a new start.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xolap-chart-spawner")


class _Child:
    """One child process and its pipes; used by one thread at a time (the pool hands it out)."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def ensure_started(self) -> subprocess.Popen[bytes]:
        if self.process is not None and self.process.poll() is None:
            return self.process
        env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
        env.update(
            {
                name: _CLOSED_PROXY
                for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
            }
        )
        env.update({"NO_PROXY": "", "no_proxy": ""})
        command = [sys.executable, "-m", "xolap.analytics.chart_render", str(int(self.memory_bytes))]
        self.process = _spawner.submit(
            subprocess.Popen,
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        ).result()
        return self.process

    def call(self, request: bytes, deadline: float) -> bytes:
        process = self.ensure_started()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(_FRAME.pack(len(request)) + request)
            process.stdin.flush()
            size = _FRAME.unpack(_read_exact(process.stdout.fileno(), _FRAME.size, deadline))[0]
            reply = _read_exact(process.stdout.fileno(), size, deadline)
        except TimeoutError:
            self.stop()
            raise ChartRenderError(
                "timeout",
                "drawing the chart took longer than the time limit; it was stopped "
                "(simplify the chart or chart fewer rows)",
            ) from None
        except (EOFError, BrokenPipeError, OSError):
            self.stop()
            raise ChartRenderError(
                "crashed",
                "the chart renderer stopped while drawing this chart (it ran out of "
                "memory or crashed); simplify the chart or chart fewer rows",
            ) from None
        if reply[:1] == b"o":
            return reply[1:]
        error = orjson.loads(reply[1:])
        raise ChartRenderError(error.get("kind", "spec"), error.get("message", "the chart cannot be drawn"))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the shared pool of the web app

_shared: ChartRenderer | None = None
_shared_lock = threading.Lock()


def shared_renderer() -> ChartRenderer:
    """The process-wide pool (created on first use, closed at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ChartRenderer()
            atexit.register(_shared.close)
        return _shared


def warm_in_background() -> threading.Thread:
    """Start the shared pool's first child in a daemon thread (`xolap serve` calls it at start, so neither start-up nor
    /healthz waits): the first export then draws at once instead of paying the child's start, 3-5 s. One child, not
    both: each holds ~80 MiB (RSS measured after a warm-up), and the second starts when two exports overlap."""

    def warm() -> None:
        try:
            shared_renderer().warm_up(children=1)
        except Exception as exc:  # noqa: BLE001 - the first export starts it again and says why it cannot
            log.warning("could not start the chart renderer ahead of the first export: %s", exc)

    thread = threading.Thread(target=warm, name="xolap-chart-warm-up", daemon=True)
    thread.start()
    return thread


def render_chart(spec: dict[str, Any], fmt: str, *, scale: float = 2.0) -> bytes:
    return shared_renderer().render(spec, fmt, scale=scale)


# ---------------------------------------------------------------- the child


def svg_size(svg: bytes) -> tuple[float, float]:
    """Width and height (px) of an SVG document's root element; (0, 0) when they are not plain numbers."""
    tag = _SVG_TAG.search(svg)
    if tag is None:
        return 0.0, 0.0
    sizes = []
    for name in (rb"width", rb"height"):
        found = re.search(rb"\s" + name + rb'="([0-9.]+)"', tag.group(0))
        sizes.append(float(found.group(1)) if found else 0.0)
    return sizes[0], sizes[1]


def _isolate(memory_bytes: int) -> None:
    """Limit this (child) process before vl-convert starts: memory, core dumps, network, parent death."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the server
        clone_newnet, clone_newuser = 0x40000000, 0x10000000
        if libc.unshare(clone_newnet) != 0:  # a network namespace with only a loopback that is down
            libc.unshare(clone_newuser | clone_newnet)
    except (OSError, AttributeError):
        pass  # proxies and allowed_base_urls still apply


def _draw(request: dict[str, Any]) -> bytes:
    import vl_convert

    svg = vl_convert.vegalite_to_svg(request["spec"], allowed_base_urls=[]).encode()
    if request["format"] == "svg":
        return svg
    scale = request["scale"]
    width, height = svg_size(svg)
    if width * height * scale * scale > request["max_pixels"]:
        raise ChartRenderError(
            "too_large",
            f"the chart would be {width * scale:,.0f} × {height * scale:,.0f} px, "
            f"above the limit of {request['max_pixels']:,} pixels",
        )
    return vl_convert.svg_to_png(svg.decode(), scale=scale)


def _reply(out: BinaryIO, status: bytes, payload: bytes) -> None:
    out.write(_FRAME.pack(len(payload) + 1) + status + payload)
    out.flush()


def child_main(memory_bytes: int) -> None:
    _isolate(memory_bytes)
    import vl_convert

    vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": [{}]}}, allowed_base_urls=[])  # warm V8
    source, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(_FRAME.size)
        if len(header) < _FRAME.size:
            return  # the server closed the pipe
        request = orjson.loads(source.read(_FRAME.unpack(header)[0]))
        try:
            _reply(out, b"o", _draw(request))
        except ChartRenderError as exc:
            _reply(out, b"e", orjson.dumps({"kind": exc.kind, "message": exc.message}))
        except Exception as exc:  # noqa: BLE001 - vl-convert's errors are ValueError or RuntimeError
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
            _reply(
                out,
                b"e",
                orjson.dumps({"kind": "spec", "message": f"the Vega-Lite spec cannot be rendered: {detail[:500]}"}),
            )


if __name__ == "__main__":
    child_main(int(sys.argv[1]))
