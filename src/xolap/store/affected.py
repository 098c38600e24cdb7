"""How many rows an UPDATE or DELETE run through a SQLAlchemy Session changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def affected_rows(result: Result[Any]) -> int:
    """The rowcount of a DML statement's result (Session.execute types it as a plain Result; at run time an UPDATE
    or DELETE gives a CursorResult, which counts the rows); 0 for a result that counts none."""
    if isinstance(result, CursorResult):
        return result.rowcount or 0
    return 0
