"""The LRS front door shared by every /xAPI resource: HTTP Basic credentials (xolap.lrs.credentials) and the
X-Experience-API-Version header.

  lrs_credential(request) -> LrsCredential   FastAPI dependency: 400 when X-Experience-API-Version is missing or
                                              unsupported (every path but /xAPI/about; answered in the version the
                                              credential last spoke), 401 with WWW-Authenticate for missing or
                                              wrong Basic key/secret
  require_lrs_read(cred) / require_lrs_write(cred)   403 unless the credential has that right
  install(app)                                echo X-Experience-API-Version on every /xAPI response (errors too);
                                              the Alternate Request Syntax (xolap.web.lrs_alternate)

request.state.xapi_version is the version the request speaks ("1.0.3" or "2.0.0").
"""

from __future__ import annotations

import base64
import binascii
import re

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xolap.lrs import credentials, spoken_versions
from xolap.lrs.credentials import LrsCredential

PREFIX = "/xAPI"
VERSION_HEADER = "X-Experience-API-Version"
_VERSION_RE = re.compile(r"^(1\.0|2\.0)(\.\d{1,3})?$")
RESPONSE_VERSIONS = {"1.0": "1.0.3", "2.0": "2.0.0"}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="xolap LRS"'}


class LrsRefusal(HTTPException):
    """A refusal of the LRS front door: always answered as JSON (an xAPI client is not a browser), see install()."""


def spoken_version(header: str | None) -> str | None:
    """The LRS version answering a request that sent `header` ("1.0.3" or "2.0.0"); None when unsupported."""
    match = _VERSION_RE.match((header or "").strip())
    return RESPONSE_VERSIONS[match.group(1)] if match else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep and key else None


def check_version(request: Request, credential: LrsCredential) -> str:
    """The version the request speaks; a request without a supported one is refused (400) in the version its
    credential last spoke (xolap.lrs.spoken_versions)."""
    version = spoken_version(request.headers.get(VERSION_HEADER))
    if version is None:
        sent = request.headers.get(VERSION_HEADER)
        reason = "missing" if sent is None else "unsupported (this LRS speaks 1.0.x and 2.0.x)"
        raise LrsRefusal(
            400, f"{VERSION_HEADER} header {reason}", headers={VERSION_HEADER: spoken_versions.last(credential.key)}
        )
    spoken_versions.heard(credential.key, version)
    request.state.xapi_version = version
    return version


def lrs_credential(request: Request) -> LrsCredential:
    """The request's LRS credential (see the module docstring for the refusals)."""
    pair = basic_credentials(request)
    credential = None
    if pair is not None:
        with request.app.state.runtime.sessions() as session:
            credential = credentials.authenticate(session, *pair)
    if credential is None:
        raise LrsRefusal(401, "LRS credentials required: HTTP Basic with an LRS key and secret", headers=CHALLENGE)
    if not request.url.path.rstrip("/").endswith("/about"):
        check_version(request, credential)
    request.state.lrs_credential = credential
    return credential


def require_lrs_read(credential: LrsCredential = Depends(lrs_credential)) -> LrsCredential:
    if not credential.can_read:
        raise LrsRefusal(403, "this LRS credential may not read")
    return credential


def require_lrs_write(credential: LrsCredential = Depends(lrs_credential)) -> LrsCredential:
    if not credential.can_write:
        raise LrsRefusal(403, "this LRS credential may not write statements or documents")
    return credential


class VersionHeaderMiddleware:
    """Adds X-Experience-API-Version to every response under /xAPI: the version the request spoke; for a request
    without a supported one, the version the response already names (a refusal in the credential's last version, see
    check_version), else 1.0.3."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        sent = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-experience-api-version"), None
        )
        version = spoken_version(sent)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if version is not None or VERSION_HEADER not in headers:
                    headers[VERSION_HEADER] = version or spoken_versions.DEFAULT
            await send(message)

        await self.app(scope, receive, send_with_version)


def install(app) -> None:
    """Version echo, and the Alternate Request Syntax rewritten first (outermost), for every /xAPI resource."""
    from fastapi.responses import JSONResponse

    from xolap.web.lrs_alternate import AlternateRequestSyntax

    async def refusal(request: Request, exc: LrsRefusal) -> JSONResponse:
        return JSONResponse(
            {"error": True, "message": exc.detail, "detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.add_exception_handler(LrsRefusal, refusal)
    app.add_middleware(VersionHeaderMiddleware)
    app.add_middleware(AlternateRequestSyntax)
