"""Request authentication for the JSON API: the admin bearer token (accounts extend this module)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_admin_token(request: Request, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token, request.app.state.runtime.admin_token)


def require_admin_api(request: Request) -> None:
    """Dependency: the request carries the admin bearer token."""
    token = bearer_token(request)
    if token is None:
        raise HTTPException(401, "missing bearer token")
    if not is_admin_token(request, token):
        raise HTTPException(403, "this token may not use the admin API")
