"""LRS credentials: HTTP Basic key/secret pairs (secret stored as SHA-256), each limited to write, read-own or
read-all, and optionally to one section or project; the authority an LRS credential stamps on statements.

Secrets are 32 random bytes made by the LRS, so a fast hash is as strong as a slow one and keeps every request cheap
(the same reasoning as api_tokens). A credential's scopes:
  write     store statements (and read back the ones it stored, like xAPI's statements/read/mine)
  read-own  read only the statements this credential stored
  read-all  read every statement (within its section or project when limited to one)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xolap.store.accounts import find_scope
from xolap.store.models import Base

SCOPES = ("write", "read-own", "read-all")
DEFAULT_SCOPES = ("write", "read-all")
AUTHORITY_HOMEPAGE = "urn:xolap:lrs"
KEY_PREFIX = "lrs_"
_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class CredentialError(ValueError):
    """A clear reason a credential operation was refused (unknown scope, section, empty name...)."""


class LrsCredentialRecord(Base):
    __tablename__ = "lrs_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[str] = mapped_column(String(100), nullable=False)  # comma-separated SCOPES
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class LrsCredential:
    """A live credential as a request sees it."""

    id: int
    name: str
    key: str
    scopes: frozenset[str]
    section_id: int | None = None
    project_id: int | None = None

    @property
    def can_write(self) -> bool:
        return "write" in self.scopes

    @property
    def can_read(self) -> bool:
        return bool(self.scopes)

    @property
    def reads_all(self) -> bool:
        return "read-all" in self.scopes

    @property
    def authority(self) -> dict:
        """The Agent set as `authority` on statements this credential stores (its key, never a person)."""
        return {"objectType": "Agent", "name": self.name, "account": {"homePage": AUTHORITY_HOMEPAGE, "name": self.key}}

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "key": self.key,
            "scopes": sorted(self.scopes),
            "section_id": self.section_id,
            "project_id": self.project_id,
        }


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(scopes: str | Iterable[str] | None) -> tuple[str, ...]:
    wanted = [s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes or DEFAULT_SCOPES)]
    wanted = [s for s in wanted if s]
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise CredentialError(f"scope must be one or more of {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
    return tuple(s for s in SCOPES if s in wanted)


def _record_credential(record: LrsCredentialRecord) -> LrsCredential:
    return LrsCredential(
        record.id, record.name, record.key, frozenset(record.scopes.split(",")), record.section_id, record.project_id
    )


def create(
    session: Session,
    name: str,
    scopes: str | Iterable[str] | None = DEFAULT_SCOPES,
    *,
    section: str | None = None,
    project: str | None = None,
) -> tuple[LrsCredential, str]:
    """A new credential and its secret (shown once). `section`/`project` are ids or slugs; at most one of them."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise CredentialError("name must be 1-200 printable characters")
    if section and project:
        raise CredentialError("limit a credential to a section or to a project, not both")
    section_id = project_id = None
    if section:
        section_row = find_scope(session, "section", section)
        if section_row is None:
            raise CredentialError(f"no section with id or slug {section!r}")
        section_id = section_row.id
    if project:
        project_row = find_scope(session, "project", project)
        if project_row is None:
            raise CredentialError(f"no project with id or slug {project!r}")
        project_id = project_row.id
    key = KEY_PREFIX + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    record = LrsCredentialRecord(
        name=name,
        key=key,
        secret_hash=_hash(secret),
        scopes=",".join(parse_scopes(scopes)),
        section_id=section_id,
        project_id=project_id,
    )
    session.add(record)
    session.flush()
    return _record_credential(record), secret


def authenticate(session: Session, key: str, secret: str) -> LrsCredential | None:
    """The live credential for key/secret, or None (same work whether or not the key exists)."""
    record = session.execute(
        select(LrsCredentialRecord).where(LrsCredentialRecord.key == key, LrsCredentialRecord.revoked_at.is_(None))
    ).scalar_one_or_none()
    expected = record.secret_hash if record is not None else "0" * 64
    if not hmac.compare_digest(expected.encode(), _hash(secret).encode()) or record is None:
        return None
    return _record_credential(record)


def list_all(session: Session, include_revoked: bool = False) -> list[dict]:
    query = select(LrsCredentialRecord).order_by(LrsCredentialRecord.id)
    if not include_revoked:
        query = query.where(LrsCredentialRecord.revoked_at.is_(None))
    return [
        {
            **_record_credential(r).as_json(),
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "revoked": r.revoked_at is not None,
        }
        for r in session.execute(query).scalars()
    ]


def revoke(session: Session, key: str) -> bool:
    """Revoke by key; False when there is no live credential with that key."""
    record = session.execute(
        select(LrsCredentialRecord).where(LrsCredentialRecord.key == key, LrsCredentialRecord.revoked_at.is_(None))
    ).scalar_one_or_none()
    if record is None:
        return False
    record.revoked_at = func.now()
    session.flush()
    return True
