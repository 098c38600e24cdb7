"""Browser session records: create one at login, find the live one for a cookie's id, touch, list, revoke.

The cookie carries a random session id; only its sha256 is stored (a database reader cannot sign in as anyone).
A session is live while it is not revoked, `expires_at` (absolute lifetime) is ahead, it was seen within the idle
timeout, and the user's password is the one it was created with (so any password change ends it, whichever tool
made the change). Times are compared with the database's clock.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from xolap.store.accounts import password_fingerprint
from xolap.store.models import User, WebSession

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

IDLE_TIMEOUT = timedelta(hours=12)
ABSOLUTE_LIFETIME = timedelta(days=14)
TOUCH_INTERVAL = timedelta(minutes=1)  # last_seen_at is written at most this often per session
MAX_AGENT_LENGTH = 300
MAX_ADDRESS_LENGTH = 64


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def printable(text: str, limit: int) -> str:
    """The text without control characters (Postgres refuses NUL), cut to `limit` characters."""
    return "".join(ch for ch in (text or "") if ch.isprintable())[:limit]


def create(session: Session, user: User, *, user_agent: str = "", client_address: str = "") -> tuple[WebSession, str]:
    """A new live session for the user; returns (record, session id). Only the id's hash is stored."""
    session_id = new_session_id()
    # one INSERT ... RETURNING gives the whole row, the database-made times included (a login makes as few round trips
    # as it can: xolap.web.pages_account.login)
    record = session.scalars(
        insert(WebSession)
        .values(
            user_id=user.id,
            id_hash=hash_session_id(session_id),
            password_fingerprint=password_fingerprint(user),
            user_agent=printable(user_agent, MAX_AGENT_LENGTH),
            client_address=printable(client_address, MAX_ADDRESS_LENGTH),
            expires_at=func.now() + ABSOLUTE_LIFETIME,
        )
        .returning(WebSession)
    ).one()
    return record, session_id


def _live() -> tuple[ColumnElement[bool], ...]:
    return (
        WebSession.revoked_at.is_(None),
        WebSession.expires_at > func.now(),
        WebSession.last_seen_at > func.now() - IDLE_TIMEOUT,
    )


def find_live(session: Session, session_id: str) -> tuple[WebSession, User] | None:
    """The live session with this id and its user (last_seen_at refreshed), or None."""
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == hash_session_id(session_id), User.disabled_at.is_(None), *_live())
    ).first()
    if row is None:
        return None
    record, user = row
    if record.password_fingerprint != password_fingerprint(user):
        revoke(session, user.id, record.id, "password changed")
        return None
    session.execute(
        update(WebSession)
        .where(WebSession.id == record.id, WebSession.last_seen_at < func.now() - TOUCH_INTERVAL)
        .values(last_seen_at=func.now())
        .execution_options(access_unchanged=True)
    )
    return record, user


def seconds_left(session: Session, record_id: int) -> float:
    """How long the session stays live if nobody touches it (the earlier of its absolute expiry and idle timeout),
    by the database's clock; callers that keep a session's answer check it on every use against this."""
    left = session.scalar(
        select(
            func.extract(
                "epoch", func.least(WebSession.expires_at, WebSession.last_seen_at + IDLE_TIMEOUT) - func.now()
            )
        ).where(WebSession.id == record_id)
    )
    return float(left) if left is not None else 0.0


def list_live(session: Session, user_id: int) -> list[WebSession]:
    """The user's live sessions, oldest first (none while the user is disabled)."""
    rows = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.user_id == user_id, User.disabled_at.is_(None), *_live())
        .order_by(WebSession.created_at, WebSession.id)
    ).all()
    return [record for record, user in rows if record.password_fingerprint == password_fingerprint(user)]


def revoke(session: Session, user_id: int, record_id: int, reason: str) -> bool:
    """End one of the user's sessions; False when the user has no such live session."""
    ended = session.scalars(
        update(WebSession)
        .where(WebSession.id == record_id, WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason[:40])
        .returning(WebSession.id_hash)  # names the ended secret: every process forgets its facts only (access_cache)
    ).all()
    return len(ended) > 0


def revoke_all(session: Session, user_id: int, reason: str, *, keep: int | None = None) -> int:
    """End every session of the user (but `keep`, when given); returns how many were ended."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    values = query.values(revoked_at=func.now(), revoked_reason=reason[:40])
    return len(session.scalars(values.returning(WebSession.id_hash)).all())  # the ended secrets (as revoke())
