"""The Activities resource's canonical Activity object: the definitions that the statements a credential may read
give for one activity id (as the object, a context activity, or inside a SubStatement), merged oldest to newest
(statements stored in the same millisecond, as one batch is, in statement id order).

Merge rule (xAPI Communication 2.5: "all available information"): the language maps name and description gain
every language; extensions gain every key; any other definition property (type, moreInfo, interactionType, the
interaction component lists...) takes its latest value. Voided statements do not count. At most
MAX_STATEMENTS of the newest statements are read, so one request stays bounded however popular the activity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

from xolap.lrs.query import scope_clauses
from xolap.lrs.storage import StatementStore

if TYPE_CHECKING:
    from xolap.lrs.credentials import LrsCredential

MAX_STATEMENTS = 1000
LANGUAGE_MAPS = ("name", "description")


def activity_objects(statement: dict, activity_id: str) -> list[dict]:
    """Every Activity object with `activity_id` in one statement (object, context activities, SubStatement)."""
    found: list[dict] = []

    def consider(item: object) -> None:
        if (
            isinstance(item, dict)
            and item.get("id") == activity_id
            and item.get("objectType", "Activity") == "Activity"
        ):
            found.append(item)

    def walk(part: dict) -> None:
        target = part.get("object")
        consider(target)
        for items in ((part.get("context") or {}).get("contextActivities") or {}).values():
            for item in items if isinstance(items, list) else [items]:
                consider(item)
        if isinstance(target, dict) and target.get("objectType") == "SubStatement":
            walk(target)

    walk(statement)
    return found


def merge_definitions(objects: Iterable[dict], activity_id: str) -> dict:
    """The canonical Activity object from the objects met, oldest first."""
    definition: dict = {}
    for item in objects:
        incoming = item.get("definition")
        if not isinstance(incoming, dict):
            continue
        for key, value in incoming.items():
            if (
                (key in LANGUAGE_MAPS or key == "extensions")
                and isinstance(value, dict)
                and isinstance(definition.get(key), dict)
            ):
                definition[key] = definition[key] | value
            else:
                definition[key] = value
    body: dict = {"objectType": "Activity", "id": activity_id}
    if definition:
        body["definition"] = definition
    return body


def canonical_activity(store: StatementStore, credential: LrsCredential, activity_id: str) -> dict:
    """The Activity object for `activity_id` from the statements `credential` may read (only the id when none)."""
    clauses, params = scope_clauses(credential)
    where = " AND ".join(["has(related_activity_ids, {activity:String})", "voided = 0", *clauses])
    result = store.client.query(
        f"SELECT statement FROM (SELECT statement, stored, statement_id FROM {store.table} FINAL WHERE {where} "
        f"ORDER BY stored DESC, statement_id DESC LIMIT {MAX_STATEMENTS}) ORDER BY stored, statement_id",
        parameters={"activity": activity_id, **params},
    )
    objects = []
    for (text,) in result.result_rows:
        objects.extend(activity_objects(orjson.loads(text), activity_id))
    return merge_definitions(objects, activity_id)
