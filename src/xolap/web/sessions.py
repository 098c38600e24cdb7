"""Session cookies: a random session id (signed with itsdangerous), the CSRF token derived from it, and one-shot
flash messages.

The cookie holds only {"sid": <random id>}; signed-in state lives server-side in Postgres (xolap.store.sessions,
which stores the id's sha256), so logout and revocation end a session at once. Visitors who are not signed in get
an id too (no record), so the login form has a CSRF token; login always issues a fresh id. The CSRF token is
HMAC(secret key, sid). Signing key: XOLAP_SECRET_KEY, else a key generated once into <data_dir>/secret-key (0600).
Cookie flags: HttpOnly, SameSite=Lax, Secure on https; it lives as long as the longest session may.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from xolap.runtime import local_secret
from xolap.store.sessions import ABSOLUTE_LIFETIME, new_session_id

SESSION_COOKIE = "xolap_session"
FLASH_COOKIE = "xolap_flash"
MAX_AGE = int(ABSOLUTE_LIFETIME.total_seconds())


def secret_key(request: Request) -> str:
    """The signing key of this app's cookies, worked out once per app: every cookie read and CSRF check needs it, and
    the generated key's place is a resolved path (file system calls on each request otherwise)."""
    state = request.app.state
    key = getattr(state, "session_secret", None)
    if key is None:
        settings = state.runtime.settings
        if settings.secret_key is not None and settings.secret_key.get_secret_value():
            key = settings.secret_key.get_secret_value()
        else:
            key = _local_secret(settings.data_dir.resolve())
        state.session_secret = key
    return key


@lru_cache(maxsize=8)
def _local_secret(data_dir: Path) -> str:
    return local_secret(data_dir, "secret-key", 48)


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return _serializer_for(secret_key(request), salt)


@lru_cache(maxsize=16)
def _serializer_for(key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=salt)


# Session cookies whose signature this process verified: (key, cookie) -> (sid, signed at, epoch seconds). A browser
# sends the same cookie on every request, so its HMAC is checked once; the age is checked on every use, and a changed
# cookie (tampered, re-signed) is another entry, verified on its own. Cleared whole past VERIFIED_COOKIES entries.
VERIFIED_COOKIES = 10_000
_verified: dict[tuple[str, str], tuple[str, float]] = {}


def _verified_sid(request: Request, raw: str) -> str | None:
    """The session id a genuine cookie that is not too old carries, else None."""
    key = secret_key(request)
    known = _verified.get((key, raw))
    if known is not None:
        sid, signed_at = known
        return sid if time.time() - signed_at <= MAX_AGE else None
    try:
        loaded, signed = _serializer_for(key, "xolap-session").loads(raw, max_age=MAX_AGE, return_timestamp=True)
    except BadSignature:
        return None
    if not (isinstance(loaded, dict) and isinstance(loaded.get("sid"), str) and loaded["sid"]):
        return None
    if len(_verified) >= VERIFIED_COOKIES:
        _verified.clear()
    _verified[(key, raw)] = (loaded["sid"], signed.timestamp())
    return loaded["sid"]


def read_session(request: Request) -> dict[str, Any]:
    """The verified cookie payload ({"sid": ...}), or {} when absent, tampered with or too old. Cached on request.state."""
    if hasattr(request.state, "session"):
        return request.state.session
    raw = request.cookies.get(SESSION_COOKIE)
    data: dict[str, Any] = {}
    sid = _verified_sid(request, raw) if raw else None
    if sid:
        data = {"sid": sid}
    request.state.session = data
    return data


def session_id(request: Request) -> str | None:
    return read_session(request).get("sid")


def csrf_for(request: Request, sid: str) -> str:
    return hmac.new(secret_key(request).encode(), b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()


def expected_csrf(request: Request) -> str | None:
    """The CSRF token this request's cookie calls for (None without a cookie)."""
    sid = session_id(request)
    return csrf_for(request, sid) if sid else None


def ensure_csrf(request: Request) -> str:
    """The CSRF token for this browser, giving it a (not signed-in) session id first when it has none."""
    sid = session_id(request)
    if not sid:
        sid = new_session_id()
        request.state.session = {"sid": sid}
        request.state.session_dirty = True
    return csrf_for(request, sid)


def start_session(request: Request, sid: str) -> None:
    """After login: the browser gets the new session's id (a fresh id, so a pre-login id or CSRF token is not reused)."""
    request.state.session = {"sid": sid}
    request.state.session_dirty = True


def end_session(request: Request) -> None:
    """Forget the id in this browser (the caller revokes the server-side record)."""
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
        response.set_cookie(
            SESSION_COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )
    else:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def flash(request: Request, response: Response, message: str, category: str = "info") -> Response:
    """Queue a message for the next page this browser renders (e.g. after a redirect)."""
    messages = pending_flashes(request, consume=False) + [{"category": category, "message": message}]
    value = _serializer(request, "xolap-flash").dumps(messages[-10:])
    response.set_cookie(
        FLASH_COOKIE, value, max_age=300, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
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
