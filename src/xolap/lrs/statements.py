"""Storing statements as an LRS: fill id/stored/timestamp/authority/version, refuse duplicate ids in one request,
apply xAPI's id conflict rule (same id + equivalent statement = no-op, different = 409), voiding, attachments by
sha2, and hand every new statement to the one `xapi` mapping so raw_events sees LRS traffic at once.

save(...) is the whole write path; it raises LrsError(status, message) for 400/403/409 refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
from sqlalchemy.orm import Session, sessionmaker

from xolap.clickhouse import data_version
from xolap.ingest.pipeline import EventWriter, LineError, map_lines
from xolap.lrs import id_locks, signatures
from xolap.lrs.credentials import LrsCredential
from xolap.lrs.query import may_read
from xolap.lrs.scope_limits import OutsideScope, check_scope_columns, voids_outside_scope
from xolap.lrs.storage import (
    VOIDED_VERB,
    StatementStore,
    format_stored,
    lookup_columns,
    now_ms,
)
from xolap.lrs.validation import (
    SIGNATURE_USAGE,
    StatementError,
    new_id,
    validate_statement,
)
from xolap.xapi import attributions

if TYPE_CHECKING:
    from datetime import datetime

log = logging.getLogger(__name__)
LRS_FIELDS = ("stored", "authority", "version")


# Statements one POST may carry: a batch past it is a 413 before any is read (producers send tens to hundreds; the
# 65 MiB body holds ~450,000 of the smallest statements, whose parse and checks would hold a worker for minutes).
MAX_BATCH_STATEMENTS = 10_000


class LrsError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Incoming:
    """One statement of a request: the parsed object and, when the producer sent it, its own compact text."""

    statement: Any
    line: bytes | None = None


@dataclass
class SaveResult:
    ids: list[str]
    stored: int = 0
    mapping_warnings: list[LineError] = field(default_factory=list)


def normalize(statement: dict) -> None:
    """Each contextActivities entry as an array (xAPI: returned as arrays even when one object was sent)."""
    sent_object = statement.get("object")
    for holder in (statement, sent_object if isinstance(sent_object, dict) else {}):
        activities = (holder.get("context") or {}).get("contextActivities")
        if isinstance(activities, dict):
            for key, value in activities.items():
                if isinstance(value, dict):
                    activities[key] = [value]


def equivalence_form(statement: dict) -> bytes:
    """What two statements with one id must share to be the same statement: everything but the LRS's own fields."""
    return orjson.dumps({k: v for k, v in statement.items() if k not in LRS_FIELDS}, option=orjson.OPT_SORT_KEYS)


def _check_scope(statement: dict, columns: dict, credential: LrsCredential, index: int) -> None:
    for kind, limit in (("section", credential.section_id), ("project", credential.project_id)):
        if limit is None:
            continue
        found = columns[f"{kind}_id"]
        if found and found != limit:
            raise LrsError(403, f"statement[{index}]: this credential may only write statements of its {kind}")
        columns[f"{kind}_id"] = limit


