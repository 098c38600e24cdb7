"""A voiding statement whose withdrawal from raw_events failed (ClickHouse refused the DELETE: the request answers
an error after the LRS marked the target voided) withdraws it when the client sends it again: the dashboards stop
counting the voided statement, as the LRS says they do."""

from __future__ import annotations

import uuid

import pytest

from dashboard_support import page_view_statement
from lrs_support import new_credential
from xolap.ingest.pipeline import EventWriter
from xolap.lrs import statements
from xolap.lrs.storage import StatementStore

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


class RefusesDeletes:
    """The real client, except that ClickHouse refuses the next DELETE (nothing of it runs)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def command(self, sql, *args, **kwargs):
        if sql.lstrip().startswith("DELETE"):
            raise RuntimeError("Code: 159. DB::Exception: Timeout exceeded (TIMEOUT_EXCEEDED)")
        return self._client.command(sql, *args, **kwargs)


def in_raw_events(client, database: str, statement_id: str) -> int:
    return int(
        client.query(
            f"SELECT count() FROM `{database}`.raw_events WHERE lower(statement_id) = {{id:String}}",
            parameters={"id": statement_id.lower()},
        ).result_rows[0][0]
    )


def test_a_void_sent_again_after_its_withdrawal_failed_withdraws_the_statement(runtime):
    client, settings = runtime.clickhouse(), runtime.settings
    database = settings.clickhouse_database
    credential, _secret = new_credential(runtime)
    store = StatementStore(client, database)

    def send(statement: dict, writer_client) -> statements.SaveResult:
        writer = EventWriter(writer_client, settings, "lrs")
        incoming = [statements.Incoming(dict(statement))]
        return statements.save(store, writer, incoming, credential, sessions=runtime.sessions)

    viewed = page_view_statement("voided")
    send(viewed, client)
    assert in_raw_events(client, database, viewed["id"]) == 1
    voiding = {
        "actor": {"mbox": "mailto:teacher@example.org"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": viewed["id"]},
        "id": str(uuid.uuid4()),
    }
    with pytest.raises(RuntimeError, match="TIMEOUT_EXCEEDED"):
        send(voiding, RefusesDeletes(client))
    assert in_raw_events(client, database, viewed["id"]) == 1  # the LRS has it voided, the dashboards still count it

    send(voiding, client)  # the client sends it again, as it does after an error
    assert in_raw_events(client, database, viewed["id"]) == 0
