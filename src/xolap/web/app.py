"""FastAPI application factory: shared runtime on app.state, routers, static assets, /healthz (up/down for anyone,
details for admins)."""

from __future__ import annotations

from importlib import import_module, resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from xolap.runtime import Runtime
from xolap.web import body_limits, headers, hostile_input, lrs_auth, unavailable
from xolap.web.negotiation import install_error_pages
from xolap.web.static_assets import VersionedStaticFiles


def health(runtime: Runtime) -> dict:
    """Components (ClickHouse, Postgres, S3, job and ETL workers) with their state and last error; `ok` when every
    required one is up (xolap.analytics.health.component_health)."""
    from xolap.analytics.health import component_health

    return component_health(runtime)


def _asked_by_admin(request: Request) -> bool:
    """An admin principal; False when who is asking cannot be told (the database is down, say)."""
    from xolap.web.auth import resolve_principal

    try:
        return resolve_principal(request).is_admin
    except Exception:  # noqa: BLE001 - health must answer whatever state the stores are in
        return False


def create_app(runtime: Runtime) -> FastAPI:
    # The OpenAPI document names the API's version, not the build's (anonymous callers learn no software version);
    # FastAPI's /docs and /redoc pages load their scripts from a CDN, which neither this machine nor the CSP allows.
    app = FastAPI(title="xolap", version="v1", docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_error_pages(app)  # HTML 403/404 pages for browsers
    hostile_input.install(app)  # control characters and values the database refuses: 400, never 500
    body_limits.install(app)  # a request body past its route's limit: 413 at once, never held whole
    unavailable.install(app)  # Postgres or ClickHouse down: 503 with a JSON message, never a 500 trace

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> JSONResponse:
        """Anyone: {"status": "ok"|"down"} (200/503). Admins also get versions and uptime (as on /admin/clickhouse)."""
        body = health(runtime)
        status_code = 200 if body["ok"] else 503
        if not _asked_by_admin(request):
            return JSONResponse({"status": "ok" if body["ok"] else "down"}, status_code=status_code)
        return JSONResponse({"status": "ok" if body["ok"] else "down", **body}, status_code=status_code)

    static_dir = resources.files("xolap.web").joinpath("static")
    if static_dir.is_dir():  # versioned asset URLs are kept by browsers for good (xolap.web.static_assets)
        app.mount("/static", VersionedStaticFiles(directory=str(static_dir)), name="static")

    for module_name in ROUTER_MODULES:
        app.include_router(import_module(module_name).router)
    lrs_auth.install(app)  # X-Experience-API-Version echoed on every /xAPI response
    headers.install(app)  # CSP, X-Frame-Options, nosniff, Referrer-Policy on every response, errors included
    return app


# Modules that each expose a `router` (APIRouter); pages and APIs are added by listing them here.
ROUTER_MODULES: list[str] = [
    "xolap.web.api_ops",
    "xolap.web.api_statements",
    "xolap.web.api_backfill",
    "xolap.web.dashboards",
    "xolap.web.pages_account",
    "xolap.web.pages_admin",
    "xolap.web.pages_console",
    "xolap.web.pages_security",
    "xolap.web.pages_scopes",
    "xolap.web.pages_backfill",
    "xolap.web.api_accounts",
    "xolap.web.lrs_about",
    "xolap.web.lrs_statements",
    "xolap.web.pages_lrs",
    "xolap.web.lrs_documents",
]
