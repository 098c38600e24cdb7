"""FastAPI application factory: shared runtime on app.state, routers, static assets, /healthz (up/down for anyone,
details for admins)."""

from __future__ import annotations

import time
from importlib import import_module
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

import xolap
from xolap.clickhouse.client import ping, server_info
from xolap.runtime import Runtime
from xolap.store.db import postgres_status
from xolap.web import hostile_input
from xolap.web.negotiation import install_error_pages


def health(runtime: Runtime) -> dict:
    """ClickHouse and Postgres status with versions; `ok` only when both answer."""
    settings = runtime.settings
    try:
        client = runtime.clickhouse()
        latency = ping(client)
        info = server_info(client, embedded=settings.is_embedded_clickhouse)
        clickhouse = {"ok": True, "version": info.version, "uptime_seconds": info.uptime_seconds,
                      "embedded": info.embedded, "ping_ms": round(latency, 2), "database": settings.clickhouse_database}
    except Exception as exc:  # noqa: BLE001 - health reports any failure, ClickHouseUnavailable included
        clickhouse = {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    postgres = postgres_status(settings)
    return {
        "ok": bool(clickhouse["ok"] and postgres["ok"]),
        "version": xolap.__version__,
        "uptime_seconds": round(time.time() - runtime.started_at, 1),
        "clickhouse": clickhouse,
        "postgres": postgres,
    }


def _asked_by_admin(request: Request) -> bool:
    """An admin principal; False when who is asking cannot be told (the database is down, say)."""
    from xolap.web.auth import resolve_principal

    try:
        return resolve_principal(request).is_admin
    except Exception:  # noqa: BLE001 - health must answer whatever state the stores are in
        return False


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="xolap", version=xolap.__version__)
    app.state.runtime = runtime
    install_error_pages(app)  # HTML 403/404 pages for browsers
    hostile_input.install(app)  # control characters and values the database refuses: 400, never 500

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> JSONResponse:
        """Anyone: {"status": "ok"|"down"} (200/503). Admins also get versions and uptime (as on /admin/clickhouse)."""
        body = health(runtime)
        status_code = 200 if body["ok"] else 503
        if not _asked_by_admin(request):
            return JSONResponse({"status": "ok" if body["ok"] else "down"}, status_code=status_code)
        return JSONResponse({"status": "ok" if body["ok"] else "down", **body}, status_code=status_code)

    static_dir = resources.files("xolap.web").joinpath("static")
    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    for module_name in ROUTER_MODULES:
        app.include_router(import_module(module_name).router)
    return app


# Modules that each expose a `router` (APIRouter); pages and APIs are added by listing them here.
ROUTER_MODULES: list[str] = [
    "xolap.web.api_ops",
    "xolap.web.api_statements",
    "xolap.web.api_backfill",
    "xolap.web.dashboards",
    "xolap.web.pages_account",
    "xolap.web.pages_admin",
    "xolap.web.pages_security",
    "xolap.web.scopes",
    "xolap.web.pages_backfill",
    "xolap.web.api_accounts",
]
