"""Signed session cookies (itsdangerous): who is logged in, the CSRF token, and one-shot flash messages.

The cookie holds {"uid", "pw" (password fingerprint), "csrf"} signed with the secret key (XOLAP_SECRET_KEY, else a
key generated once into <data_dir>/secret-key, mode 0600). Flags: HttpOnly, SameSite=Lax, Secure on https, 14 days.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from xolap.runtime import local_secret

SESSION_COOKIE = "xolap_session"
FLASH_COOKIE = "xolap_flash"
MAX_AGE = 14 * 24 * 3600


def secret_key(request: Request) -> str:
    settings = request.app.state.runtime.settings
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    return _local_secret(settings.data_dir.resolve())


@lru_cache(maxsize=8)
def _local_secret(data_dir: Path) -> str:
    return local_secret(data_dir, "secret-key", 48)


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(request), salt=salt)


def read_session(request: Request) -> dict[str, Any]:
    """The verified session payload, or {} when absent, tampered with or expired. Cached on request.state."""
    if hasattr(request.state, "session"):
        return request.state.session
    raw = request.cookies.get(SESSION_COOKIE)
    data: dict[str, Any] = {}
    if raw:
        try:
            loaded = _serializer(request, "xolap-session").loads(raw, max_age=MAX_AGE)
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    request.state.session = data
    return data


def ensure_csrf(request: Request) -> str:
    """The session's CSRF token, creating one (and marking the cookie for writing) when missing."""
    data = read_session(request)
    if not data.get("csrf"):
        data["csrf"] = secrets.token_urlsafe(32)
        request.state.session_dirty = True
    return data["csrf"]


def start_session(request: Request, user_id: int, fingerprint: str) -> None:
    """Log a user in: a fresh session (new CSRF token, so a pre-login token is not reused)."""
    request.state.session = {"uid": user_id, "pw": fingerprint, "csrf": secrets.token_urlsafe(32)}
    request.state.session_dirty = True


def end_session(request: Request) -> None:
    request.state.session = {}
    request.state.session_dirty = True


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def commit_session(request: Request, response: Response) -> Response:
    """Write (or clear) the session cookie on the response when the session changed in this request."""
    if not getattr(request.state, "session_dirty", False):
        return response
    data = getattr(request.state, "session", {})
    if data:
        value = _serializer(request, "xolap-session").dumps(data)
        response.set_cookie(SESSION_COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="lax",
                            secure=_secure(request), path="/")
    else:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def flash(request: Request, response: Response, message: str, category: str = "info") -> Response:
    """Queue a message for the next page this browser renders (e.g. after a redirect)."""
    messages = pending_flashes(request, consume=False) + [{"category": category, "message": message}]
    value = _serializer(request, "xolap-flash").dumps(messages[-10:])
    response.set_cookie(FLASH_COOKIE, value, max_age=300, httponly=True, samesite="lax", secure=_secure(request), path="/")
    request.state.flash_written = True
    return response


def pending_flashes(request: Request, *, consume: bool = True) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or getattr(request.state, "flash_consumed", False):
        return []
    try:
        messages = _serializer(request, "xolap-flash").loads(raw, max_age=300)
    except BadSignature:
        messages = []
    if consume:
        request.state.flash_consumed = True
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def clear_consumed_flashes(request: Request, response: Response) -> None:
    if getattr(request.state, "flash_consumed", False) and not getattr(request.state, "flash_written", False):
        response.delete_cookie(FLASH_COOKIE, path="/")
