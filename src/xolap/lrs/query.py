"""GET /xAPI/statements by query parameters: parse and check them, build the ClickHouse filter, page with a stable
cursor ((stored, id) of the last statement returned, signed into the `more` URL together with the filters)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from xolap.lrs.scope_limits import holds
from xolap.lrs.storage import StatementStore, StoredRow, agent_key
from xolap.lrs.validation import UUID_RE, StatementError, actor, timestamp

if TYPE_CHECKING:
    from xolap.lrs.credentials import LrsCredential

QUERY_PARAMETERS = {
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "cursor",
}
SINGLE_PARAMETERS = {"statementId", "voidedStatementId", "format", "attachments"}
FORMATS = {"exact", "ids", "canonical"}
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class QueryError(ValueError):
    """A query parameter refused (HTTP 400), naming the parameter."""


def _bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise QueryError(f"{name}: must be true or false")
    return value.lower() == "true"


def _moment(value: str, name: str) -> datetime:
    try:
        timestamp(value, name)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (StatementError, ValueError):
        raise QueryError(f"{name}: must be an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class StatementQuery:
    filters: dict
    format: str = "exact"
    attachments: bool = False

    @classmethod
    def parse(cls, params: dict[str, str]) -> StatementQuery:
        unknown = sorted(set(params) - QUERY_PARAMETERS)
        if unknown:
            raise QueryError(f"{unknown[0]}: unknown query parameter")
        fmt = params.get("format", "exact")
        if fmt not in FORMATS:
            raise QueryError("format: must be ids, exact or canonical")
        filters = {k: v for k, v in params.items() if k not in ("format", "attachments", "cursor")}
        if "agent" in filters:
            try:
                agent = orjson.loads(filters["agent"])
                actor(agent, "agent")
            except (orjson.JSONDecodeError, StatementError):
                raise QueryError("agent: must be an Agent or identified Group as JSON") from None
            if agent_key(agent) is None:
                raise QueryError("agent: must be an Agent or identified Group as JSON")
        if "registration" in filters and not UUID_RE.match(filters["registration"]):
            raise QueryError("registration: must be a UUID")
        for name in ("since", "until"):
            if name in filters:
                _moment(filters[name], name)
        if "limit" in filters and (not filters["limit"].isdigit() or len(filters["limit"]) > 9):
            raise QueryError("limit: must be a non-negative integer")
        for name in ("related_activities", "related_agents", "ascending"):
            _bool(filters.get(name), name)
        return cls(filters, fmt, _bool(params.get("attachments"), "attachments"))

    @property
    def limit(self) -> int:
        asked = int(self.filters.get("limit", "0"))
        return min(asked, MAX_LIMIT) if asked else DEFAULT_LIMIT

    @property
    def ascending(self) -> bool:
        return _bool(self.filters.get("ascending"), "ascending")

    def where(self, table: str, scope: Sequence[str] = ()) -> tuple[list[str], dict]:
        """Clauses on the statements returned. Filters on agent, verb, activity and registration also return the
        statements whose StatementRef object targets a matching statement (voided targets included), as xAPI asks."""
        matching, params = self._matching()
        clauses = ["voided = 0"]
        if matching:
            condition = " AND ".join(matching)
            target_condition = " AND ".join([*matching, *scope])  # a target the caller may not read counts for nothing
            clauses.append(
                f"(({condition}) OR (ref_target != '' AND ref_target IN "
                f"(SELECT statement_id FROM {table} FINAL WHERE {target_condition})))"
            )
        self._times(clauses, params)
        return clauses, params

    def _matching(self) -> tuple[list[str], dict]:
        f = self.filters
        clauses, params = [], {}
        if "agent" in f:
            column = "related_agent_keys" if _bool(f.get("related_agents"), "related_agents") else "agent_keys"
            clauses.append(f"has({column}, {{agent:String}})")
            params["agent"] = agent_key(orjson.loads(f["agent"]))
        if "verb" in f:
            clauses.append("verb_id = {verb:String}")
            params["verb"] = f["verb"]
        if "activity" in f:
            if _bool(f.get("related_activities"), "related_activities"):
                clauses.append("has(related_activity_ids, {activity:String})")
            else:
                clauses.append("activity_id = {activity:String}")
            params["activity"] = f["activity"]
        if "registration" in f:
            clauses.append("registration = {registration:String}")
            params["registration"] = f["registration"].lower()
        return clauses, params

    def _times(self, clauses: list[str], params: dict) -> None:
        f = self.filters
        if "since" in f:
            clauses.append("stored > {since:DateTime64(3, 'UTC')}")
            params["since"] = _moment(f["since"], "since")
        if "until" in f:
            clauses.append("stored <= {until:DateTime64(3, 'UTC')}")
            params["until"] = _moment(f["until"], "until")


def scope_clauses(credential: LrsCredential) -> tuple[list[str], dict]:
    """What a credential may read: its own statements (read-own, or write only), or all within its section/project."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if not credential.reads_all:
        clauses.append("credential_key = {xolap_key:String}")
        params["xolap_key"] = credential.key
    if credential.section_id is not None:
        clauses.append("section_id = {xolap_section:UInt64}")
        params["xolap_section"] = credential.section_id
    if credential.project_id is not None:
        clauses.append("project_id = {xolap_project:UInt64}")
        params["xolap_project"] = credential.project_id
    return clauses, params


