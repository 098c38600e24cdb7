"""xAPI documents (State, Activity Profile, Agent Profile) in Postgres: read, list, replace (PUT), merge (POST) and
delete, with ETag preconditions, under one advisory lock per document so concurrent writers never lose an update.

Rules (xAPI 1.0.3 Communication 2.2 / 3.1; 2.0 where it differs, chosen by the caller through `require`):
  * The ETag is the SHA-1 of the stored bytes (hex), sent quoted.
  * If-Match (a list of ETags or *) must match the current document, else PreconditionFailed (412); If-None-Match *
    (or a list) must not match it, else PreconditionFailed.
  * A PUT with neither header: on an existing document Conflict (409) when `require` is "existing" or "always";
    on a new document MissingPrecondition (400) when `require` is "always" (the profiles: a client MUST send one).
  * POST merges: both the stored and the posted document must be application/json JSON objects (a shallow merge,
    the posted top-level values win), else NotMergeable (400) and nothing changes. A POST to a new document stores
    it as a PUT would; an application/json POST must hold a JSON object even then.

Who sees a document: the credential that created it, and credentials that read all (those limited to a section or a
project see the documents created under the same limit). A write to a document the caller cannot see is refused
(NotYours, 403); listing and clearing cover only the visible ones.

Each section or project limit has a document space of its own (DocumentSet.partition, in the scope and address
hashes): a learner in two sections keeps state for one activity in each, and a limited credential's write never
meets another scope's document (which a NotYours would have told it exists). Unlimited credentials keep the shared
space (their addresses are unchanged) and so no longer reach a limited scope's documents. Documents limited
credentials stored in the shared space before are still their scope's (`_placed_row`, and listing/clearing cover
both spaces, visibility deciding).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import and_, or_, select, text, true
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from xolap.lrs.agents import Agent
from xolap.store.affected import affected_rows
from xolap.store.models import LrsDocument

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from xolap.lrs.credentials import LrsCredential

KINDS = ("state", "activity_profile", "agent_profile")
JSON_TYPE = "application/json"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_CONTENT_TYPE = 255


class DocumentError(Exception):
    """A refused document request; `status` is the HTTP status xAPI gives it."""

    status = 400


class PreconditionFailed(DocumentError):
    status = 412


class Conflict(DocumentError):
    status = 409


class MissingPrecondition(DocumentError):
    status = 400


class NotMergeable(DocumentError):
    status = 400


class NotYours(DocumentError):
    status = 403


class TooLarge(DocumentError):
    status = 413


@dataclass(frozen=True)
class DocumentSet:
    """The documents one list or clear covers: kind + activity and/or agent (+ registration for State; None there
    means every registration)."""

    kind: str
    activity_id: str | None = None
    agent: Agent | None = None
    registration: str | None = None
    partition: str | None = None  # a section or project limit's own document space (Viewer.partition)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}")

    @property
    def scope(self) -> str:
        agent = self.agent.key_hash if self.agent is not None else None
        identity = [self.kind, self.activity_id, agent] + ([self.partition] if self.partition else [])
        return hashlib.sha256(orjson.dumps(identity)).hexdigest()

    def within(self, viewer: Viewer) -> DocumentSet:
        """This set in the viewer's document space."""
        return replace(self, partition=viewer.partition)

    @property
    def shared(self) -> DocumentSet:
        """This set in the shared space (where every document was before limits had their own)."""
        return replace(self, partition=None)

    def document(self, document_id: str) -> DocumentAddress:
        return DocumentAddress(self, document_id)


@dataclass(frozen=True)
class DocumentAddress:
    """One document: its set (with the registration, for State) and its stateId/profileId."""

    set: DocumentSet
    document_id: str

    @property
    def address(self) -> str:
        return hashlib.sha256(orjson.dumps([self.set.scope, self.set.registration, self.document_id])).hexdigest()

    @property
    def lock_key(self) -> int:
        """A signed 63-bit advisory-lock key for this document."""
        return int(self.address[:15], 16)


@dataclass(frozen=True)
class Viewer:
    """Who asks: an LRS credential's id, whether it reads everything, and its section/project limit."""

    credential_id: int | None
    reads_all: bool = False
    section_id: int | None = None
    project_id: int | None = None

    @classmethod
    def of(cls, credential: LrsCredential) -> Viewer:
        return cls(credential.id, credential.reads_all, credential.section_id, credential.project_id)

    @property
    def partition(self) -> str | None:
        """The document space of the viewer's section or project limit (None: the shared one)."""
        if self.section_id is not None:
            return f"section:{self.section_id}"
        return f"project:{self.project_id}" if self.project_id is not None else None

    def owns_space_of(self, row: LrsDocument) -> bool:
        """A shared-space row created under this viewer's limit (before limits had spaces of their own)."""
        return self.partition is not None and (row.owner_section_id, row.owner_project_id) == (
            self.section_id,
            self.project_id,
        )

    def sees(self, row: LrsDocument) -> bool:
        if row.owner_credential_id is not None and row.owner_credential_id == self.credential_id:
            return True
        if not self.reads_all:
            return False
        if self.section_id is not None and row.owner_section_id != self.section_id:
            return False
        return self.project_id is None or row.owner_project_id == self.project_id

    def visible_clause(self) -> ColumnElement[bool]:
        """The SQL form of `sees`."""
        own = LrsDocument.owner_credential_id == self.credential_id
        if not self.reads_all:
            return own
        limits = []
        if self.section_id is not None:
            limits.append(LrsDocument.owner_section_id == self.section_id)
        if self.project_id is not None:
            limits.append(LrsDocument.owner_project_id == self.project_id)
        return or_(own, and_(true(), *limits))


