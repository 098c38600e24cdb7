"""Request authentication for the operations JSON API: any admin principal (admin bearer token, an admin's API
token, or an admin's browser session with its CSRF token). Accounts and scoped access live in xolap.web.auth.

The operations API (ClickHouse migrations) needs no feature flag: the CLI drives it on fresh installs.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from xolap.web.auth import Principal, bearer_token, check_csrf, current_principal, refuse

__all__ = ["bearer_token", "is_admin_token", "require_admin_api"]


def is_admin_token(request: Request, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token.encode(), request.app.state.runtime.admin_token.encode())


async def require_admin_api(request: Request, principal: Principal = Depends(current_principal)) -> None:
    """Dependency: an admin is asking (401 without credentials, 403 for a non-admin or unknown token)."""
    if not principal.authenticated:
        raise refuse(request, principal, "login required")
    if not principal.is_admin:
        raise refuse(request, principal, "this token may not use the admin API")
    await check_csrf(request)