def may_read(credential: LrsCredential, row: StoredRow) -> bool:
    """The Python form of scope_clauses, for a row fetched with its scope columns and credential (StatementStore.fetch)."""
    if not credential.reads_all and row.credential_key != credential.key:
        return False
    return holds(credential, row.section_id, row.project_id)


def readable_attachments(store: StatementStore, credential: LrsCredential, statements: Sequence[dict]) -> dict:
    """The multipart parts (by sha2: content type, bytes) of these statements' attachments, only where a statement
    the credential may read brought that content (content is stored once per sha2 across scopes, so knowing a hash is
    not enough; everything for a credential that reads everything). A part takes the contentType the first statement
    naming it gives, so another scope uploading the same bytes under another type changes nothing here."""
    types: dict[str, str] = {}
    for statement in statements:
        for attachment in statement.get("attachments") or []:
            types.setdefault(attachment["sha2"].lower(), attachment["contentType"])
    wanted = sorted(types)
    clauses, params = scope_clauses(credential)
    if clauses and wanted:
        result = store.client.query(
            f"SELECT DISTINCT sha2 FROM {store.table} FINAL ARRAY JOIN attachment_hashes AS sha2 "
            f"WHERE hasAny(attachment_hashes, {{xolap_hashes:Array(String)}}) AND {' AND '.join(clauses)} "
            "AND sha2 IN {xolap_hashes:Array(String)}",
            parameters={"xolap_hashes": wanted, **params},
        )
        wanted = sorted(row[0] for row in result.result_rows)
    return {sha2: (types[sha2], content) for sha2, (_, content) in store.attachments(wanted).items()}


def _sign(secret: bytes, credential: LrsCredential, payload: bytes) -> str:
    """The cursor's signature, bound to the credential it was made for (another credential's `more` URL is refused,
    so a URL seen in a log or passed on is no paging token for anyone else)."""
    return hmac.new(secret, credential.key.encode() + b"\0" + payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(secret: bytes, credential: LrsCredential, filters: dict, last: StoredRow) -> str:
    payload = orjson.dumps([filters, last.stored.isoformat(), last.statement_id])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(secret, credential, payload)


def decode_cursor(secret: bytes, credential: LrsCredential, cursor: str) -> tuple[dict, datetime, str]:
    encoded, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if not hmac.compare_digest(_sign(secret, credential, payload), signature):
            raise ValueError
        filters, stored, statement_id = orjson.loads(payload)
        return filters, datetime.fromisoformat(stored), statement_id
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise QueryError(
            "cursor: not a cursor this LRS issued to this credential (follow the `more` URL as given)"
        ) from None


def run(
    store: StatementStore,
    query: StatementQuery,
    credential: LrsCredential,
    secret: bytes,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[StoredRow], str]:
    """A page of statements and the `more` URL ('' on the last page)."""
    scope, scope_params = scope_clauses(credential)
    clauses, params = query.where(store.table, scope)
    clauses += scope
    params |= scope_params
    direction = "ASC" if query.ascending else "DESC"
    if after is not None:
        clauses.append(
            f"(stored, statement_id) {'>' if query.ascending else '<'} "
            "({after_stored:DateTime64(3, 'UTC')}, {after_id:String})"
        )
        params |= {"after_stored": after[0], "after_id": after[1]}
    limit = query.limit
    result = store.client.query(
        f"SELECT statement_id, stored, statement, sent, voided FROM {store.table} FINAL WHERE {' AND '.join(clauses)} "
        f"ORDER BY stored {direction}, statement_id {direction} LIMIT {limit + 1}",
        parameters=params,
    )
    rows = [StoredRow.from_row(r) for r in result.result_rows]
    more = ""
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor(secret, credential, query.filters, rows[-1])
        more = "/xAPI/statements?" + urlencode(
            {"cursor": cursor, "format": query.format, "attachments": str(query.attachments).lower()}
        )
    return rows, more
