"""Content negotiation: every page renders HTML for browsers and JSON for `Accept: application/json` (or ?format=json).

    from xolap.web.negotiation import render
    return render(request, "admin/users.html", {"users": users}, json_data={"users": [...]})

The HTML context always gets `principal`, `csrf_token`, `flashes` and `nav` (links the principal may open).
JSON is the `json_data` argument (encoded with FastAPI's jsonable_encoder), never the template context, so pages
choose what they expose; both go through the same route dependencies, hence the same authorization.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from xolap.counted import counted
from xolap.web import sessions
from xolap.web.accepts import wants_json  # noqa: F401 - pages import it from here too

if TYPE_CHECKING:
    from xolap.web.auth import Principal


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    from xolap.web.formatting import FILTERS
    from xolap.web.readable_errors import known_causes, readable_cause
    from xolap.web.static_assets import static_url

    directory = resources.files("xolap.web").joinpath("templates")
    environment = Jinja2Templates(directory=str(directory))
    # Templates are part of the installed package: compiled once, never checked for changes. Jinja's default stat()s
    # each template file (a page: the page and the layout it extends) on every render, and a page renders on the event
    # loop, where any call that gives up the GIL waits for it behind the busy threadpool (several ms under load).
    environment.env.auto_reload = False
    environment.env.filters.update(FILTERS)  # bytes, duration, duration_ms: readable sizes and times
    environment.env.filters["cause"] = readable_cause  # a failure's cause in plain words
    environment.env.globals["known_causes"] = known_causes  # the same words for a failure that arrives live
    environment.env.globals["counted"] = counted  # "1 row", "2 rows": a count with its noun
    environment.env.globals["static_url"] = static_url  # assets named by content version: browsers keep them
    return environment


def nav_links(principal: Principal | None) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []
    if principal is None or not principal.authenticated:
        return links
    links.append({"href": "/", "label": "Home"})
    if principal.is_admin:
        links += [
            {"href": "/admin/clickhouse", "label": "ClickHouse"},
            {"href": "/admin/console", "label": "SQL console"},
            {"href": "/admin/clickhouse/backfill", "label": "Backfill"},
            {"href": "/admin/users", "label": "Users"},
            {"href": "/admin/flags", "label": "Flags"},
            {"href": "/admin/scopes", "label": "Sections & projects"},
            {"href": "/admin/lrs", "label": "LRS credentials"},
            {"href": "/admin/logins", "label": "Failed logins"},
        ]
    links.append({"href": "/account", "label": "Account"})
    return links


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    json_data: Any = None,
    *,
    status_code: int = 200,
) -> Response:
    """HTML from `template` or JSON from `json_data`, as the client asks; writes the session/flash cookies."""
    from xolap.web.auth import resolve_principal

    if wants_json(request):
        response: Response = JSONResponse(
            jsonable_encoder(json_data if json_data is not None else {}), status_code=status_code
        )
    else:
        principal = resolve_principal(request)
        full = {
            "principal": principal,
            "csrf_token": sessions.ensure_csrf(request),
            "flashes": sessions.pending_flashes(request),
            "nav": nav_links(principal),
            **(context or {}),
        }
        response = templates().TemplateResponse(request, template, full, status_code=status_code)
        sessions.clear_consumed_flashes(request, response)
    return sessions.commit_session(request, response)


def redirect(
    request: Request, url: str, message: str | None = None, category: str = "info", json_data: Any = None
) -> Response:
    """After a form post: 303 to `url` with a flash message; JSON clients get `json_data` (or the message) instead."""
    from fastapi.responses import RedirectResponse

    if wants_json(request):
        body = json_data if json_data is not None else {"ok": category != "error", "message": message}
        return sessions.commit_session(
            request, JSONResponse(jsonable_encoder(body), status_code=400 if category == "error" else 200)
        )
    response = RedirectResponse(url, status_code=303)
    if message:
        sessions.flash(request, response, message, category)
    return sessions.commit_session(request, response)


def install_error_pages(app) -> None:
    """Browsers get an HTML page for 400/403/404/409/422 (with the reason), a malformed part of a page's address
    included; JSON clients and redirects keep FastAPI's answer."""
    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def html_client(request: Request) -> bool:
        return not request.url.path.startswith(("/api/", "/xAPI/")) and not wants_json(request)

    def error_page(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
        try:
            from xolap.web.auth import resolve_principal

            principal = resolve_principal(request)
        except Exception:  # noqa: BLE001 - an error page must not fail on a database error
            principal = None
        context = {
            "principal": principal,
            "csrf_token": sessions.ensure_csrf(request),
            "flashes": [],
            "nav": nav_links(principal),
            "status": status,
            "detail": detail,
        }
        response = templates().TemplateResponse(request, "error.html", context, status_code=status, headers=headers)
        return sessions.commit_session(request, response)

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        if html_client(request) and exc.status_code in (400, 403, 404, 409, 422):
            return error_page(request, exc.status_code, exc.detail, getattr(exc, "headers", None))
        return await http_exception_handler(request, exc)

    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not html_client(request):
            return await request_validation_exception_handler(request, exc)
        # each part named by where it is (never its value): "user_id: Input should be a valid integer, …"
        parts = [
            f"{'.'.join(str(step) for step in error.get('loc', ())[1:]) or 'request'}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        ]
        return error_page(request, 422, "; ".join(parts) or "the request is not valid")

    app.add_exception_handler(StarletteHTTPException, handler)
    app.add_exception_handler(RequestValidationError, invalid_request)
