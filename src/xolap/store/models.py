"""Core Postgres models: users, API tokens and browser sessions, failed logins, projects and sections, memberships,
feature flags, saved queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _now()
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # set: no login, sessions, tokens

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A hashed bearer token for the JSON API (the token itself is shown once, at creation)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id; only its sha256 is stored. A session works while it is not
    revoked, not past expires_at (absolute), seen within the idle timeout, and the user's password is unchanged."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    user_agent: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    client_address: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    created_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class FailedLogin(Base):
    """One refused login: the email as typed (cleaned), the client address (and its network for IPv6: the throttle
    counts per /64, since one host can use many addresses of its /64), why; never the password."""

    __tablename__ = "failed_logins"
    __table_args__ = (
        Index("ix_failed_logins_email_group", "email", "address_group", "attempted_at"),
        Index("ix_failed_logins_group", "address_group", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    client_address: Mapped[str] = mapped_column(String(64), nullable=False)
    address_group: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(
        String(40), nullable=False
    )  # unknown email | wrong password | no password | throttled
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )


class Project(Base):
    """A course project; its id is the producer's project_id as found in events."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[datetime] = _now()


class Section(Base):
    """A course section (a class taught from a project); its id is the producer's section_id."""

    __tablename__ = "sections"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = _now()


class Membership(Base):
    """A user's role in one section (instructor) or one project (author)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "role", "section_id", "project_id", name="uq_membership"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)  # instructor | author
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _now()

    user: Mapped[User] = relationship(back_populates="memberships")


class FeatureFlag(Base):
    """A feature switched on globally (scope_type 'global', scope_id 0) or for one section or project."""

    __tablename__ = "feature_flags"
    __table_args__ = (UniqueConstraint("name", "scope_type", "scope_id", name="uq_feature_flag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    scope_type: Mapped[str] = mapped_column(String(20), nullable=False, default="global")
    scope_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[datetime] = _now()


class SavedVisualization(Base):
    """Custom SQL plus a Vega-Lite spec saved for one section or project."""

    __tablename__ = "saved_visualizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(20), nullable=False)  # section | project
    scope_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    sql: Mapped[str] = mapped_column(Text, nullable=False)
    spec: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class LrsDocument(Base):
    """One xAPI document (State, Activity Profile or Agent Profile; xolap.lrs.documents): its bytes, content type,
    SHA-1 ETag and last change. `address` (unique) and `scope` are SHA-256 hashes of the document's identifying
    parameters, so IRIs of any length stay indexable; the agent is kept only as the hash of its identifier. The
    owner columns record the credential that created the document and its section/project limit (who may see it)."""

    __tablename__ = "lrs_documents"
    __table_args__ = (Index("ix_lrs_documents_scope", "scope", "updated_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # state | activity_profile | agent_profile
    address: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scope: Mapped[str] = mapped_column(String(64), nullable=False)  # kind + activity + agent: what a list covers
    activity_id: Mapped[str | None] = mapped_column(Text)
    agent_hash: Mapped[str | None] = mapped_column(String(64))
    registration: Mapped[str | None] = mapped_column(String(36))
    document_id: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    etag: Mapped[str] = mapped_column(String(40), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    owner_credential_id: Mapped[int | None] = mapped_column(Integer)
    owner_section_id: Mapped[int | None] = mapped_column(BigInteger)
    owner_project_id: Mapped[int | None] = mapped_column(BigInteger)
