"""S3 answering 503 SlowDown (throttled) or 500 InternalError to every object read during a backfill, through a proxy
in front of moto that lists as S3 does and refuses the reads: the attempt fails within a minute (ClickHouse's own
retries are bounded: measured under 1 s), the run says why in its record (S3's own message: 'Please reduce your
request rate', and ClickHouse's S3_ERROR) and in one log line, and once S3 answers again the run completes
with every event exactly once."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from bf_support import count_events, upload_bundles
from faults_support import within

from xolap.backfill import runner, service
from xolap.runtime import Runtime

FILES, LINES = 3, 20
VISIBLE_WITHIN_S = 60
ANSWERS = {
    "throttled": (503, "SlowDown", "Please reduce your request rate."),
    "internal error": (500, "InternalError", "We encountered an internal error. Please try again."),
}


class FaultyS3:
    """A proxy to moto that answers `refusal` (status, code, message) to every object read while it is set."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.refusal: tuple[int, str, str] | None = None
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                reads_object = self.command in ("GET", "HEAD") and path.strip("/").count("/") >= 1
                if proxy.refusal is not None and reads_object and "list-type" not in query:
                    status, code, message = proxy.refusal
                    proxy.refused += 1
                    error = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error.encode())
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def faulty_s3(moto_server) -> Iterator[FaultyS3]:
    proxy = FaultyS3(moto_server)
    yield proxy
    proxy.close()


@pytest.mark.parametrize("fault", list(ANSWERS))
def test_s3_refusing_reads_fails_the_attempt_visibly_then_the_retry_loads_exactly(
    fault, bf_runtime, s3, bucket, faulty_s3, caplog
):
    upload_bundles(s3, bucket, "xapi/", files=FILES, lines=LINES)
    behind = Runtime(bf_runtime.settings.model_copy(update={"s3_endpoint_url": faulty_s3.url}))
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/xapi/**")
    faulty_s3.refusal = ANSWERS[fault]
    caplog.set_level(logging.WARNING, logger="xolap")
    kind, _, elapsed = within(
        VISIBLE_WITHIN_S + 5, lambda: runner.execute_manual_run(behind, run["id"], final_attempt=False)
    )
    assert kind == "raised" and elapsed < VISIBLE_WITHIN_S, f"{fault}: attempt {kind} after {elapsed:.0f} s"
    assert faulty_s3.refused >= 1
    record = service.get_run(bf_runtime, "manual", run["id"])
    words = ANSWERS[fault][2].rstrip(".")  # ClickHouse passes S3's message on, without its code
    assert record["status"] == "pending" and "will retry" in record["error"], record["error"]
    assert words in record["error"] and "S3_ERROR" in record["error"], record["error"]
    assert "testing" not in record["error"]
    lines = [r.getMessage() for r in caplog.records if f"manual run {run['id']}" in r.getMessage()]
    assert len(lines) == 1, lines

    faulty_s3.refusal = None
    assert runner.execute_manual_run(behind, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert done["rows_written"] == FILES * LINES and count_events(bf_runtime) == FILES * LINES
