"""One Postgres advisory lock per statement id, held around the LRS's id conflict check and insert, so two requests
writing one id (or voiding one target) at the same moment are serialized and xAPI's rule (same id + different content
= 409) holds across requests, workers and processes.

The locks are transaction-level (pg_advisory_xact_lock) in xolap's own two-key space (class LOCK_CLASS, 32-bit hash
of the lowercase id), taken in one statement in ascending key order so two batches never deadlock; they end with
the transaction when the `held` block exits, whatever happens inside it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

LOCK_CLASS = 0x4C5253  # "LRS": keeps these keys apart from other two-key advisory locks of xolap


def lock_key(statement_id: str) -> int:
    """A signed 32-bit key for this statement id (case-insensitive, as xAPI compares ids)."""
    return int.from_bytes(hashlib.sha256(statement_id.lower().encode()).digest()[:4], "big", signed=True)


@contextmanager
def held(sessions: sessionmaker[Session], statement_ids: Iterable[str]) -> Iterator[None]:
    """Hold the advisory locks of these ids (waiting for other holders) for the duration of the block."""
    keys = sorted({lock_key(i) for i in statement_ids})
    if not keys:
        yield
        return
    with sessions() as session, session.begin():
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, k) FROM unnest(CAST(:keys AS integer[])) AS k ORDER BY k"),
            {"cls": LOCK_CLASS, "keys": keys},
        )
        yield
