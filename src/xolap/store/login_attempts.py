"""Failed-login records: write one per refused login (email as typed, cleaned; client address; reason; never the
password), count the recent ones the login throttle needs, and list them for admins."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xolap.store.models import FailedLogin, User, WebSession
from xolap.store.sessions import printable

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

MAX_EMAIL_LENGTH = 320
MAX_ADDRESS_LENGTH = 64
THROTTLED = "throttled"  # refused before the password was checked: listed for admins, not counted by the throttle


def clean_email(email: str) -> str:
    """The email as the throttle and the records see it: trimmed, lower case, printable, at most 320 characters."""
    return printable((email or "").strip().lower(), MAX_EMAIL_LENGTH)


def address_group(client_address: str) -> str:
    """What the throttle counts by: an IPv4 address as is (also when IPv6-mapped), an IPv6 address's /64 network
    (one host or customer commonly holds a whole /64), anything else (a test client's name) cut to 64 characters."""
    text = printable(client_address.strip(), MAX_ADDRESS_LENGTH)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def claim_attempt(session: Session, email: str, client_address: str) -> bool:
    """Take this (email, address group)'s login slot for the current transaction; False when another attempt holds it.

    One attempt at a time per pair, so parallel guesses cannot all pass the throttle before any failure is recorded.
    """
    group = address_group(client_address)
    digest = hashlib.sha256(f"xolap-login\x1f{clean_email(email)}\x1f{group}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    return bool(session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar_one())


def record_failure(session: Session, email: str, client_address: str, reason: str) -> FailedLogin:
    row = FailedLogin(
        email=clean_email(email),
        client_address=printable(client_address, MAX_ADDRESS_LENGTH),
        address_group=address_group(client_address),
        reason=reason[:40],
    )
    session.add(row)
    session.flush()
    return row


def _counted(window: timedelta) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return FailedLogin.reason != THROTTLED, FailedLogin.attempted_at > func.now() - window


@dataclass(frozen=True)
class RecentFailures:
    """What the login throttle counts, as one query reads it: for this email from this address's group, the failures
    within the window after the user's last successful login from this very address and the seconds since the newest
    of them; for the address's group, how long until fewer than the cap of failures (any emails) remain in the window
    (0 when already fewer)."""

    pair_failures: int
    since_newest_s: float
    address_wait_s: float


def recent_failures(
    session: Session, email: str, client_address: str, window: timedelta, address_cap: int
) -> RecentFailures:
    """The throttle's counts in one round trip (a login makes as few as it can: xolap.web.pages_account.login)."""
    email, group = clean_email(email), address_group(client_address)
    last_success = (
        select(func.max(WebSession.created_at))
        .join(User, User.id == WebSession.user_id)
        .where(User.email == email, WebSession.client_address == client_address)
        .scalar_subquery()
    )
    pair = (
        select(
            func.count().label("failures"),
            func.extract("epoch", func.now() - func.max(FailedLogin.attempted_at)).label("newest_age"),
        )
        .where(
            FailedLogin.email == email,
            FailedLogin.address_group == group,
            *_counted(window),
            FailedLogin.attempted_at > func.coalesce(last_success, func.to_timestamp(0)),
        )
        .subquery()
    )
    capth_newest_age = (
        select(func.extract("epoch", func.now() - FailedLogin.attempted_at))
        .where(FailedLogin.address_group == group, *_counted(window))
        .order_by(FailedLogin.attempted_at.desc())
        .offset(address_cap - 1)
        .limit(1)
        .scalar_subquery()
    )
    failures, newest_age, capth_age = session.execute(
        select(pair.c.failures, pair.c.newest_age, capth_newest_age.label("capth_age"))
    ).one()
    address_wait = 0.0 if capth_age is None else max(0.0, window.total_seconds() - float(capth_age))
    return RecentFailures(int(failures), float(newest_age or 0.0), address_wait)


def recent(session: Session, limit: int = 200, *, email: str = "", client_address: str = "") -> list[FailedLogin]:
    """The newest failed logins first, optionally only those for one email and/or from one address."""
    query = select(FailedLogin)
    if email.strip():
        query = query.where(FailedLogin.email == clean_email(email))
    if client_address.strip():
        query = query.where(FailedLogin.client_address == printable(client_address.strip(), MAX_ADDRESS_LENGTH))
    return list(
        session.execute(query.order_by(FailedLogin.attempted_at.desc(), FailedLogin.id.desc()).limit(limit)).scalars()
    )
