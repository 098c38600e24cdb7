"""An LRS POST cut off between its two writes (the process killed, or ClickHouse gone, after the statements were
stored in lrs_statements and before their raw_events rows went in): the client's retry of the same statements is
the no-op xAPI asks for (200, the same ids, nothing stored twice in the LRS), and it maps them into raw_events, each
exactly once (their event_hash is the same line's). Before, the retry found the ids stored and skipped them, so the
dashboards never counted those statements."""

from __future__ import annotations

import pytest

from dashboard_support import page_view_statement
from lrs_support import new_credential
from xolap.ingest.pipeline import EventWriter
from xolap.lrs import statements
from xolap.lrs.storage import StatementStore

pytestmark = pytest.mark.faults


class DiesBeforeRawEvents:
    """The real client, except that the process dies before its raw_events insert runs (nothing of it lands)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def insert_arrow(self, table, *args, **kwargs):
        if table == "raw_events":
            raise RuntimeError("killed before the raw_events insert")
        return self._client.insert_arrow(table, *args, **kwargs)


def counts(client, database: str, ids: list[str]) -> tuple[int, int, int]:
    """(rows read FINAL, distinct statement ids, distinct event hashes) of raw_events for the ids."""
    row = client.query(
        f"SELECT count(), uniqExact(statement_id), uniqExact(event_hash) FROM `{database}`.raw_events FINAL "
        "WHERE lower(statement_id) IN {ids:Array(String)}",
        parameters={"ids": [i.lower() for i in ids]},
    ).result_rows[0]
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.parametrize("timestamped", [True, False], ids=["timestamped", "stamped-by-the-lrs"])
def test_a_retry_after_a_crash_between_the_writes_maps_each_statement_once(runtime, timestamped):
    client, settings = runtime.clickhouse(), runtime.settings
    database = settings.clickhouse_database
    credential, _secret = new_credential(runtime)
    store = StatementStore(client, database)
    batch = [page_view_statement(f"crash-{timestamped}") for _ in range(5)]
    if not timestamped:  # the LRS stamps them: the retry must map the line stored the first time, not a new stamp
        for statement in batch:
            del statement["timestamp"]
    ids = [s["id"] for s in batch]

    def send(writer_client) -> statements.SaveResult:
        writer = EventWriter(writer_client, settings, "lrs")
        incoming = [statements.Incoming(dict(s)) for s in batch]
        return statements.save(store, writer, incoming, credential, sessions=runtime.sessions)

    with pytest.raises(RuntimeError, match="killed"):
        send(DiesBeforeRawEvents(client))
    assert len(store.fetch([i.lower() for i in ids])) == 5  # stored in the LRS ...
    assert counts(client, database, ids) == (0, 0, 0)  # ... and not on the dashboards

    retried = send(client)  # the client sends the same statements again after the error
    assert retried.ids == ids and retried.stored == 0  # xAPI: the same statements again are a no-op, no 409
    assert counts(client, database, ids) == (5, 5, 5)
    send(client)  # and again: still once each
    assert counts(client, database, ids) == (5, 5, 5)
