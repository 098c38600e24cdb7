"""xAPI statement validation (1.0.3, with 2.0's differences by version): every rule names the field it refuses.

validate_statement(statement, version) raises StatementError (an HTTP 400 reason such as
"statement.actor.mbox: must be a mailto: IRI") or returns None. Values are never echoed (they may identify a
learner); a field is named by its path.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, NoReturn

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f-\x9f]+$")  # no spaces or control characters
MAILTO_RE = re.compile(r"^mailto:[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
LANGUAGE_RE = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$|^[xX](?:-[A-Za-z0-9]{1,8})+$|^i-[A-Za-z]+$"
)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$")
DURATION_RE = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?=\d|T\d)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$"
)
VERSION_RE = {"1.0.3": re.compile(r"^1\.0(\.\d+)?$"), "2.0.0": re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")}
INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
INTERACTION_COMPONENTS = ("choices", "scale", "source", "target", "steps")
SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


# The deepest a statement may nest (the statement itself is level 1). orjson reads 1024 levels but writes 255, and a
# statement is written back inside {"statements": [...]}: deeper statements were read, then failed to be stored.
MAX_STATEMENT_DEPTH = 250


class StatementError(ValueError):
    """A statement refused with a reason naming the field (an HTTP 400)."""


def _fail(path: str, reason: str) -> NoReturn:
    raise StatementError(f"{path}: {reason}")


def _object(value: Any, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    unknown = sorted(k for k in value if k not in allowed)
    if unknown:
        _fail(path, f"unknown property {unknown[0]!r}")
    for key in required:
        if key not in value:
            _fail(f"{path}.{key}", "is required")
    for key, item in value.items():
        if item is None:
            _fail(f"{path}.{key}", "must not be null")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, "must be a string")
    return value


def _iri(value: Any, path: str) -> str:
    if not isinstance(value, str) or not IRI_RE.match(value):
        _fail(path, "must be an absolute IRI")
    return value


def _uuid(value: Any, path: str) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        _fail(path, "must be a UUID")
    return value


def _bool(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, "must be true or false")


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, "must be a number")
    return value


def language_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "must be a language map (object of language tag to string)")
    for tag, text in value.items():
        if not LANGUAGE_RE.match(tag):
            _fail(path, "has a key that is not an RFC 5646 language tag")
        if not isinstance(text, str):
            _fail(f"{path}[{tag}]", "must be a string")


def extensions(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "must be an object keyed by IRIs")
    for key in value:
        if not IRI_RE.match(key):
            _fail(path, "has a key that is not an absolute IRI")


def timestamp(value: Any, path: str) -> None:
    if not isinstance(value, str) or not TIMESTAMP_RE.match(value) or re.search(r"-00:?(?:00)?$", value):
        _fail(path, "must be an ISO 8601 date and time (and not the -00:00 offset)")
    from datetime import datetime

    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(path, "must be an ISO 8601 date and time that exists")


def agent(value: Any, path: str, *, object_type_required: bool = False) -> None:
    _object(value, path, {"objectType", "name", *IFIS})
    if object_type_required and value.get("objectType") != "Agent":
        _fail(f"{path}.objectType", "must be 'Agent'")
    if value.get("objectType", "Agent") != "Agent":
        _fail(f"{path}.objectType", "must be 'Agent'")
    if "name" in value:
        _string(value["name"], f"{path}.name")
    ifis = [k for k in IFIS if k in value]
    if len(ifis) != 1:
        _fail(path, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
    _ifi(value, ifis[0], path)


def _ifi(value: dict, key: str, path: str) -> None:
    item = value[key]
    if key == "mbox" and (not isinstance(item, str) or not MAILTO_RE.match(item)):
        _fail(f"{path}.mbox", "must be a mailto: IRI")
    if key == "mbox_sha1sum" and (not isinstance(item, str) or not SHA1_RE.match(item)):
        _fail(f"{path}.mbox_sha1sum", "must be 40 hex digits")
    if key == "openid":
        _iri(item, f"{path}.openid")
    if key == "account":
        _object(item, f"{path}.account", {"homePage", "name"}, ("homePage", "name"))
        _iri(item["homePage"], f"{path}.account.homePage")
        _string(item["name"], f"{path}.account.name")


def group(value: Any, path: str) -> None:
    _object(value, path, {"objectType", "name", "member", *IFIS}, ("objectType",))
    if value["objectType"] != "Group":
        _fail(f"{path}.objectType", "must be 'Group'")
    if "name" in value:
        _string(value["name"], f"{path}.name")
    ifis = [k for k in IFIS if k in value]
    if len(ifis) > 1:
        _fail(path, "a Group has at most one of mbox, mbox_sha1sum, openid, account")
    if ifis:
        _ifi(value, ifis[0], path)
    if "member" in value or not ifis:
        members = value.get("member")
        if not isinstance(members, list) or (not ifis and not members):
            _fail(f"{path}.member", "an anonymous Group needs a non-empty member array")
        for i, member in enumerate(members):
            agent(member, f"{path}.member[{i}]")


def actor(value: Any, path: str) -> None:
    if isinstance(value, dict) and value.get("objectType") == "Group":
        group(value, path)
    else:
        agent(value, path)


def authority(value: Any, path: str) -> None:
    """An Agent, or (OAuth) an anonymous Group of exactly two Agents, one of them the application's account."""
    actor(value, path)
    if value.get("objectType") == "Group":
        members = value.get("member") or []
        if any(k in value for k in IFIS) or len(members) != 2 or not any("account" in m for m in members):
            _fail(path, "a Group authority must be an anonymous Group of two Agents, one of them an OAuth account")


