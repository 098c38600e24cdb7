"""xAPI query parameters: one value each, of the right form (IRI, UUID, Timestamp, Agent JSON, non-empty string),
and none the resource does not define. ParameterError names the parameter and the rule, never the value (an agent
or an id may identify a learner)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal, overload

from xolap.lrs.agents import Agent, AgentError, is_iri, parse_agent
from xolap.lrs.validation import UUID_RE, StatementError
from xolap.lrs.validation import timestamp as timestamp_rules

MAX_ID_LENGTH = 2048
_UNENCODED_PLUS = re.compile(r"T[\d:.]+ \d\d:\d\d$")


class ParameterError(ValueError):
    """A missing, repeated, unknown or malformed parameter (HTTP 400)."""


class Parameters:
    """The query parameters of one request, checked against the names a resource defines."""

    def __init__(self, pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> None:
        self.values: dict[str, str] = {}
        allowed = set(allowed)
        unknown, repeated = [], []
        for name, value in pairs:
            if name not in allowed:
                unknown.append(name)
            elif name in self.values:
                repeated.append(name)
            else:
                self.values[name] = value
        if unknown:
            shown = [n if len(n) <= 40 and n.isprintable() else "(unprintable)" for n in dict.fromkeys(unknown)]
            raise ParameterError(
                f"unknown parameter(s) {', '.join(shown)}: this resource takes {', '.join(sorted(allowed))}"
            )
        if repeated:
            raise ParameterError(f"parameter {repeated[0]} given more than once")

    @classmethod
    def of(cls, mapping: Mapping[str, str] | Iterable[tuple[str, str]], allowed: Iterable[str]) -> Parameters:
        pairs = (
            mapping.multi_items()
            if hasattr(mapping, "multi_items")
            else (mapping.items() if isinstance(mapping, Mapping) else mapping)
        )
        return cls(pairs, allowed)

    def has(self, name: str) -> bool:
        return name in self.values

    # A required parameter is never None (a missing one raises ParameterError): the overloads say so to callers.
    @overload
    def string(self, name: str, required: Literal[True] = True) -> str: ...
    @overload
    def string(self, name: str, required: bool) -> str | None: ...
    def string(self, name: str, required: bool = True) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise ParameterError(f"parameter {name} is required")
            return None
        if not value:
            raise ParameterError(f"parameter {name} must not be empty")
        if len(value) > MAX_ID_LENGTH:
            raise ParameterError(f"parameter {name} is longer than {MAX_ID_LENGTH} characters")
        return value

    @overload
    def iri(self, name: str, required: Literal[True] = True) -> str: ...
    @overload
    def iri(self, name: str, required: bool) -> str | None: ...
    def iri(self, name: str, required: bool = True) -> str | None:
        value = self.string(name, required)
        if value is not None and not is_iri(value):
            raise ParameterError(f"parameter {name} must be an IRI (scheme:...)")
        return value

    def uuid(self, name: str, required: bool = False) -> str | None:
        value = self.string(name, required)
        if value is None:
            return None
        if not UUID_RE.match(value):
            raise ParameterError(f"parameter {name} must be a UUID (8-4-4-4-12 hex digits)")
        return value.lower()

    def timestamp(self, name: str, required: bool = False) -> datetime | None:
        value = self.string(name, required)
        return None if value is None else parse_timestamp(value, name)

    @overload
    def agent(self, name: str = "agent", required: Literal[True] = True) -> Agent: ...
    @overload
    def agent(self, name: str, required: bool) -> Agent | None: ...
    def agent(self, name: str = "agent", required: bool = True) -> Agent | None:
        value = self.string(name, required)
        if value is None:
            return None
        try:
            return parse_agent(value, name)
        except AgentError as exc:
            raise ParameterError(str(exc)) from None


def parse_timestamp(value: str, name: str = "timestamp") -> datetime:
    """An xAPI Timestamp (the rule statements follow: xolap.lrs.validation.timestamp; a missing offset means UTC),
    or ParameterError."""
    text = value.strip()
    if _UNENCODED_PLUS.search(text):  # "+02:00" sent without URL encoding arrives as " 02:00"
        text = text[:-6] + "+" + text[-5:]
    try:
        timestamp_rules(text, name)
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except (StatementError, ValueError):
        raise ParameterError(f"parameter {name} must be an ISO 8601 timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
