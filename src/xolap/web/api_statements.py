"""Ingest API. POST /api/v1/statements: the direct uploader over HTTP (one statement, a JSON array, or JSONL), same mapping.

Bodies: `application/json` holding an object or an array of objects, or JSONL (`application/x-ndjson`, text/plain,
or JSON that is not a single document). Each statement is one "line": its provenance is `api:<receipt>` and its
1-based position. A single object, each element of a JSON array and each valid JSONL line are stored as the compact
line a JSONL bundle would hold (their own text without whitespace outside strings: xolap.xapi.identity), so a
statement sent here and the same compact statement in a file get one event_hash. The body is read in chunks and refused (413) once past 64 MiB. Good statements are inserted even when others are rejected; the answer lists each rejection (line, reason).
Answers: 200 when anything was accepted, 400 for an empty or oversized body, 422 when every statement was rejected.
When XOLAP_S3_BUNDLE_BUCKET is set, accepted bodies are also archived to S3 in Torus's bundle layout.
POST /api/v1/ingest/paths is `xolap ingest` run by the server that holds the embedded engine.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from xolap.ingest.limits import OVERSIZE_HEAD_BYTES, OversizeLine
from xolap.ingest.pipeline import EventWriter, ingest_lines
from xolap.runtime import Runtime
from xolap.web.auth import Principal, require_site_admin
from xolap.xapi.identity import array_element_lines, statement_line

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["ingest"])

MAX_BODY_BYTES = 64 * 1024 * 1024


def body_lines(body: bytes) -> list[tuple[int, bytes]]:
    """Split a request body into numbered statement lines (see the module docstring)."""
    stripped = body.strip()
    if not stripped:
        raise HTTPException(400, "empty body: send one xAPI statement, a JSON array of statements, or JSONL")
    if stripped[:1] in (b"{", b"["):
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            document = None  # not one JSON document: read it as JSONL below
        if isinstance(document, dict):
            return [(1, statement_line(stripped))]
        if isinstance(document, list):
            if not document:
                raise HTTPException(400, "empty JSON array: nothing to ingest")
            return list(enumerate(array_element_lines(stripped), 1))
    numbered, index = [], 0
    for raw in stripped.splitlines():
        line = raw.strip()
        if line:
            index += 1
            numbered.append((index, _stored_line(line)))
    return numbered


def _stored_line(line: bytes) -> bytes:
    """A JSONL line as it is stored: compact when it is valid JSON; as sent otherwise (it is then rejected with its
    reason, and removing whitespace must never turn a bad line into a good one)."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    return statement_line(line)


def limit_line_size(lines: list[tuple[int, bytes]], limit: int) -> list[tuple[int, bytes]]:
    """Statements longer than XOLAP_INGEST_MAX_LINE_BYTES become OversizeLines: rejected with the reason files get."""
    return [
        (n, OversizeLine(line[:OVERSIZE_HEAD_BYTES], len(line), limit) if len(line) > limit else line)
        for n, line in lines
    ]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read in chunks: 413 as soon as it passes `limit` bytes (declared or received), without
    reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {int(declared):,} bytes is over the {limit:,}-byte limit: split it")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPException(413, f"body is over the {limit:,}-byte limit: split it")
        chunks.append(chunk)
    return b"".join(chunks)


def archive(runtime: Runtime, lines: list[tuple[int, bytes]], rejected_lines: set[int]) -> list[str]:
    settings = runtime.settings
    if not settings.s3_bundle_bucket:
        return []
    from xolap.ingest.aws_clients import aws_client
    from xolap.ingest.s3_bundles import S3BundleUploader

    uploader = S3BundleUploader(aws_client(settings, "s3"), settings.s3_bundle_bucket, settings.s3_bundle_prefix)
    return uploader.archive([line for number, line in lines if number not in rejected_lines])


@router.post("/statements")
async def post_statements(request: Request, principal: Principal = Depends(require_site_admin)) -> JSONResponse:
    body = await read_body(request, MAX_BODY_BYTES)
    runtime = request.app.state.runtime
    from starlette.concurrency import run_in_threadpool

    # parsed on a worker thread: seconds of a 64 MiB body on the event loop would stall every other request
    lines = await run_in_threadpool(lambda: limit_line_size(body_lines(body), runtime.settings.ingest_max_line_bytes))
    receipt = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
    source_file = f"api:{receipt}"

    def run():
        writer = EventWriter(runtime.clickhouse(), runtime.settings, "api")
        return ingest_lines(writer, lines, source_file=source_file)

    report = await run_in_threadpool(run)
    rejected_lines = {error.source_line for error in report.errors}
    archived = await run_in_threadpool(archive, runtime, lines, rejected_lines) if report.rows else []
    log.info("statements API: %s accepted, %s rejected (%s)", report.rows, report.rejected, source_file)
    payload = {
        "accepted": report.rows,
        "rejected": report.rejected,
        "errors": [{"line": e.source_line, "reason": e.reason} for e in report.errors],
        "source_file": source_file,
        "archived": archived,
    }
    return JSONResponse(payload, status_code=200 if report.rows else 422)


class IngestPathsRequest(BaseModel):
    paths: list[str]
    engine: str = "auto"
    max_errors: int = 20


@router.post("/ingest/paths")
async def ingest_paths_api(
    body: IngestPathsRequest, request: Request, principal: Principal = Depends(require_site_admin)
) -> dict:
    """`xolap ingest` through a running server: s3:// URLs, or local paths under the ingest roots
    (XOLAP_INGEST_ROOTS, default <data_dir>/imports; 400 for a path outside); the CLI's summary."""
    from starlette.concurrency import run_in_threadpool

    from xolap.ingest.paths import ingest_for_server
    from xolap.operation_errors import OperationError

    runtime = request.app.state.runtime
    try:
        return await run_in_threadpool(
            lambda: ingest_for_server(runtime, body.paths, engine=body.engine, max_errors=body.max_errors)
        )
    except OperationError as exc:
        raise HTTPException(exc.status_code or 400, exc.message) from None