def verb(value: Any, path: str) -> None:
    _object(value, path, {"id", "display"}, ("id",))
    _iri(value["id"], f"{path}.id")
    if "display" in value:
        language_map(value["display"], f"{path}.display")


def _interaction_components(definition: dict, path: str) -> None:
    for name in INTERACTION_COMPONENTS:
        if name not in definition:
            continue
        items = definition[name]
        if not isinstance(items, list):
            _fail(f"{path}.{name}", "must be an array")
        seen = set()
        for i, item in enumerate(items):
            _object(item, f"{path}.{name}[{i}]", {"id", "description"}, ("id",))
            _string(item["id"], f"{path}.{name}[{i}].id")
            if item["id"] in seen:
                _fail(f"{path}.{name}[{i}].id", "repeats an id of the same list")
            seen.add(item["id"])
            if "description" in item:
                language_map(item["description"], f"{path}.{name}[{i}].description")


def activity(value: Any, path: str) -> None:
    _object(value, path, {"objectType", "id", "definition"}, ("id",))
    if value.get("objectType", "Activity") != "Activity":
        _fail(f"{path}.objectType", "must be 'Activity'")
    _iri(value["id"], f"{path}.id")
    if "definition" not in value:
        return
    d = _object(
        value["definition"],
        f"{path}.definition",
        {
            "name",
            "description",
            "type",
            "moreInfo",
            "extensions",
            "interactionType",
            "correctResponsesPattern",
            *INTERACTION_COMPONENTS,
        },
    )
    dp = f"{path}.definition"
    for key in ("name", "description"):
        if key in d:
            language_map(d[key], f"{dp}.{key}")
    for key in ("type", "moreInfo"):
        if key in d:
            _iri(d[key], f"{dp}.{key}")
    if "extensions" in d:
        extensions(d["extensions"], f"{dp}.extensions")
    if "interactionType" in d and (
        not isinstance(d["interactionType"], str) or d["interactionType"] not in INTERACTION_TYPES
    ):
        _fail(f"{dp}.interactionType", "must be one of " + ", ".join(sorted(INTERACTION_TYPES)))
    if "correctResponsesPattern" in d:
        pattern = d["correctResponsesPattern"]
        if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
            _fail(f"{dp}.correctResponsesPattern", "must be an array of strings")
    if any(k in d for k in ("correctResponsesPattern", *INTERACTION_COMPONENTS)) and "interactionType" not in d:
        _fail(f"{dp}.interactionType", "is required with interaction properties")
    _interaction_components(d, dp)


def statement_ref(value: Any, path: str) -> None:
    _object(value, path, {"objectType", "id"}, ("objectType", "id"))
    if value["objectType"] != "StatementRef":
        _fail(f"{path}.objectType", "must be 'StatementRef'")
    _uuid(value["id"], f"{path}.id")


def statement_object(value: Any, path: str, *, in_substatement: bool = False) -> None:
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        activity(value, path)
    elif kind == "Agent":
        agent(value, path, object_type_required=True)
    elif kind == "Group":
        group(value, path)
    elif kind == "StatementRef":
        statement_ref(value, path)
    elif kind == "SubStatement" and not in_substatement:
        substatement(value, path)
    else:
        _fail(
            f"{path}.objectType",
            "must be Activity, Agent, Group, StatementRef" + ("" if in_substatement else " or SubStatement"),
        )


def score(value: Any, path: str) -> None:
    _object(value, path, {"scaled", "raw", "min", "max"})
    for key in value:
        _number(value[key], f"{path}.{key}")
    if "scaled" in value and not -1 <= value["scaled"] <= 1:
        _fail(f"{path}.scaled", "must be between -1 and 1")
    if "min" in value and "max" in value and value["min"] >= value["max"]:
        _fail(f"{path}.max", "must be greater than min")
    if "raw" in value and (
        "min" in value and value["raw"] < value["min"] or "max" in value and value["raw"] > value["max"]
    ):
        _fail(f"{path}.raw", "must be between min and max")


def result(value: Any, path: str) -> None:
    r = _object(value, path, {"score", "success", "completion", "response", "duration", "extensions"})
    if "score" in r:
        score(r["score"], f"{path}.score")
    for key in ("success", "completion"):
        if key in r:
            _bool(r[key], f"{path}.{key}")
    if "response" in r:
        _string(r["response"], f"{path}.response")
    if "duration" in r and (not isinstance(r["duration"], str) or not DURATION_RE.match(r["duration"])):
        _fail(f"{path}.duration", "must be an ISO 8601 duration")
    if "extensions" in r:
        extensions(r["extensions"], f"{path}.extensions")


def context(value: Any, path: str, object_kind: str) -> None:
    c = _object(
        value,
        path,
        {
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
            "contextAgents",
            "contextGroups",
        },
    )
    if "registration" in c:
        _uuid(c["registration"], f"{path}.registration")
    if "instructor" in c:
        actor(c["instructor"], f"{path}.instructor")
    if "team" in c:
        group(c["team"], f"{path}.team")
    if "contextActivities" in c:
        ca = _object(c["contextActivities"], f"{path}.contextActivities", {"parent", "grouping", "category", "other"})
        for key, items in ca.items():
            for i, item in enumerate(items if isinstance(items, list) else [items]):
                activity(item, f"{path}.contextActivities.{key}[{i}]")
    for key in ("revision", "platform"):
        if key in c:
            _string(c[key], f"{path}.{key}")
            if object_kind != "Activity":
                _fail(f"{path}.{key}", "is only allowed when the object is an Activity")
    if "language" in c and (not isinstance(c["language"], str) or not LANGUAGE_RE.match(c["language"])):
        _fail(f"{path}.language", "must be an RFC 5646 language tag")
    if "statement" in c:
        statement_ref(c["statement"], f"{path}.statement")
    for key, kind, member in (("contextAgents", "contextAgent", "agent"), ("contextGroups", "contextGroup", "group")):
        if key in c:
            _context_members(c[key], f"{path}.{key}", kind, member)
    if "extensions" in c:
        extensions(c["extensions"], f"{path}.extensions")


def _context_members(value: Any, path: str, kind: str, member: str) -> None:
    """xAPI 2.0 contextAgents / contextGroups: [{objectType, agent|group, relevantTypes (non-empty IRIs)}]."""
    if not isinstance(value, list):
        _fail(path, "must be an array")
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        _object(item, p, {"objectType", member, "relevantTypes"}, ("objectType", member))
        if item["objectType"] != kind:
            _fail(f"{p}.objectType", f"must be {kind!r}")
        (agent if member == "agent" else group)(item[member], f"{p}.{member}")
        if "relevantTypes" in item:
            types = item["relevantTypes"]
            if not isinstance(types, list) or not types:
                _fail(f"{p}.relevantTypes", "must be a non-empty array of IRIs")
            for j, iri in enumerate(types):
                _iri(iri, f"{p}.relevantTypes[{j}]")


def attachments(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "must be an array")
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        a = _object(
            item,
            p,
            {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"},
            ("usageType", "display", "contentType", "length", "sha2"),
        )
        _iri(a["usageType"], f"{p}.usageType")
        language_map(a["display"], f"{p}.display")
        if "description" in a:
            language_map(a["description"], f"{p}.description")
        _string(a["contentType"], f"{p}.contentType")
        if isinstance(a["length"], bool) or not isinstance(a["length"], int) or a["length"] < 0:
            _fail(f"{p}.length", "must be a non-negative integer")
        if not isinstance(a["sha2"], str) or not re.match(r"^[0-9a-fA-F]{56,128}$", a["sha2"]):
            _fail(f"{p}.sha2", "must be a hex SHA-2 digest")
        if "fileUrl" in a:
            _iri(a["fileUrl"], f"{p}.fileUrl")


def _core(value: dict, path: str) -> str:
    actor(value["actor"], f"{path}.actor")
    verb(value["verb"], f"{path}.verb")
    statement_object(value["object"], f"{path}.object", in_substatement=path != "statement")
    kind = value["object"].get("objectType", "Activity")
    if "result" in value:
        result(value["result"], f"{path}.result")
    if "context" in value:
        context(value["context"], f"{path}.context", kind)
    if "timestamp" in value:
        timestamp(value["timestamp"], f"{path}.timestamp")
    if "attachments" in value:
        attachments(value["attachments"], f"{path}.attachments")
    return kind


def substatement(value: Any, path: str) -> None:
    _object(
        value,
        path,
        {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"},
        ("actor", "verb", "object"),
    )
    _core(value, path)


def _within_depth(value: Any, path: str) -> None:
    """Refuse a value nested deeper than MAX_STATEMENT_DEPTH levels (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if level > MAX_STATEMENT_DEPTH:
            _fail(path, f"nested deeper than allowed (at most {MAX_STATEMENT_DEPTH} levels)")
        pending.extend((child, level + 1) for child in children)


def validate_statement(value: Any, version: str = "1.0.3") -> None:
    """Refuse (StatementError) a statement that breaks xAPI's rules; `version` is the version the request speaks."""
    path = "statement"
    _within_depth(value, path)
    s = _object(
        value,
        path,
        {
            "id",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "stored",
            "authority",
            "version",
            "attachments",
        },
        ("actor", "verb", "object"),
    )
    if "id" in s:
        _uuid(s["id"], f"{path}.id")
    kind = _core(s, path)
    if "stored" in s:
        timestamp(s["stored"], f"{path}.stored")
    if "authority" in s:
        authority(s["authority"], f"{path}.authority")
    if "version" in s and (not isinstance(s["version"], str) or not VERSION_RE[version].match(s["version"])):
        _fail(f"{path}.version", f"must be a {'1.0.x' if version == '1.0.3' else '1.0.x or 2.0.x'} version")
    if s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided" and kind != "StatementRef":
        _fail(f"{path}.object", "a voiding statement's object must be a StatementRef")


def new_id() -> str:
    return str(uuid.uuid4())