def save(
    store: StatementStore,
    writer: EventWriter | None,
    incoming: list[Incoming],
    credential: LrsCredential,
    *,
    version: str = "1.0.3",
    attachments: dict[str, tuple[str, bytes]] | None = None,
    put_id: str | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> SaveResult:
    """Validate, store and map `incoming` (see the module docstring); `attachments` are multipart parts by sha2.
    With `sessions` (Postgres), the conflict check and insert run under the ids' advisory locks (xolap.lrs.id_locks),
    so concurrent requests for one id cannot both store it; without, only one writer at a time may be assumed."""
    if not incoming:
        raise LrsError(400, "no statements: send a statement or a non-empty array of statements")
    attachments = attachments or {}
    stored_at = now_ms()
    stored_text = format_stored(stored_at)
    prepared: list[tuple[dict, dict, bytes | None]] = []
    seen: set[str] = set()
    needed_hashes: set[str] = set()
    for index, item in enumerate(incoming):
        statement = item.statement
        try:
            validate_statement(statement, version)
        except StatementError as exc:
            raise LrsError(400, f"statement[{index}]: {exc}" if len(incoming) > 1 else str(exc)) from None
        if put_id is not None:
            if "id" in statement and statement["id"].lower() != put_id.lower():
                raise LrsError(400, "statement.id: differs from the statementId parameter")
            statement["id"] = put_id
        statement.setdefault("id", new_id())
        normalize(statement)
        statement_id = statement["id"].lower()
        if statement_id in seen:
            raise LrsError(400, f"statement[{index}].id: repeats the id of another statement in this request")
        seen.add(statement_id)
        brought = _check_attachments(statement, attachments, index)
        needed_hashes |= brought
        had_timestamp = "timestamp" in statement
        sent = equivalence_form(statement)
        statement.setdefault("timestamp", stored_text)
        statement["stored"] = stored_text
        statement["authority"] = credential.authority
        statement.setdefault("version", "2.0.0" if version == "2.0.0" else "1.0.0")
        line = item.line if item.line is not None and had_timestamp and "id" in _keys(item.line) else None
        columns = lookup_columns(statement) | {"attachment_hashes": sorted(brought)}
        _check_scope(statement, columns, credential, index)
        prepared.append((statement, {**columns, "sent": sent.decode()}, line))
    try:
        check_scope_columns([columns for _, columns, _ in prepared], credential, sessions)
    except OutsideScope as exc:
        raise LrsError(403, f"statement[{exc.index}]: {exc}") from None
    unused = set(attachments) - needed_hashes
    if unused:
        raise LrsError(400, "attachment part with an X-Experience-API-Hash no statement names")

    voiding_targets = [s["object"]["id"].lower() for s, _, _ in prepared if s["verb"]["id"] == VOIDED_VERB]
    if voids_outside_scope(store, credential, voiding_targets):
        raise LrsError(403, "statement.object: this credential may only void statements of its own section or project")
    with id_locks.held(sessions, [*seen, *voiding_targets]) if sessions is not None else nullcontext():
        return _store_new(
            store, writer, prepared, seen, voiding_targets, attachments, credential, stored_at, stored_text
        )


def _store_new(
    store: StatementStore,
    writer: EventWriter | None,
    prepared: list[tuple[dict, dict, bytes | None]],
    seen: set[str],
    voiding_targets: list[str],
    attachments: dict,
    credential: LrsCredential,
    stored_at: datetime,
    stored_text: str,
) -> SaveResult:
    """The id conflict check, voiding check and the writes; atomic when the caller holds the ids' locks."""
    existing = store.fetch(sorted(seen))
    targets = store.fetch(voiding_targets)
    for target_id in voiding_targets:
        target = targets.get(target_id)
        if target is not None and target.statement["verb"]["id"] == VOIDED_VERB:
            raise LrsError(400, "statement.object: a voiding statement cannot be voided")
    voided_now = {t for t in voiding_targets if (t in targets and not targets[t].voided) or t in seen}
    new_rows, new_lines, new_scopes = [], [], []
    for statement, columns, line in prepared:
        statement_id = statement["id"].lower()
        if statement_id in existing:
            found = existing[statement_id]
            if not may_read(credential, found):  # compared only with what it may read: one answer whatever was sent
                raise LrsError(409, f"statement id {statement_id} is already in use: send the statement with a new id")
            if found.sent != columns["sent"]:
                raise LrsError(409, f"statement id {statement_id} is already stored with different content")
            if not found.voided and statement_id not in voided_now:
                # stored before, its raw_events rows perhaps not (a process killed between the two writes): mapped
                # again from the line stored then, whose event_hash keeps it once on the dashboards
                new_lines.append(line if line is not None else orjson.dumps(_without_lrs_fields(found.statement)))
                new_scopes.append(_filed_under(columns, credential))
            continue
        row = {
            "statement_id": statement_id,
            "stored": stored_at,
            "statement": orjson.dumps(statement).decode(),
            "voided": int(statement_id in voided_now),
            "credential_key": credential.key,
            **columns,
        }
        new_rows.append(row)
        if statement_id not in voided_now:  # voided in this very request: never reaches the dashboards
            new_lines.append(line if line is not None else orjson.dumps(_without_lrs_fields(statement)))
            new_scopes.append(_filed_under(columns, credential))
    for sha2, (content_type, content) in attachments.items():
        store.save_attachment(sha2, content_type, content)
    store.insert(new_rows)
    for target_id in voiding_targets:
        if target_id in targets and not targets[target_id].voided:
            store.void(target_id)
    # and targets voided before: a voiding statement sent again after its withdrawal failed (the LRS marked the target
    # voided, then the DELETE raised) withdraws it now; a DELETE of rows already gone changes nothing
    withdrawn = voided_now | {t for t in voiding_targets if t in targets and targets[t].voided}
    if writer is not None and withdrawn:
        withdraw_from_raw_events(writer, sorted(withdrawn))
    result = SaveResult([s["id"] for s, _, _ in prepared], len(new_rows))
    if writer is not None and new_lines:
        result.mapping_warnings = map_to_raw_events(writer, new_lines, stored_text, new_scopes)
    return result


def _keys(line: bytes) -> dict:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _without_lrs_fields(statement: dict) -> dict:
    return {k: v for k, v in statement.items() if k not in LRS_FIELDS}


def _check_attachments(statement: dict, parts: dict, index: int) -> set[str]:
    """The sha2 of the statement's attachments whose content this request brings (multipart parts); 400 for an
    attachment with neither part nor fileUrl, or a signature that does not hold."""
    needed: set[str] = set()
    for position, attachment in enumerate(statement.get("attachments") or []):
        sha2 = attachment["sha2"].lower()
        if "fileUrl" not in attachment or sha2 in parts:
            if sha2 not in parts:
                raise LrsError(
                    400, f"statement[{index}].attachments[{position}]: no multipart part with this sha2 and no fileUrl"
                )
            needed.add(sha2)
        if attachment["usageType"] == SIGNATURE_USAGE and sha2 in parts:
            try:
                signatures.check(statement, attachment, parts[sha2][1])
            except signatures.SignatureError as exc:
                raise LrsError(400, f"statement[{index}].attachments[{position}]: {exc}") from None
    return needed


def withdraw_from_raw_events(writer: EventWriter, statement_ids: list[str]) -> None:
    """Voided statements leave raw_events (a lightweight DELETE by statement id), so dashboards stop counting them;
    the sections of the deleted rows are not read, so the database's global data version is bumped (cached answers
    of every scope are recomputed)."""
    with data_version.writing(writer.database):  # also when it raised: the DELETE may have run
        writer.client.command(
            f"DELETE FROM `{writer.database}`.raw_events WHERE lower(statement_id) IN {{ids:Array(String)}}",
            parameters={"ids": statement_ids},
        )


def _filed_under(columns: dict, credential: LrsCredential) -> tuple[int | None, int | None]:
    """The (section, project) a limited credential files a statement under, as its lookup columns were stamped
    (project 0: a section taught from no project); (None, None) for an unlimited credential."""
    if credential.section_id is None and credential.project_id is None:
        return None, None
    return columns.get("section_id") or None, columns.get("project_id") or None


def map_to_raw_events(
    writer: EventWriter,
    lines: list[bytes],
    receipt: str,
    scopes: Sequence[tuple[int | None, int | None]] = (),
) -> list[LineError]:
    """The statements through the one `xapi` mapping into raw_events; lines it refuses are recorded as warnings
    (the statement stays in the LRS store). `scopes` (per line: section, project) fills the scope columns a
    statement leaves empty: a limited credential's statements land on its scope's dashboards, and their experiment
    attributions are filed under that scope whatever scope they name."""
    source_file = f"lrs:{receipt}"
    batch = map_lines(list(enumerate(lines, 1)), source_file=source_file, source_etag=None)
    if batch.table.num_rows:
        writer.write(_scoped(batch.table, scopes))
    if batch.attributions:
        writer.write_attributions(_scoped_attributions(batch.attributions, scopes))
    warnings = [LineError(e.source_file, e.source_line, e.reason, e.raw_line, "warning") for e in batch.errors]
    if warnings or batch.warnings:
        writer.record_errors(warnings + batch.warnings)
    if warnings:
        log.info("LRS: %s statement(s) stored but not mapped to raw_events (%s)", len(warnings), source_file)
    return warnings


def _scoped(table: pa.Table, scopes: Sequence[tuple[int | None, int | None]]) -> pa.Table:
    """The rows with an empty section_id / project_id taken from their line's scope (source_line is 1-based)."""
    if not any(section or project for section, project in scopes):
        return table
    by_line: dict[int | None, tuple[int | None, int | None]] = dict(enumerate(scopes, 1))
    lines = table.column("source_line").to_pylist()
    for position, name in enumerate(("section_id", "project_id")):
        column = table.column(name)
        values = [
            value if value is not None else by_line.get(line, (None, None))[position]
            for value, line in zip(column.to_pylist(), lines, strict=True)
        ]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, type=column.type))
    return table


_ATTRIBUTION_LINE = attributions.COLUMN_NAMES.index("source_line")
_ATTRIBUTION_SCOPE = (attributions.COLUMN_NAMES.index("section_id"), attributions.COLUMN_NAMES.index("project_id"))


def _scoped_attributions(rows: list[list[Any]], scopes: Sequence[tuple[int | None, int | None]]) -> list[list[Any]]:
    """Attribution rows of a limited credential's line take that line's scope (both columns: an attribution may not
    name another section or project); rows of unlimited credentials' lines (no scope) are kept as they are."""
    by_line: dict[int | None, tuple[int | None, int | None]] = dict(enumerate(scopes, 1))
    for row in rows:
        scope = by_line.get(row[_ATTRIBUTION_LINE], (None, None))
        if scope != (None, None):
            row[_ATTRIBUTION_SCOPE[0]], row[_ATTRIBUTION_SCOPE[1]] = scope
    return rows
