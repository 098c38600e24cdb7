"""Admin view of failed logins (page and JSON): who was tried, from which address, when and why; never passwords."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from xolap.store import login_attempts
from xolap.web.auth import Principal, require_site_admin
from xolap.web.negotiation import render

router = APIRouter(tags=["admin"])


@router.get("/admin/logins")
def failed_logins(
    request: Request,
    limit: int = Query(200, ge=1, le=1000),
    email: str = "",
    address: str = "",
    principal: Principal = Depends(require_site_admin),
):
    """The newest failed logins, optionally for one email (as typed) and/or from one client address."""
    with request.app.state.runtime.sessions() as session:
        rows = [
            {
                "id": r.id,
                "email": r.email,
                "client_address": r.client_address,
                "reason": r.reason,
                "attempted_at": r.attempted_at,
            }
            for r in login_attempts.recent(session, limit, email=email, client_address=address)
        ]
    filters = {"email": email, "address": address}
    return render(
        request,
        "admin/logins.html",
        {"rows": rows, "limit": limit, "filters": filters},
        json_data={"failed_logins": rows, "limit": limit, "filters": filters},
    )
