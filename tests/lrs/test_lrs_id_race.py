"""The id conflict rule holds across concurrent requests: several clients PUT/POST one statement id with different
content at the same moment against a live app; exactly one is stored (200/204), the others get 409, and the id has
one row in lrs_statements and one event in raw_events."""

from __future__ import annotations

import threading
import uuid

import httpx

from lrs_support import V103, basic, live_lrs

VERB = "http://adlnet.gov/expapi/verbs/experienced"
THREADS = 6
ROUNDS = 4


def stmt(sid: str, variant: int) -> dict:
    return {
        "id": sid,
        "actor": {"mbox": f"mailto:racer{variant}@example.com"},
        "verb": {"id": VERB},
        "object": {"id": f"http://example.com/race/{variant}"},
        "timestamp": "2026-09-01T10:00:00.000Z",
    }


def race(endpoint: str, headers: dict, sid: str) -> list[int]:
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = [0] * THREADS

    def send(variant: int) -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            if variant % 2:
                response = client.put(
                    endpoint + "statements", params={"statementId": sid}, json=stmt(sid, variant), headers=headers
                )
            else:
                response = client.post(endpoint + "statements", json=stmt(sid, variant), headers=headers)
            statuses[variant] = response.status_code

    threads = [threading.Thread(target=send, args=(v,)) for v in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_concurrent_writes_of_one_id_store_one_statement(runtime):
    database = runtime.settings.clickhouse_database
    with live_lrs(runtime) as (endpoint, key, secret):
        headers = basic(key, secret) | V103
        for _ in range(ROUNDS):
            sid = str(uuid.uuid4())
            statuses = race(endpoint, headers, sid)
            assert sorted(s for s in statuses if s != 409) in ([200], [204]), statuses
            rows = (
                runtime.clickhouse()
                .query(
                    f"SELECT count() FROM `{database}`.lrs_statements WHERE statement_id = {{id:String}}",
                    parameters={"id": sid},
                )
                .result_rows[0][0]
            )
            events = (
                runtime.clickhouse()
                .query(
                    f"SELECT count() FROM `{database}`.raw_events WHERE lower(statement_id) = {{id:String}}",
                    parameters={"id": sid},
                )
                .result_rows[0][0]
            )
            assert (rows, events) == (1, 1), statuses
