"""xAPI Agents as request parameters: parse and check the `agent` JSON (exactly one identifier), the stable hash a
document is filed under, and the Person object /xAPI/agents answers with.

An Agent names a learner, so nothing here puts its identifier into an error message: refusals say which rule failed
("agent.mbox: must be a mailto: IRI"), never the value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from xolap.lrs.validation import IFIS, IRI_RE, StatementError
from xolap.lrs.validation import agent as check_agent_rules


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
    """An absolute IRI: a scheme, a colon, then no whitespace (the rule statements follow too)."""
    return isinstance(value, str) and bool(IRI_RE.match(value))


def check_agent(data: object, where: str = "agent") -> Agent:
    """An Agent from decoded JSON, or AgentError naming the rule it breaks (the rules statements' Agents follow,
    xolap.lrs.validation.agent; a Group is refused by name)."""
    if not isinstance(data, dict):
        raise AgentError(f"{where}: must be a JSON object (an xAPI Agent)")
    if data.get("objectType") == "Group":
        raise AgentError(f"{where}: must be an Agent, not a Group")
    try:
        check_agent_rules(data, where)
    except StatementError as exc:
        raise AgentError(str(exc)) from None
    ifi = next(p for p in IFIS if p in data)
    value = data[ifi]
    if ifi == "account":
        value = (value["homePage"], value["name"])
    elif ifi == "mbox_sha1sum":
        value = value.lower()
    return Agent(ifi, value, data.get("name"))


def parse_agent(text: str, where: str = "agent") -> Agent:
    """The `agent` query parameter (JSON text) as an Agent."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise AgentError(f"{where}: must be JSON (an xAPI Agent object)") from None
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
