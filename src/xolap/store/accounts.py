"""User accounts: argon2 passwords, roles (admin, instructor of sections, author of projects) and hashed API tokens."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Literal, TypeVar, overload

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from xolap.store.affected import affected_rows
from xolap.store.models import ApiToken, Membership, Project, Section, User, WebSession

# argon2id at OWASP's minimum of m=19 MiB, t=2, p=1 (Password Storage Cheat Sheet; its equally strong alternatives
# trade memory for passes). About 22 ms of one core a hash on the 2-core bench machine, well inside the 150 ms page
# goal. Among the OWASP choices costing about as much CPU (12 MiB/t=3, 9 MiB/t=4, 7 MiB/t=5: 16-24 ms) it makes a
# guess hold the most memory, which is what a GPU attacker pays for; 46 MiB/t=1 costs 60 ms. README: "Accounts and
# access".
PASSWORD_PARAMETERS = Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=19 * 1024, parallelism=1
)
# What every hash was made with until 2026-11-30 (PasswordHasher()'s default, RFC 9106 low-memory: m=64 MiB, t=3,
# p=4, ~200 ms CPU): such hashes still verify and are replaced at the user's next successful login.
FORMER_PASSWORD_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(PASSWORD_PARAMETERS)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "xolap_"
_DUMMY_PASSWORD = "not-a-real-password"
_DUMMY_HASH = _hasher.hash(_DUMMY_PASSWORD)
_CURRENT_HASH_PREFIX = _DUMMY_HASH.rsplit("$", 2)[0] + "$"  # "$argon2id$v=19$m=19456,t=2,p=1$": salt and hash follow
# Password hashes computed or checked at once, at most: one a core (p=1 runs on one thread; more at once finish no
# sooner), and never more than PASSWORD_MEMORY_BUDGET_KIB of argon2 memory together (a burst of 50 logins at the
# former 64 MiB held over a GiB).
PASSWORD_MEMORY_BUDGET_KIB = 256 * 1024
PASSWORD_WORK_SLOTS = max(2, min(os.cpu_count() or 2, PASSWORD_MEMORY_BUDGET_KIB // PASSWORD_PARAMETERS.memory_cost))
_password_work = threading.BoundedSemaphore(PASSWORD_WORK_SLOTS)


Hashed = TypeVar("Hashed")


def _argon2(action: Callable[..., Hashed], *args: str) -> Hashed:
    with _password_work:
        return action(*args)


class AccountError(ValueError):
    """A clear reason an account operation was refused (bad email, short password, unknown section...)."""


@dataclass(frozen=True)
class Roles:
    """What a user may see: admin flag, sections they teach, projects they author."""

    is_admin: bool
    section_ids: frozenset[int]
    project_ids: frozenset[int]


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    return _argon2(_hasher.hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user has a password."""
    try:
        return _argon2(_hasher.verify, password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL_RE.match(email):
        raise AccountError(f"invalid email address {email!r}")
    return email


def find_user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar_one_or_none()


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise AccountError(f"no user with email {email!r}")
    return user


def new_user_problems(session: Session, email: str, password: str | None) -> dict[str, str]:
    """What stops a new account, by field ("email", "password"); empty when it may be created. The one set of rules
    `xolap users add`, the admin page and the JSON API apply (create_user raises them)."""
    problems: dict[str, str] = {}
    try:
        normalized = normalize_email(email)
    except AccountError as exc:
        problems["email"] = str(exc)
    else:
        if find_user(session, normalized) is not None:
            problems["email"] = f"a user with email {normalized!r} already exists"
    if password and len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"password too short: at least {MIN_PASSWORD_LENGTH} characters"
    return problems


def create_user(
    session: Session, email: str, *, password: str | None = None, is_admin: bool = False, name: str = ""
) -> User:
    """A new user (AccountError names every rule it breaks: new_user_problems)."""
    problems = new_user_problems(session, email, password)
    if problems:
        raise AccountError("; ".join(problems.values()))
    email = normalize_email(email)
    user = User(
        email=email, name=name.strip(), is_admin=is_admin, password_hash=hash_password(password) if password else None
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    """A disabled user cannot sign in, and their browser sessions and API tokens stop working at once."""
    user.disabled_at = (user.disabled_at or func.now()) if disabled else None
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user when the email and password match, else None. A refusal costs the same argon2 work whether the email
    is unknown or its hash is current or former (_refusal_work); a match on a former hash re-hashes it (_rehash)."""
    user = find_user(session, email)
    stored = user.password_hash if user else None
    if not verify_password(stored, password):
        _refusal_work(session, stored, password)
        return None
    if user is None or stored is None:  # verify_password is False without a stored hash: never reached
        return None
    if _needs_rehash(stored):
        _rehash(session, user, stored, password)
    return user


def _needs_rehash(stored: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _refusal_work(session: Session, stored: str | None, password: str) -> None:
    """Complete a refused login's argon2 work to one check at the current parameters and, while any stored hash still
    has former ones, one at the former: so the time of a refusal tells no one whether the email exists, nor whether
    its owner has signed in since the parameters changed (a former hash alone costs ~10 times a current one)."""
    if stored is not None and _needs_rehash(stored):
        verify_password(None, password)  # the former hash was checked: add the current-parameter check
    elif _former_hashes_remain(session):
        verify_password(_dummy_hash(FORMER_PASSWORD_PARAMETERS), password)


def _former_hashes_remain(session: Session) -> bool:
    other = User.password_hash.is_not(None) & ~User.password_hash.startswith(_CURRENT_HASH_PREFIX, autoescape=True)
    return session.execute(select(User.id).where(other).limit(1)).first() is not None


_dummy_hashes: dict[tuple[object, ...], str] = {}


def _dummy_hash(parameters: Parameters) -> str:
    """A hash of no one's password at these parameters, made once per process (Parameters itself is not hashable)."""
    key = astuple(parameters)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _argon2(PasswordHasher.from_parameters(parameters).hash, _DUMMY_PASSWORD)
    return _dummy_hashes[key]


def _rehash(session: Session, user: User, stored: str, password: str) -> None:
    """Store the password's hash at the current parameters in place of `stored`, unless another login replaced it
    first (then theirs is kept); the user's live sessions keep working, since the password is the same."""
    fresh = _argon2(_hasher.hash, password)
    replaced = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == stored)
        .values(password_hash=fresh)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(replaced):
        session.execute(
            update(WebSession)
            .where(WebSession.user_id == user.id, WebSession.password_fingerprint == _fingerprint(stored))
            .values(password_fingerprint=_fingerprint(fresh))
            .execution_options(synchronize_session=False)
        )
    session.refresh(user, ["password_hash"])


def password_fingerprint(user: User) -> str:
    """Changes when the password changes; sessions carry it so a new password ends old sessions (a re-hash of the
    same password at login carries the user's sessions over: _rehash)."""
    return _fingerprint(user.password_hash)


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


class UnknownScope(AccountError):
    """No section or project has that id or slug (CLI exit 2, API 404: never an empty result)."""


@overload
def find_scope(session: Session, kind: Literal["section"], ref: str | int) -> Section | None: ...
@overload
def find_scope(session: Session, kind: Literal["project"], ref: str | int) -> Project | None: ...
@overload
def find_scope(session: Session, kind: str, ref: str | int) -> Section | Project | None: ...
def find_scope(session: Session, kind: str, ref: str | int) -> Section | Project | None:
    """The section or project with this id (digits) or slug, or None."""
    if kind == "section":
        return _find_by_id_or_slug(session, Section, ref)
    if kind == "project":
        return _find_by_id_or_slug(session, Project, ref)
    raise AccountError(f"unknown scope kind {kind!r}: section or project")


ScopeRow = TypeVar("ScopeRow", Section, Project)


def _find_by_id_or_slug(session: Session, model: type[ScopeRow], ref: str | int) -> ScopeRow | None:
    text = str(ref).strip()
    found = session.get(model, int(text)) if text.isdigit() and len(text) < 19 else None
    return found or session.execute(select(model).where(model.slug == text)).scalar_one_or_none()


@overload
def resolve_scope(session: Session, kind: Literal["section"], ref: str | int) -> Section: ...
@overload
def resolve_scope(session: Session, kind: Literal["project"], ref: str | int) -> Project: ...
@overload
def resolve_scope(session: Session, kind: str, ref: str | int) -> Section | Project: ...
def resolve_scope(session: Session, kind: str, ref: str | int) -> Section | Project:
    """The section or project with this id or slug; UnknownScope when there is none."""
    found = find_scope(session, kind, ref)
    if found is None:
        hint = (
            " (sections appear once their events are ingested, or import them with `xolap scopes import`)"
            if kind == "section"
            else ""
        )
        raise UnknownScope(f"no {kind} with id or slug {str(ref).strip()!r}{hint}")
    return found


def resolve_section(session: Session, ref: str | int) -> Section:
    """A section by id or slug."""
    return resolve_scope(session, "section", ref)


def resolve_project(session: Session, ref: str | int) -> Project:
    """A project by id or slug."""
    return resolve_scope(session, "project", ref)


def grant(
    session: Session, user: User, *, section: Section | None = None, project: Project | None = None
) -> Membership:
    """Make the user instructor of a section or author of a project (idempotent)."""
    if (section is None) == (project is None):
        raise AccountError("grant exactly one of a section or a project")
    role = "instructor" if section is not None else "author"
    section_id = section.id if section is not None else None
    project_id = project.id if project is not None else None
    existing = session.execute(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.role == role,
            Membership.section_id.is_(section_id) if section_id is None else Membership.section_id == section_id,
            Membership.project_id.is_(project_id) if project_id is None else Membership.project_id == project_id,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    membership = Membership(user_id=user.id, role=role, section_id=section_id, project_id=project_id)
    session.add(membership)
    session.flush()
    return membership


def revoke(session: Session, user: User, membership_id: int) -> None:
    membership = session.get(Membership, membership_id)
    if membership is None or membership.user_id != user.id:
        raise AccountError(f"user {user.email!r} has no membership {membership_id}")
    session.delete(membership)
    session.flush()


def roles(session: Session, user: User) -> Roles:
    rows = session.execute(
        select(Membership.role, Membership.section_id, Membership.project_id).where(Membership.user_id == user.id)
    ).all()
    return Roles(
        is_admin=bool(user.is_admin),
        section_ids=frozenset(int(s) for r, s, _p in rows if r == "instructor" and s is not None),
        project_ids=frozenset(int(p) for r, _s, p in rows if r == "author" and p is not None),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new API token for the user; returns (row, plaintext). Only the sha256 is stored: show the plaintext once."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:200], token_hash=hash_token(plaintext))
    session.add(row)
    session.flush()
    return row, plaintext


def user_for_token(session: Session, token: str) -> User | None:
    """The owner of a valid API token (and stamps its last use), or None."""
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    row.last_used_at = func.now()
    return user


def delete_token(session: Session, user: User, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise AccountError(f"user {user.email!r} has no token {token_id}")
    session.delete(row)
    session.flush()


def tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).scalars())


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.email)).scalars())
