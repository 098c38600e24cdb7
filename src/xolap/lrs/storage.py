"""The LRS's statements in ClickHouse (`lrs_statements`, `lrs_attachments`, migration 0007): lookup columns of a
statement, insert, fetch by id, voiding, and attachment content by sha2. Reads use FINAL (one row per id).

Attachment content is stored once per sha2 for the whole LRS; a statement's `attachment_hashes` column holds the sha2
of the parts its request brought (statements.save), which is what lets a credential have that content back
(query.readable_attachments): naming a hash with a fileUrl grants nothing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from xolap.clickhouse.client_protocol import ClickHouseClient

COLUMNS = [
    "statement_id",
    "stored",
    "statement",
    "sent",
    "voided",
    "voiding_target",
    "ref_target",
    "verb_id",
    "activity_id",
    "agent_keys",
    "related_agent_keys",
    "related_activity_ids",
    "registration",
    "credential_key",
    "section_id",
    "project_id",
    "attachment_hashes",
    "row_version",
]
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
TORUS_SECTION = "http://oli.cmu.edu/extensions/section_id"
TORUS_PROJECT = "http://oli.cmu.edu/extensions/project_id"


def agent_key(agent: dict) -> str | None:
    """The inverse functional identifier of an Agent or identified Group as one comparable string."""
    if "mbox" in agent:
        return "mbox:" + str(agent["mbox"])
    if "mbox_sha1sum" in agent:
        return "mbox_sha1sum:" + str(agent["mbox_sha1sum"]).lower()
    if "openid" in agent:
        return "openid:" + str(agent["openid"])
    account = agent.get("account")
    if isinstance(account, dict):
        return f"account:{account.get('homePage')}|{account.get('name')}"
    return None


def _agents(value: Any) -> list[str]:
    """Keys of an Agent/Group and of a Group's members."""
    if not isinstance(value, dict) or value.get("objectType") not in (None, "Agent", "Group"):
        return []
    keys = [agent_key(value)] + [agent_key(m) for m in value.get("member") or [] if isinstance(m, dict)]
    return [k for k in keys if k]


def _context_activity_ids(context: dict) -> list[str]:
    ids: list[str] = []
    for items in (context.get("contextActivities") or {}).values():
        ids.extend(item["id"] for item in (items if isinstance(items, list) else [items]))
    return ids


def _context_agents(context: dict) -> list[str]:
    return _agents(context.get("instructor")) + _agents(context.get("team"))


def lookup_columns(statement: dict) -> dict:
    """Filter columns: actor/object agents, related agents and activities, verb, registration."""
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    context = statement.get("context") or {}
    agents = _agents(statement["actor"]) + (_agents(obj) if kind in ("Agent", "Group") else [])
    related_agents = agents + _agents(statement.get("authority")) + _context_agents(context)
    related_activities = ([obj["id"]] if kind == "Activity" else []) + _context_activity_ids(context)
    if kind == "SubStatement":
        sub_context = obj.get("context") or {}
        sub_object = obj["object"]
        related_agents += _agents(obj["actor"]) + _agents(sub_object) + _context_agents(sub_context)
        if sub_object.get("objectType", "Activity") == "Activity":
            related_activities.append(sub_object["id"])
        related_activities += _context_activity_ids(sub_context)
    extensions = context.get("extensions") or {}
    return {
        "verb_id": statement["verb"]["id"],
        "activity_id": obj["id"] if kind == "Activity" else "",
        "agent_keys": sorted(set(agents)),
        "related_agent_keys": sorted(set(related_agents)),
        "related_activity_ids": sorted(set(related_activities)),
        "registration": str(context.get("registration", "")).lower(),
        "voiding_target": obj["id"].lower() if statement["verb"]["id"] == VOIDED_VERB else "",
        "ref_target": obj["id"].lower() if kind == "StatementRef" else "",
        "section_id": _uint(extensions.get(TORUS_SECTION)),
        "project_id": _uint(extensions.get(TORUS_PROJECT)),
    }


def _uint(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return number if 0 <= number < 2**63 else 0


def format_stored(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_ms() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class StoredRow:
    statement_id: str
    stored: datetime
    statement: dict
    sent: str
    voided: bool
    section_id: int | None = None  # who may read it, when the read selected these columns (fetch does)
    project_id: int | None = None
    credential_key: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredRow:
        readers = (int(row[5]), int(row[6]), row[7]) if len(row) > 7 else (None, None, None)
        return cls(row[0], row[1], orjson.loads(row[2]), row[3], bool(row[4]), *readers)


class StatementStore:
    """One database's LRS tables through a clickhouse-connect style client."""

    def __init__(self, client: ClickHouseClient, database: str):
        self.client = client
        self.database = database
        self.table = f"`{database}`.lrs_statements"

    def insert(self, rows: list[dict]) -> None:
        if rows:
            version = time.time_ns()
            data = [[row.get(c) if c != "row_version" else version for c in COLUMNS] for row in rows]
            self.client.insert("lrs_statements", data, column_names=COLUMNS, database=self.database)

    def fetch(self, ids: list[str]) -> dict[str, StoredRow]:
        """Stored statements by id (voided ones included) with their scope columns and credential, keyed by lowercase
        id."""
        if not ids:
            return {}
        result = self.client.query(
            f"SELECT statement_id, stored, statement, sent, voided, section_id, project_id, credential_key "
            f"FROM {self.table} FINAL "
            "WHERE statement_id IN {ids:Array(String)}",
            parameters={"ids": [i.lower() for i in ids]},
        )
        rows = [StoredRow.from_row(r) for r in result.result_rows]
        return {r.statement_id: r for r in rows}

    def void(self, target_id: str) -> None:
        """Mark a stored statement voided (a newer row version of the same statement)."""
        result = self.client.query(
            f"SELECT {', '.join(COLUMNS)} FROM {self.table} FINAL WHERE statement_id = {{id:String}}",
            parameters={"id": target_id.lower()},
        )
        for row in result.result_rows:
            record = dict(zip(COLUMNS, row, strict=False))
            record["voided"] = 1
            self.insert([record])

    def save_attachment(self, sha2: str, content_type: str, content: bytes) -> None:
        self.client.insert(
            "lrs_attachments",
            [[sha2.lower(), content_type, content]],
            column_names=["sha2", "content_type", "content"],
            database=self.database,
        )

    def attachments(self, hashes: list[str]) -> dict[str, tuple[str, bytes]]:
        if not hashes:
            return {}
        result = self.client.query(
            f"SELECT sha2, content_type, content FROM `{self.database}`.lrs_attachments FINAL "
            "WHERE sha2 IN {h:Array(String)}",
            parameters={"h": [h.lower() for h in hashes]},
            column_formats={"content": "bytes"},
        )
        return {r[0]: (r[1], r[2] if isinstance(r[2], bytes) else r[2].encode("latin-1")) for r in result.result_rows}
