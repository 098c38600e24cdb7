"""The xAPI Statements resource at /xAPI/statements: POST (one or many; the ids), PUT ?statementId= (204), GET by
statementId / voidedStatementId or by query parameters with `more` paging, HEAD; JSON or multipart/mixed with
attachments. Credentials and the version header come from xolap.web.lrs_auth; the rules from xolap.lrs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from xolap.counted import counted
from xolap.ingest.pipeline import EventWriter
from xolap.lrs import formats, multipart, query, statements
from xolap.lrs.credentials import LrsCredential
from xolap.lrs.storage import StatementStore, format_stored
from xolap.lrs.validation import UUID_RE
from xolap.web.api_statements import read_body
from xolap.web.lrs_auth import require_lrs_read, require_lrs_write

router = APIRouter(prefix="/xAPI", tags=["lrs"])
MAX_BODY_BYTES = 64 * 1024 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": True, "message": message, "detail": message},
        status_code=status,
        headers={"X-Experience-API-Consistent-Through": _consistent_through()},
    )


def _store(request: Request) -> StatementStore:
    runtime = request.app.state.runtime
    return StatementStore(runtime.clickhouse(), runtime.settings.clickhouse_database)


def _cursor_secret(request: Request) -> bytes:
    return hashlib.sha256(b"xolap lrs cursor:" + request.app.state.runtime.admin_token.encode()).digest()


def _version(request: Request) -> str:
    return getattr(request.state, "xapi_version", "1.0.3")


async def _incoming(request: Request) -> tuple[list[statements.Incoming], dict, bool]:
    """(statements, attachments by sha2, sent as an array) of a POST/PUT body, parsed on a worker thread: a 65 MiB
    body takes seconds to parse, which on the event loop would stall every other request of the process."""
    body = await read_body(request, MAX_BODY_BYTES)
    return await run_in_threadpool(_parsed, body, request.headers.get("content-type", "application/json"))


def _parsed(body: bytes, content_type: str) -> tuple[list[statements.Incoming], dict, bool]:
    attachments: dict = {}
    if content_type.lower().startswith("multipart/mixed"):
        body, attachments = multipart.parse(content_type, body)
    elif not content_type.lower().startswith("application/json") and content_type.strip():
        raise statements.LrsError(400, "Content-Type must be application/json or multipart/mixed")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise statements.LrsError(400, "body is not valid JSON") from None
    from xolap.xapi.identity import array_element_lines, statement_line

    if isinstance(document, list):
        if len(document) > statements.MAX_BATCH_STATEMENTS:
            raise statements.LrsError(
                413,
                f"a batch of {counted(len(document), 'statement')} is over the limit of {statements.MAX_BATCH_STATEMENTS:,} "
                "a request: send them in several requests",
            )
        lines = array_element_lines(body.strip()) if document else []
        return (
            [statements.Incoming(s, lines[i] if i < len(lines) else None) for i, s in enumerate(document)],
            attachments,
            True,
        )
    return [statements.Incoming(document, statement_line(body.strip()))], attachments, False


async def _save(request: Request, credential: LrsCredential, put_id: str | None = None):
    try:
        incoming, attachments, _ = await _incoming(request)
        if put_id is not None and len(incoming) != 1:
            raise statements.LrsError(400, "PUT takes exactly one statement")
        runtime = request.app.state.runtime

        def run():
            writer = EventWriter(runtime.clickhouse(), runtime.settings, "lrs")
            return statements.save(
                _store(request),
                writer,
                incoming,
                credential,
                version=_version(request),
                attachments=attachments,
                put_id=put_id,
                sessions=runtime.sessions,
            )

        return await run_in_threadpool(run)
    except multipart.MultipartError as exc:
        raise statements.LrsError(400, str(exc)) from None


@router.post("/statements")
async def post_statements(request: Request, credential: LrsCredential = Depends(require_lrs_write)) -> Response:
    if request.query_params:
        return _error(400, "POST /xAPI/statements takes no query parameters (use PUT with statementId)")
    try:
        result = await _save(request, credential)
    except statements.LrsError as exc:
        return _error(exc.status, exc.message)
    return JSONResponse(result.ids)


@router.put("/statements")
async def put_statement(request: Request, credential: LrsCredential = Depends(require_lrs_write)) -> Response:
    statement_id = request.query_params.get("statementId")
    if statement_id is None:
        return _error(400, "statementId: required for PUT")
    extra = sorted(set(request.query_params) - {"statementId"})
    if extra:
        return _error(400, f"{extra[0]}: unknown query parameter for PUT")
    if not UUID_RE.match(statement_id):
        return _error(400, "statementId: must be a UUID")
    try:
        await _save(request, credential, put_id=statement_id)
    except statements.LrsError as exc:
        return _error(exc.status, exc.message)
    return Response(status_code=204)


def _consistent_through() -> str:
    return format_stored(datetime.now(UTC))


def _answer(
    request: Request,
    document,
    attachments: dict | None,
    fetch_attachments: bool,
    head: bool,
    extra_headers: dict | None = None,
) -> Response:
    headers = {"X-Experience-API-Consistent-Through": _consistent_through(), **(extra_headers or {})}
    if fetch_attachments:
        body, content_type = multipart.build(document, attachments or {})
    else:
        body, content_type = orjson.dumps(document), "application/json"
    return Response(b"" if head else body, media_type=content_type, headers=headers)


def _attachments_of(store: StatementStore, credential: LrsCredential, documents: list[dict]) -> dict:
    return query.readable_attachments(store, credential, documents)


def _get(request: Request, credential: LrsCredential, head: bool) -> Response:
    params = dict(request.query_params)
    languages = formats.accept_languages(request.headers.get("accept-language"))
    store = _store(request)
    single = "statementId" in params or "voidedStatementId" in params
    try:
        if single:
            return _get_single(request, store, params, credential, languages, head)
        if "cursor" in params:
            filters, stored, last_id = query.decode_cursor(_cursor_secret(request), credential, params["cursor"])
            parsed = query.StatementQuery.parse({**filters, **{k: v for k, v in params.items() if k != "cursor"}})
            after = (stored, last_id)
        else:
            parsed, after = query.StatementQuery.parse(params), None
    except query.QueryError as exc:
        return _error(400, str(exc))
    rows, more = query.run(store, parsed, credential, _cursor_secret(request), after)
    documents = [formats.formatted(r.statement, parsed.format, languages) for r in rows]
    attachments = _attachments_of(store, credential, [r.statement for r in rows]) if parsed.attachments else None
    return _answer(request, {"statements": documents, "more": more}, attachments, parsed.attachments, head)


def _get_single(request, store, params, credential, languages, head) -> Response:
    if "statementId" in params and "voidedStatementId" in params:
        raise query.QueryError("statementId and voidedStatementId: send one of them")
    extra = sorted(set(params) - query.SINGLE_PARAMETERS)
    if extra:
        raise query.QueryError(f"{extra[0]}: not allowed with statementId or voidedStatementId")
    wants_voided = "voidedStatementId" in params
    statement_id = params["voidedStatementId" if wants_voided else "statementId"]
    if not UUID_RE.match(statement_id):
        raise query.QueryError(("voidedStatementId" if wants_voided else "statementId") + ": must be a UUID")
    fmt = params.get("format", "exact")
    if fmt not in query.FORMATS:
        raise query.QueryError("format: must be ids, exact or canonical")
    fetch_attachments = query._bool(params.get("attachments"), "attachments")
    row = store.fetch([statement_id]).get(statement_id.lower())
    readable = row is not None and _may_read(store, credential, row.statement_id)
    if not readable or row.voided != wants_voided:
        return _error(404, "no such statement" if not wants_voided else "no such voided statement")
    document = formats.formatted(row.statement, fmt, languages)
    attachments = _attachments_of(store, credential, [row.statement]) if fetch_attachments else None
    last_modified = row.stored.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return _answer(request, document, attachments, fetch_attachments, head, {"Last-Modified": last_modified})


def _may_read(store: StatementStore, credential: LrsCredential, statement_id: str) -> bool:
    clauses, params = query.scope_clauses(credential)
    if not clauses:
        return True
    result = store.client.query(
        f"SELECT count() FROM {store.table} FINAL WHERE statement_id = {{sid:String}} AND {' AND '.join(clauses)}",
        parameters={"sid": statement_id, **params},
    )
    return result.result_rows[0][0] > 0


@router.get("/statements")
async def get_statements(request: Request, credential: LrsCredential = Depends(require_lrs_read)) -> Response:
    return await run_in_threadpool(_get, request, credential, False)


@router.head("/statements", include_in_schema=False)
async def head_statements(request: Request, credential: LrsCredential = Depends(require_lrs_read)) -> Response:
    return await run_in_threadpool(_get, request, credential, True)