@dataclass(frozen=True)
class Preconditions:
    """If-Match / If-None-Match as sent: None when the header is absent, else its ETags ("*" for any)."""

    if_match: tuple[str, ...] | None = None
    if_none_match: tuple[str, ...] | None = None

    @classmethod
    def from_headers(cls, if_match: str | None, if_none_match: str | None) -> Preconditions:
        return cls(_etag_list(if_match), _etag_list(if_none_match))

    @property
    def sent(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check(self, current: LrsDocument | None) -> None:
        etag = current.etag if current is not None else None
        if self.if_match is not None and not (etag is not None and ("*" in self.if_match or etag in self.if_match)):
            raise PreconditionFailed(
                "If-Match does not match the current document (it changed or does not exist): "
                "GET it again for its current ETag"
            )
        if (
            self.if_none_match is not None
            and etag is not None
            and ("*" in self.if_none_match or etag in self.if_none_match)
        ):
            raise PreconditionFailed("If-None-Match: the document already exists (or has that ETag)")


def _etag_list(header: str | None) -> tuple[str, ...] | None:
    """ETags of an If-Match / If-None-Match header: quotes and weak markers dropped, lower-cased hex."""
    if header is None:
        return None
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        tag = tag.strip().strip('"').strip().lower()
        if tag:
            tags.append(tag)
    return tuple(tags)


@dataclass(frozen=True)
class StoredDocument:
    document_id: str
    content_type: str
    content: bytes
    etag: str
    updated_at: datetime

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def clean_content_type(content_type: str | None) -> str:
    """The Content-Type stored with a document (octet-stream when none was sent); DocumentError when unusable."""
    value = (content_type or "").strip() or DEFAULT_CONTENT_TYPE
    if len(value) > MAX_CONTENT_TYPE or not value.isprintable():
        raise DocumentError(f"Content-Type must be at most {MAX_CONTENT_TYPE} printable characters")
    return value


def _json_object(content: bytes, which: str) -> dict:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise NotMergeable(f"the {which} document is not valid JSON, so it cannot be merged") from None
    if not isinstance(value, dict):
        raise NotMergeable(f"the {which} document is JSON but not a JSON object, so it cannot be merged")
    return value


def _stored(row: LrsDocument) -> StoredDocument:
    return StoredDocument(row.document_id, row.content_type, bytes(row.content), row.etag, row.updated_at)


def _lock_key(session: Session, key: int) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _row(session: Session, where: DocumentAddress) -> LrsDocument | None:
    return session.execute(select(LrsDocument).where(LrsDocument.address == where.address)).scalar_one_or_none()


def _placed(where: DocumentAddress, viewer: Viewer) -> DocumentAddress:
    return DocumentAddress(where.set.within(viewer), where.document_id)


def _placed_row(session: Session, where: DocumentAddress, viewer: Viewer) -> tuple[DocumentAddress, LrsDocument | None]:
    """(the address the viewer's document lives at, its row or None): the viewer's own space, else a document its
    limit stored in the shared space before."""
    placed = _placed(where, viewer)
    row = _row(session, placed)
    if row is None and placed != where:
        legacy = _row(session, where)
        if legacy is not None and viewer.owns_space_of(legacy):
            return where, legacy
    return placed, row


def _spaces(which: DocumentSet, viewer: Viewer) -> list[str]:
    return sorted({which.within(viewer).scope, which.shared.scope})


def get(session: Session, where: DocumentAddress, viewer: Viewer) -> StoredDocument | None:
    """The document, or None when it does not exist or the viewer may not see it."""
    _, row = _placed_row(session, where, viewer)
    return _stored(row) if row is not None and viewer.sees(row) else None


def list_ids(session: Session, which: DocumentSet, viewer: Viewer, since: datetime | None = None) -> list[str]:
    """Ids (stateId/profileId) of the visible documents of a set, changed after `since` when given, oldest first."""
    query = select(LrsDocument.document_id).where(
        LrsDocument.scope.in_(_spaces(which, viewer)), viewer.visible_clause()
    )
    if which.registration is not None:
        query = query.where(LrsDocument.registration == which.registration)
    if since is not None:
        query = query.where(LrsDocument.updated_at > since)
    return list(dict.fromkeys(session.execute(query.order_by(LrsDocument.updated_at, LrsDocument.id)).scalars()))


def _write(
    session: Session, where: DocumentAddress, viewer: Viewer, row: LrsDocument | None, content_type: str, content: bytes
) -> StoredDocument:
    now = datetime.now(UTC)
    if row is None:
        row = LrsDocument(
            kind=where.set.kind,
            address=where.address,
            scope=where.set.scope,
            activity_id=where.set.activity_id,
            agent_hash=where.set.agent.key_hash if where.set.agent is not None else None,
            registration=where.set.registration,
            document_id=where.document_id,
            owner_credential_id=viewer.credential_id,
            owner_section_id=viewer.section_id,
            owner_project_id=viewer.project_id,
        )
        session.add(row)
    elif row.updated_at is not None and now <= row.updated_at:
        now = row.updated_at + timedelta(microseconds=1)  # never move a document's time backwards
    row.content_type = content_type
    row.content = content
    row.etag = etag_of(content)
    row.updated_at = now
    session.flush()
    return _stored(row)


def _current(session: Session, where: DocumentAddress, viewer: Viewer) -> tuple[DocumentAddress, LrsDocument | None]:
    """(the viewer's address of the document, its locked current row); NotYours when the row exists but the viewer
    may not see it (another credential of the same scope, without read-all)."""
    placed = _placed(where, viewer)
    for key in sorted({placed.lock_key, where.lock_key}):  # the shared address too: a document there may be ours
        _lock_key(session, key)
    where, row = _placed_row(session, where, viewer)
    if row is not None and not viewer.sees(row):
        raise NotYours("this document was stored by another LRS credential; this credential may not change it")
    return where, row


def put(
    session: Session,
    where: DocumentAddress,
    viewer: Viewer,
    content_type: str | None,
    content: bytes,
    preconditions: Preconditions = Preconditions(),
    require: str | None = None,
) -> StoredDocument:
    """Store `content` as the document (see the module docstring for preconditions and `require`)."""
    stored_type = clean_content_type(content_type)
    where, row = _current(session, where, viewer)
    if not preconditions.sent:
        if row is not None and require in ("existing", "always"):
            raise Conflict(
                "the document already exists: GET it, then PUT with If-Match set to its ETag (or POST to merge JSON)"
            )
        if row is None and require == "always":
            raise MissingPrecondition(
                "a PUT to a profile must send If-None-Match: * (new document) or If-Match with the current ETag"
            )
    preconditions.check(row)
    return _write(session, where, viewer, row, stored_type, content)


def post(
    session: Session,
    where: DocumentAddress,
    viewer: Viewer,
    content_type: str | None,
    content: bytes,
    preconditions: Preconditions = Preconditions(),
    max_bytes: int | None = None,
) -> StoredDocument:
    """Merge `content` into the document, or store it when there is none (see the module docstring); TooLarge when
    the merged document would pass `max_bytes`."""
    stored_type = clean_content_type(content_type)
    posted_json = media_type(stored_type) == JSON_TYPE
    posted = _json_object(content, "posted") if posted_json else None
    where, row = _current(session, where, viewer)
    preconditions.check(row)
    if row is None:
        return _write(session, where, viewer, None, stored_type, content)
    if media_type(row.content_type) != JSON_TYPE or posted is None:
        raise NotMergeable(
            "POST merges JSON documents: the stored and the posted document must both have "
            "Content-Type application/json (PUT replaces a document of any type)"
        )
    try:
        merged = orjson.dumps(_json_object(bytes(row.content), "stored") | posted)
    except orjson.JSONEncodeError:  # orjson reads 1024 levels and writes 255: a document PUT deeper is kept as sent
        raise NotMergeable(
            "the merged document would be nested deeper than the 255 levels a JSON merge can write: "
            "replace it with PUT instead"
        ) from None
    if max_bytes is not None and len(merged) > max_bytes:
        raise TooLarge(f"the merged document would be {len(merged):,} bytes, over the {max_bytes:,}-byte limit")
    return _write(session, where, viewer, row, JSON_TYPE, merged)


def delete(
    session: Session, where: DocumentAddress, viewer: Viewer, preconditions: Preconditions = Preconditions()
) -> bool:
    """Delete the document; False when there was none (not an error in xAPI)."""
    where, row = _current(session, where, viewer)
    preconditions.check(row)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def clear(session: Session, which: DocumentSet, viewer: Viewer) -> int:
    """Delete every visible document of a set (State's DELETE without stateId); how many went."""
    query = sql_delete(LrsDocument).where(LrsDocument.scope.in_(_spaces(which, viewer)), viewer.visible_clause())
    if which.registration is not None:
        query = query.where(LrsDocument.registration == which.registration)
    return affected_rows(session.execute(query.execution_options(synchronize_session=False)))
