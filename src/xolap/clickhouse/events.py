"""How every reader sees raw_events: deduplicated (FINAL) and, for scoped readers, filtered by a bound scope id.

ReplacingMergeTree collapses duplicate event_hash rows only when parts merge; FINAL makes queries count each event
once before that. Partitions are monthly and the dedup key includes the timestamp, so a duplicate never spans
partitions and FINAL may skip cross-partition merging (do_not_merge_across_partitions_select_final).
This module is the one place that builds those reads; the analytics guard rewrites user SQL into them.
"""

from __future__ import annotations

from typing import Literal, TypeGuard

Scope = Literal["section", "project"]


def is_scope(name: str) -> TypeGuard[Scope]:
    """True for the scopes events are filtered by: section and project."""
    return name in ("section", "project")


SCOPE_COLUMNS: dict[str, str] = {"section": "section_id", "project": "project_id"}
SCOPE_PARAMETER = "xolap_scope_id"

# Settings every read of raw_events runs with. FINAL's "exact mode" re-reads every granule a skip index pruned (to
# find other copies of a row); every copy of an event carries the same section_id/project_id, so pruning by them is
# safe without it (bench/analytics: 10-20x on project queries at 50M events).
READ_SETTINGS: dict[str, int] = {
    "do_not_merge_across_partitions_select_final": 1,
    "use_skip_indexes_if_final_exact_mode": 0,
}


def events_table(database: str) -> str:
    return f"`{database}`.raw_events"


def deduplicated_events(database: str) -> str:
    """A table expression for all events, each counted once."""
    return f"{events_table(database)} FINAL"


def scoped_events(database: str, scope: Scope) -> str:
    """A subquery of one section's or project's events, each counted once; the id is the bound parameter
    `{xolap_scope_id:UInt64}`, never formatted into the text."""
    column = SCOPE_COLUMNS[scope]
    return f"(SELECT * FROM {deduplicated_events(database)} WHERE {column} = {{{SCOPE_PARAMETER}:UInt64}})"
