"""What a client asks for: JSON (`?format=json`, or an Accept header for JSON and not HTML) or HTML pages."""

from __future__ import annotations

from fastapi import Request


def wants_json(request: Request) -> bool:
    """True for `?format=json`, or an Accept header asking for JSON and not for HTML."""
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept
