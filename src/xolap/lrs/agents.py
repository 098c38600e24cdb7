"""xAPI Agents as request parameters: parse and check the `agent` JSON (exactly one identifier), the stable hash a
document is filed under, and the Person object /xAPI/agents answers with.

An Agent names a learner, so nothing here puts its identifier into an error message: refusals say which rule failed
("agent.mbox must be a mailto: IRI"), never the value.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import orjson

IFI_PROPERTIES = ("mbox", "mbox_sha1sum", "openid", "account")
AGENT_PROPERTIES = frozenset({"objectType", "name", *IFI_PROPERTIES})
_MAILTO_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
_SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


class AgentError(ValueError):
    """The agent parameter is not a valid Agent; the message names the rule, never the learner's identifier."""


@dataclass(frozen=True)
class Agent:
    """A checked Agent: its one inverse functional identifier (kind + value) and its optional name."""

    ifi: str  # mbox | mbox_sha1sum | openid | account
    value: str | tuple[str, str]  # (homePage, name) for an account
    name: str | None = None

    @property
    def key_hash(self) -> str:
        """SHA-256 of the identifier: what documents are filed under (the identifier itself is not stored)."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return hashlib.sha256(orjson.dumps([self.ifi, value])).hexdigest()

    def as_json(self) -> dict:
        body: dict = {"objectType": "Agent"}
        if self.name is not None:
            body["name"] = self.name
        if self.ifi == "account":
            body["account"] = {"homePage": self.value[0], "name": self.value[1]}
        else:
            body[self.ifi] = self.value
        return body


def is_iri(value: object) -> bool:
    """An absolute IRI: a scheme, a colon, then no whitespace (what xAPI's IRI-valued fields need)."""
    return isinstance(value, str) and bool(_IRI_RE.match(value))


def check_agent(data: object, where: str = "agent") -> Agent:
    """An Agent from decoded JSON, or AgentError naming the rule it breaks."""
    if not isinstance(data, dict):
        raise AgentError(f"{where} must be a JSON object (an xAPI Agent)")
    unknown = sorted(set(data) - AGENT_PROPERTIES)
    if unknown:
        kept = [k for k in unknown if len(k) <= 40 and k.isprintable()]
        raise AgentError(f"{where} has properties an Agent does not have: {', '.join(kept) or 'unprintable names'}")
    object_type = data.get("objectType", "Agent")
    if object_type == "Group":
        raise AgentError(f"{where} must be an Agent, not a Group")
    if object_type != "Agent":
        raise AgentError(f"{where}.objectType must be \"Agent\"")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise AgentError(f"{where}.name must be a string")
    present = [p for p in IFI_PROPERTIES if data.get(p) is not None]
    if len(present) != 1:
        raise AgentError(f"{where} must have exactly one identifier of mbox, mbox_sha1sum, openid, account "
                         f"(found {len(present)})")
    ifi = present[0]
    value = data[ifi]
    if ifi == "mbox":
        if not isinstance(value, str) or not _MAILTO_RE.match(value):
            raise AgentError(f"{where}.mbox must be a mailto: IRI holding one email address")
        return Agent("mbox", value, name)
    if ifi == "mbox_sha1sum":
        if not isinstance(value, str) or not _SHA1_RE.match(value):
            raise AgentError(f"{where}.mbox_sha1sum must be 40 hexadecimal digits")
        return Agent("mbox_sha1sum", value.lower(), name)
    if ifi == "openid":
        if not is_iri(value):
            raise AgentError(f"{where}.openid must be a URI")
        return Agent("openid", value, name)
    return Agent("account", _check_account(value, where), name)


def _check_account(value: object, where: str) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise AgentError(f"{where}.account must be an object with homePage and name")
    unknown = set(value) - {"homePage", "name"}
    if unknown:
        raise AgentError(f"{where}.account may only have homePage and name")
    home, name = value.get("homePage"), value.get("name")
    if not is_iri(home):
        raise AgentError(f"{where}.account.homePage must be an IRI")
    if not isinstance(name, str) or not name:
        raise AgentError(f"{where}.account.name must be a non-empty string")
    return home, name


def parse_agent(text: str, where: str = "agent") -> Agent:
    """The `agent` query parameter (JSON text) as an Agent."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise AgentError(f"{where} must be JSON (an xAPI Agent object)") from None
    return check_agent(data, where)


def person(agent: Agent) -> dict:
    """The Person object for an Agent: each identifier property as an array (xAPI Communication 2.4)."""
    body: dict = {"objectType": "Person"}
    if agent.name is not None:
        body["name"] = [agent.name]
    if agent.ifi == "account":
        body["account"] = [{"homePage": agent.value[0], "name": agent.value[1]}]
    else:
        body[agent.ifi] = [agent.value]
    return body
