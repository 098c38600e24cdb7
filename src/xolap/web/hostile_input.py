"""Hostile request input gets a clear 400, never a 500, for every route at once:

- a control character (NUL, %00, CR/LF, ESC, DEL, C1 controls) anywhere in the decoded path or query string is refused
  before routing: no slug, id or filter with one reaches Postgres (which cannot store NUL) or ClickHouse;
- a query parameter given more than once (`?verb=a&verb=b`) is refused before routing, naming it: no route takes a
  list from the query string, and the xAPI spec wants a 400 rather than one of the values used quietly;
- a value the database refuses (a number out of range for its column, a NUL in a form or JSON field, text that is
  not valid for the column's type) answers 400 naming the kind of problem, without echoing the value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Receive, Scope, Send

from xolap.web.asgi_answers import send_json_error

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character_in(scope: Scope) -> str | None:
    """Which part of the request ("path" or "query string") holds a control character, if any."""
    if CONTROL.search(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    if CONTROL.search(unquote_plus(query, encoding="utf-8", errors="replace")):
        return "query string"
    return None


def printable_name(name: str) -> str:
    """A parameter's name as an error may show it (a long or unprintable one is not echoed)."""
    return name if len(name) <= 40 and name.isprintable() else "(unprintable)"


def repeated_parameter_in(scope: Scope) -> str | None:
    """The first query parameter name the query string gives more than once, if any."""
    seen: set[str] = set()
    query = scope.get("query_string", b"").decode("latin-1")
    for name, _value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        if name in seen:
            return name
        seen.add(name)
    return None


class RefuseControlCharacters:
    """ASGI middleware: 400 for a request whose path or query string has a control character, or whose query string
    gives a parameter more than once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = control_character_in(scope)
            if where is not None:
                await send_json_error(
                    send,
                    400,
                    f"the request {where} contains a control character (such as NUL or a line break): remove it and "
                    "try again",
                )
                return
            repeated = repeated_parameter_in(scope)
            if repeated is not None:
                await send_json_error(
                    send, 400, f"query parameter {printable_name(repeated)} given more than once: send it once"
                )
                return
        await self.app(scope, receive, send)


def _database_refused(request: Request, exc: Exception) -> JSONResponse:
    """SQLAlchemy's DataError wraps the driver's; code using psycopg directly raises the driver's own."""
    driver_error = getattr(exc, "orig", None) or exc
    diag = getattr(driver_error, "diag", None)
    lines = str(driver_error).splitlines()
    problem = getattr(diag, "message_primary", None) or (lines[0] if lines else "")
    problem = problem.split(":")[0].strip() or "a value is not valid"  # the kind of problem, never the value itself
    return JSONResponse(
        {"detail": f"the request has a value the database cannot store or compare ({problem})"}, status_code=400
    )


def install(app: FastAPI) -> None:
    app.add_middleware(RefuseControlCharacters)
    app.add_exception_handler(DataError, _database_refused)
    app.add_exception_handler(psycopg.DataError, _database_refused)
