"""Request authentication for the operations JSON API: any admin principal (admin bearer token, an admin's API
token, or an admin's browser session with its CSRF token). Accounts and scoped access live in xolap.web.auth.

The operations API (ClickHouse migrations) needs no feature flag: the CLI drives it on fresh installs.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from xolap.web.auth import Principal, bearer_token, check_csrf, current_principal, refuse

__all__ = ["admin_api_refusal", "bearer_token", "is_admin_token", "require_admin_api"]


def is_admin_token(request: Request, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token.encode(), request.app.state.runtime.admin_token.encode())


def admin_api_refusal(principal: Principal) -> str | None:
    """Why this principal may not use the admin API, or None when it may (the rule of require_admin_api, which a
    live stream of the API checks again while it runs)."""
    if not principal.authenticated:
        return "login required"
    if not principal.is_admin:
        return "this token may not use the admin API"
    return None


async def require_admin_api(request: Request, principal: Principal = Depends(current_principal)) -> None:
    """Dependency: an admin is asking (401 without credentials, 403 for a non-admin or unknown token)."""
    reason = admin_api_refusal(principal)
    if reason is not None:
        raise refuse(request, principal, reason)
    await check_csrf(request)
