"""Admin page for LRS credentials (/admin/lrs): list, create (the secret is shown once) and revoke the HTTP Basic
key/secret pairs producers use at /xAPI. Same rules as `xolap lrs credentials` (xolap.lrs.credentials); JSON too."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request

from xolap.lrs import credentials
from xolap.web.auth import Principal, require_site_admin
from xolap.web.negotiation import redirect, render

router = APIRouter(tags=["admin"])


def _page(
    request: Request,
    *,
    created: dict | None = None,
    error: str | None = None,
    form: dict | None = None,
    status_code: int = 200,
):
    """The page; `form` holds what a refused form sent, so it is shown again as typed."""
    with request.app.state.runtime.sessions() as session:
        rows = credentials.list_all(session, include_revoked=True)
    data = {"credentials": rows, "created": created, "error": error, "scopes": list(credentials.SCOPES)}
    return render(request, "admin/lrs.html", {**data, "form": form}, json_data=data, status_code=status_code)


@router.get("/admin/lrs")
def lrs_page(request: Request, principal: Principal = Depends(require_site_admin)):
    return _page(request)


@router.post("/admin/lrs/credentials")
def create_credential(
    request: Request,
    name: str = Form(""),  # empty: named by credentials.create's rule on the page, not FastAPI's 'Field required'
    # the page's form also sends an empty 'scopes', so every box unticked is no scope (refused), not this default
    scopes: list[str] = Form(["write", "read-all"]),
    section: str = Form(""),
    project: str = Form(""),
    principal: Principal = Depends(require_site_admin),
):
    try:
        with request.app.state.runtime.sessions() as session:
            cred, secret = credentials.create(
                session, name, scopes, section=section.strip() or None, project=project.strip() or None
            )
            session.commit()
    except credentials.CredentialError as exc:
        form = {"name": name, "scopes": [s for s in scopes if s], "section": section, "project": project}
        return _page(request, error=str(exc), form=form, status_code=400)
    return _page(request, created={**cred.as_json(), "secret": secret}, status_code=201)


@router.post("/admin/lrs/credentials/{key}/revoke")
def revoke_credential(key: str, request: Request, principal: Principal = Depends(require_site_admin)):
    with request.app.state.runtime.sessions() as session:
        revoked = credentials.revoke(session, key)
        session.commit()
    if not revoked:
        raise HTTPException(404, "no live LRS credential with that key")
    return redirect(request, "/admin/lrs", "credential revoked", json_data={"revoked": key})
