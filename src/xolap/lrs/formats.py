"""Statement formats of GET /xAPI/statements: exact (as stored), ids (agents, activities and verbs reduced to
their identifiers) and canonical (each language map reduced to the caller's preferred language)."""

from __future__ import annotations

from typing import Any

from xolap.lrs.validation import IFIS

LANGUAGE_MAP_KEYS = {"display", "name", "description"}


def _agent_ids(agent: dict) -> dict:
    out = {k: agent[k] for k in ("objectType", *IFIS) if k in agent}
    if "member" in agent:
        out["member"] = [_agent_ids(m) for m in agent["member"]]
    return out


def _activity_ids(activity: dict) -> dict:
    return {"id": activity["id"]}


def _ids_object(obj: dict) -> dict:
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return _activity_ids(obj)
    if kind in ("Agent", "Group"):
        return _agent_ids(obj)
    if kind == "SubStatement":
        return _ids_core(obj)
    return obj


def _ids_core(statement: dict) -> dict:
    out = dict(statement)
    out["actor"] = _agent_ids(statement["actor"])
    out["verb"] = {"id": statement["verb"]["id"]}
    out["object"] = _ids_object(statement["object"])
    if "authority" in statement:
        out["authority"] = _agent_ids(statement["authority"])
    context = statement.get("context")
    if context:
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _agent_ids(context[key])
        if "contextActivities" in context:
            context["contextActivities"] = {
                k: [_activity_ids(a) for a in (v if isinstance(v, list) else [v])]
                for k, v in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def _pick_language(language_map: dict, preferred: list[str]) -> dict:
    for tag in preferred:
        for key in language_map:
            if key.lower() == tag.lower() or key.lower().split("-")[0] == tag.lower():
                return {key: language_map[key]}
    for key in ("und", "en-US", "en"):
        if key in language_map:
            return {key: language_map[key]}
    first = next(iter(language_map), None)
    return {first: language_map[first]} if first is not None else {}


def _canonical(value: Any, preferred: list[str], parent: str = "") -> Any:
    if isinstance(value, dict):
        if parent in LANGUAGE_MAP_KEYS and all(isinstance(v, str) for v in value.values()):
            return _pick_language(value, preferred)
        return {k: v if k == "extensions" else _canonical(v, preferred, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v, preferred, parent if parent != "member" else "") for v in value]
    return value


def accept_languages(header: str | None) -> list[str]:
    """Language tags of Accept-Language, best first."""
    tags = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*":
            tags.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(tags)]


def formatted(statement: dict, fmt: str, languages: list[str]) -> dict:
    if fmt == "ids":
        return _ids_core(statement)
    if fmt == "canonical":
        return _canonical(statement, languages)
    return statement
