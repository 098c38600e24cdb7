"""xAPI document resources under /xAPI: State (/activities/state), Activity Profile (/activities/profile), Agent
Profile (/agents/profile), plus Activities (/activities) and Agents (/agents).

Each document resource answers GET/HEAD (one document with ETag and Last-Modified, or without its id the JSON array
of ids, `since` filtering), PUT (replace), POST (JSON merge) and DELETE (State also deletes every document of an
activity + agent [+ registration] when stateId is left out). Storage and concurrency rules: xolap.lrs.documents;
parameter rules: xolap.lrs.parameters (400 naming the parameter). Reading needs a credential that may read, writing
one that may write (xolap.web.lrs_auth). Concurrency headers: a PUT to a profile needs If-Match or If-None-Match (409
on an existing document, 400 on a new one); a PUT to State without them overwrites under xAPI 1.0.x and is a 409 on
an existing document under 2.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from xolap.lrs import documents
from xolap.lrs.activities import canonical_activity
from xolap.lrs.agents import person
from xolap.lrs.credentials import LrsCredential
from xolap.lrs.documents import DocumentAddress, DocumentError, DocumentSet, Preconditions, Viewer
from xolap.lrs.parameters import ParameterError, Parameters
from xolap.lrs.storage import StatementStore
from xolap.runtime import Runtime
from xolap.web.api_statements import read_body
from xolap.web.lrs_auth import require_lrs_read, require_lrs_write

router = APIRouter(prefix="/xAPI", tags=["lrs"])

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
# A document is returned with the Content-Type its writer chose (text/html, a script...) on the dashboards' origin: a
# browser opening one gets a download, or at most a sandboxed page that runs nothing and loads nothing.
STORED_CONTENT_POLICY = {
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
    "Content-Disposition": "attachment",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class Resource:
    """One document resource: its kind, parameter names, and which parameter names a single document."""

    kind: str
    id_parameter: str  # stateId | profileId
    allowed: frozenset[str]
    put_requires: str  # "always" (profiles) or "by-version" (State: "existing" under 2.0, nothing under 1.0.x)

    def parse(self, request: Request) -> tuple[DocumentSet, str | None, Parameters]:
        """(the document set, the document id or None, the checked parameters); 400 for bad parameters."""
        try:
            params = Parameters.of(request.query_params, self.allowed)
            activity_id = params.iri("activityId") if "activityId" in self.allowed else None
            agent = params.agent("agent") if "agent" in self.allowed else None
            registration = params.uuid("registration") if "registration" in self.allowed else None
            document_id = params.string(self.id_parameter, required=False)
            params.timestamp("since")
        except ParameterError as exc:
            raise HTTPException(400, str(exc)) from None
        return DocumentSet(self.kind, activity_id, agent, registration), document_id, params

    def require(self, request: Request) -> str | None:
        if self.put_requires == "always":
            return "always"
        return "existing" if getattr(request.state, "xapi_version", "1.0.3").startswith("2.") else None


STATE = Resource(
    "state", "stateId", frozenset({"activityId", "agent", "registration", "stateId", "since"}), "by-version"
)
ACTIVITY_PROFILE = Resource("activity_profile", "profileId", frozenset({"activityId", "profileId", "since"}), "always")
AGENT_PROFILE = Resource("agent_profile", "profileId", frozenset({"agent", "profileId", "since"}), "always")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _one_document(resource: Resource, request: Request) -> DocumentAddress:
    which, document_id, _params = resource.parse(request)
    if document_id is None:
        raise HTTPException(400, f"parameter {resource.id_parameter} is required")
    return which.document(document_id)


def _preconditions(request: Request) -> Preconditions:
    return Preconditions.from_headers(request.headers.get("if-match"), request.headers.get("if-none-match"))


async def _in_transaction(request: Request, work):
    """Run work(session) in a Postgres transaction in a worker thread; a DocumentError answers its status."""

    def run():
        with _runtime(request).sessions() as session:
            result = work(session)
            session.commit()
            return result

    try:
        return await run_in_threadpool(run)
    except DocumentError as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def _read(resource: Resource, request: Request, credential: LrsCredential) -> Response:
    which, document_id, params = resource.parse(request)
    viewer = Viewer.of(credential)
    head = request.method == "HEAD"
    if document_id is None:
        since = params.timestamp("since")
        ids = await _in_transaction(request, lambda s: documents.list_ids(s, which, viewer, since))
        return Response(b"" if head else orjson.dumps(ids), media_type="application/json")
    found = await _in_transaction(request, lambda s: documents.get(s, which.document(document_id), viewer))
    if found is None:
        raise HTTPException(404, f"no such document ({resource.id_parameter} not found for these parameters)")
    modified = format_datetime(found.updated_at.astimezone(UTC), usegmt=True)
    headers = {
        "ETag": found.quoted_etag,
        "Last-Modified": modified,
        "Content-Type": found.content_type,
        **STORED_CONTENT_POLICY,
    }
    return Response(b"" if head else found.content, headers=headers)


async def _body(request: Request) -> bytes:
    return await read_body(request, MAX_DOCUMENT_BYTES)


def _no_content(stored=None) -> Response:
    headers = {"ETag": stored.quoted_etag} if stored is not None else {}
    return Response(status_code=204, headers=headers)


async def _put(resource: Resource, request: Request, credential: LrsCredential) -> Response:
    where = _one_document(resource, request)
    content = await _body(request)
    content_type, checks, require = (
        request.headers.get("content-type"),
        _preconditions(request),
        resource.require(request),
    )
    stored = await _in_transaction(
        request, lambda s: documents.put(s, where, Viewer.of(credential), content_type, content, checks, require)
    )
    return _no_content(stored)


async def _post(resource: Resource, request: Request, credential: LrsCredential) -> Response:
    where = _one_document(resource, request)
    content = await _body(request)
    content_type, checks = request.headers.get("content-type"), _preconditions(request)
    stored = await _in_transaction(
        request,
        lambda s: documents.post(s, where, Viewer.of(credential), content_type, content, checks, MAX_DOCUMENT_BYTES),
    )
    return _no_content(stored)


async def _delete(resource: Resource, request: Request, credential: LrsCredential, many: bool = False) -> Response:
    which, document_id, _params = resource.parse(request)
    viewer = Viewer.of(credential)
    if document_id is None:
        if not many:
            raise HTTPException(400, f"parameter {resource.id_parameter} is required")
        await _in_transaction(request, lambda s: documents.clear(s, which, viewer))
        return _no_content()
    checks = _preconditions(request)
    await _in_transaction(request, lambda s: documents.delete(s, which.document(document_id), viewer, checks))
    return _no_content()


def _routes(path: str, resource: Resource, delete_many: bool) -> None:
    async def read(request: Request, credential: LrsCredential = Depends(require_lrs_read)) -> Response:
        return await _read(resource, request, credential)

    async def put(request: Request, credential: LrsCredential = Depends(require_lrs_write)) -> Response:
        return await _put(resource, request, credential)

    async def post(request: Request, credential: LrsCredential = Depends(require_lrs_write)) -> Response:
        return await _post(resource, request, credential)

    async def delete(request: Request, credential: LrsCredential = Depends(require_lrs_write)) -> Response:
        return await _delete(resource, request, credential, delete_many)

    name = resource.kind
    router.add_api_route(path, read, methods=["GET"], name=f"lrs_{name}_read")
    router.add_api_route(path, read, methods=["HEAD"], name=f"lrs_{name}_head", include_in_schema=False)
    router.add_api_route(path, put, methods=["PUT"], status_code=204, name=f"lrs_{name}_put")
    router.add_api_route(path, post, methods=["POST"], status_code=204, name=f"lrs_{name}_post")
    router.add_api_route(path, delete, methods=["DELETE"], status_code=204, name=f"lrs_{name}_delete")


_routes("/activities/state", STATE, delete_many=True)
_routes("/activities/profile", ACTIVITY_PROFILE, delete_many=False)
_routes("/agents/profile", AGENT_PROFILE, delete_many=False)


@router.head("/activities", include_in_schema=False)
@router.get("/activities")
async def activities(request: Request, credential: LrsCredential = Depends(require_lrs_read)) -> Response:
    """The canonical Activity object for `activityId`, merged from the statements this credential may read."""
    try:
        activity_id = Parameters.of(request.query_params, {"activityId"}).iri("activityId")
    except ParameterError as exc:
        raise HTTPException(400, str(exc)) from None
    runtime = _runtime(request)

    def build() -> dict:
        store = StatementStore(runtime.clickhouse(), runtime.settings.clickhouse_database)
        return canonical_activity(store, credential, activity_id)

    body = b"" if request.method == "HEAD" else orjson.dumps(await run_in_threadpool(build))
    return Response(body, media_type="application/json")


@router.head("/agents", include_in_schema=False)
@router.get("/agents")
async def agents(request: Request, credential: LrsCredential = Depends(require_lrs_read)) -> Response:
    """The Person object for `agent`: every identifier and name the LRS knows for it, as arrays."""
    try:
        agent = Parameters.of(request.query_params, {"agent"}).agent("agent")
    except ParameterError as exc:
        raise HTTPException(400, str(exc)) from None
    body = b"" if request.method == "HEAD" else orjson.dumps(person(agent))
    return Response(body, media_type="application/json")
