"""A statement nested deeper than the LRS can write back is refused with a clear 400 naming the limit, and one at the
limit is stored and read back. orjson reads 1024 levels but writes 255: a statement nested 256-1023 levels deep was
read, then failed with a 500 when its stored form was written (and the good statements sent with it were lost)."""

from __future__ import annotations

import uuid

import orjson
import pytest
from fastapi.testclient import TestClient

from lrs_support import lrs_client
from web.test_api_statements import statement
from xolap.lrs.validation import MAX_STATEMENT_DEPTH


def nested_statement(depth: int) -> bytes:
    """A statement whose deepest value is `depth` levels down (the statement itself is level 1)."""
    extra = depth - 3  # statement > context > extensions > the nested lists
    nested = b'"extensions":{"http://example.org/deep":' + b"[" * extra + b"]" * extra + b","
    body = statement(1) | {"id": str(uuid.uuid4())}
    return orjson.dumps(body).replace(b'"extensions":{', nested)


@pytest.mark.parametrize("depth", [MAX_STATEMENT_DEPTH + 1, 300, 900, 1_020])
def test_a_statement_nested_past_the_limit_is_a_clear_400(runtime, depth):
    client, headers, _cred = lrs_client(runtime)
    client = TestClient(client.app, raise_server_exceptions=False)
    answer = client.post("/xAPI/statements", content=nested_statement(depth), headers=headers)
    assert answer.status_code == 400, answer.text[:200]
    assert f"at most {MAX_STATEMENT_DEPTH} levels" in answer.json()["message"]


def test_a_statement_at_the_limit_is_stored_and_read_back(runtime):
    client, headers, _cred = lrs_client(runtime)
    body = nested_statement(MAX_STATEMENT_DEPTH)
    statement_id = orjson.loads(body)["id"]
    answer = client.post("/xAPI/statements", content=body, headers=headers)
    assert answer.status_code == 200, answer.text[:200]
    single = client.get("/xAPI/statements", params={"statementId": statement_id}, headers=headers)
    assert single.status_code == 200 and single.json()["id"] == statement_id
    listed = client.get("/xAPI/statements", params={"limit": 5}, headers=headers)
    assert listed.status_code == 200 and statement_id in [s["id"] for s in listed.json()["statements"]]


def test_merging_into_a_document_too_deep_to_write_is_a_clear_400_and_keeps_it(runtime):
    client, headers, _cred = lrs_client(runtime)
    client = TestClient(client.app, raise_server_exceptions=False)
    url = '/xAPI/activities/state?activityId=http://x/a&agent={"mbox":"mailto:a@example.org"}&stateId=deep'
    deep = b'{"k":' + b"[" * 300 + b"]" * 300 + b"}"  # stored as sent by PUT: orjson reads it, cannot write it
    json_type = {**headers, "Content-Type": "application/json"}
    assert client.put(url, content=deep, headers=json_type).status_code == 204
    merged = client.post(url, content=b'{"x": 1}', headers=json_type)
    assert merged.status_code == 400, merged.text[:200]
    assert "nested deeper" in merged.text
    assert client.get(url, headers=headers).content == deep  # the stored document is untouched
