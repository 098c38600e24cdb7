"""Attachments (multipart/mixed, stored by sha2, returned with attachments=true) and signed statements."""

from __future__ import annotations

import base64
import hashlib

import orjson

from lrs_support import lrs_client
from xolap.lrs import multipart

VERB = "http://adlnet.gov/expapi/verbs/experienced"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def _statement(
    content: bytes, usage: str = "http://example.com/usage/report", content_type: str = "text/plain"
) -> dict:
    return {
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": VERB},
        "object": {"id": "http://example.com/a"},
        "attachments": [
            {
                "usageType": usage,
                "display": {"en-US": "report"},
                "contentType": content_type,
                "length": len(content),
                "sha2": hashlib.sha256(content).hexdigest(),
            }
        ],
    }


def _post(client, auth, document, parts):
    body, content_type = multipart.build(document, parts)
    return client.post("/xAPI/statements", headers=auth | {"Content-Type": content_type}, content=body)


def test_attachment_stored_and_returned(runtime):
    client, auth, _ = lrs_client(runtime)
    content = b"the report \x00\xff bytes"
    sha2 = hashlib.sha256(content).hexdigest()
    response = _post(client, auth, _statement(content), {sha2: ("text/plain", content)})
    assert response.status_code == 200, response.text
    [sid] = response.json()
    got = client.get("/xAPI/statements", headers=auth, params={"statementId": sid, "attachments": "true"})
    assert got.headers["content-type"].startswith("multipart/mixed")
    statements, parts = multipart.parse(got.headers["content-type"], got.content)
    assert orjson.loads(statements)["id"] == sid and parts[sha2][1] == content


def test_attachment_parts_must_match(runtime):
    client, auth, _ = lrs_client(runtime)
    content = b"abc"
    sha2 = hashlib.sha256(content).hexdigest()
    missing = client.post("/xAPI/statements", headers=auth, json=_statement(content))
    assert missing.status_code == 400 and "attachments[0]" in missing.json()["message"]
    wrong = _post(client, auth, _statement(content), {sha2: ("text/plain", b"abd")})
    assert wrong.status_code == 400
    extra_content = b"unrelated"
    extra = _post(
        client,
        auth,
        _statement(content),
        {sha2: ("text/plain", content), hashlib.sha256(extra_content).hexdigest(): ("text/plain", extra_content)},
    )
    assert extra.status_code == 400
    assert client.get("/xAPI/statements", headers=auth).json()["statements"] == []


def _jws(payload: dict, alg: str = "RS256") -> bytes:
    encode = lambda part: base64.urlsafe_b64encode(orjson.dumps(part)).decode().rstrip("=")  # noqa: E731
    return f"{encode({'alg': alg})}.{encode(payload)}.c2lnbmF0dXJl".encode()


def test_signed_statements(runtime):
    client, auth, _ = lrs_client(runtime)
    base = {
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": VERB},
        "object": {"id": "http://example.com/a"},
    }
    for payload, alg, status in (
        (base, "RS256", 200),
        ({**base, "object": {"id": "http://example.com/b"}}, "RS256", 400),
        (base, "HS256", 400),
    ):
        signature = _jws(payload, alg)
        statement = {**base, **_statement(signature, SIGNATURE, "application/octet-stream")}
        sha2 = hashlib.sha256(signature).hexdigest()
        response = _post(client, auth, statement, {sha2: ("application/octet-stream", signature)})
        assert response.status_code == status, (payload, alg, response.text)
