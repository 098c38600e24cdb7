"""POST /api/v1/statements: one statement, arrays, JSONL; partial rejection keeps the good ones; auth; archive."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from xolap.web.app import create_app


def statement(i: int, section: int = 11) -> dict:
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": str(1000 + i)}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {
            "id": f"https://torus.example/page/{i}",
            "definition": {"type": "http://oli.cmu.edu/extensions/types/page", "name": {"en-US": f"Page {i}"}},
        },
        "context": {
            "extensions": {
                "http://oli.cmu.edu/extensions/section_id": section,
                "http://oli.cmu.edu/extensions/project_id": 5,
                "http://oli.cmu.edu/extensions/page_id": i,
            }
        },
        "timestamp": f"2025-02-0{1 + i % 8}T10:00:00.000Z",
    }


def _client(runtime):
    return TestClient(create_app(runtime)), {"Authorization": f"Bearer {runtime.admin_token}"}


def _count(runtime) -> int:
    db = runtime.settings.clickhouse_database
    return runtime.clickhouse().query(f"SELECT count() FROM `{db}`.raw_events FINAL").result_rows[0][0]


def test_single_array_and_jsonl(runtime):
    client, auth = _client(runtime)
    one = client.post(
        "/api/v1/statements", content=orjson.dumps(statement(1)), headers=auth | {"Content-Type": "application/json"}
    )
    assert one.status_code == 200 and one.json()["accepted"] == 1
    many = client.post("/api/v1/statements", content=orjson.dumps([statement(i) for i in range(2, 6)]), headers=auth)
    assert many.json() | {"source_file": None} == {
        "accepted": 4,
        "rejected": 0,
        "errors": [],
        "source_file": None,
        "archived": [],
    }
    jsonl = b"\n".join(orjson.dumps(statement(i)) for i in range(6, 9)) + b"\n\n"
    lines = client.post("/api/v1/statements", content=jsonl, headers=auth | {"Content-Type": "application/x-ndjson"})
    assert lines.json()["accepted"] == 3
    assert _count(runtime) == 8
    # The same statement again is the same event: still counted once.
    client.post("/api/v1/statements", content=orjson.dumps(statement(1)), headers=auth)
    assert _count(runtime) == 8


def test_bad_statements_are_reported_and_good_ones_kept(runtime):
    client, auth = _client(runtime)
    bad_time = statement(2) | {"timestamp": "yesterday-ish"}
    no_verb = {k: v for k, v in statement(3).items() if k != "verb"}
    body = orjson.dumps([statement(1), bad_time, no_verb, 42, statement(4)])
    response = client.post("/api/v1/statements", content=body, headers=auth)
    assert response.status_code == 200
    data = response.json()
    assert data["accepted"] == 2 and data["rejected"] == 3
    reasons = {e["line"]: e["reason"] for e in data["errors"]}
    assert set(reasons) == {2, 3, 4}
    assert "timestamp" in reasons[2] and "verb" in reasons[3]
    assert _count(runtime) == 2
    db = runtime.settings.clickhouse_database
    recorded = (
        runtime.clickhouse().query(f"SELECT source_line FROM `{db}`.ingest_errors ORDER BY source_line").result_rows
    )
    assert [r[0] for r in recorded] == [2, 3, 4]


def test_bodies_that_cannot_be_ingested(runtime):
    client, auth = _client(runtime)
    assert client.post("/api/v1/statements", content=b"  ", headers=auth).status_code == 400
    assert client.post("/api/v1/statements", content=b"[]", headers=auth).status_code == 400
    broken = client.post("/api/v1/statements", content=b'{"actor": ', headers=auth)
    assert broken.status_code == 422 and broken.json()["errors"][0]["line"] == 1


def test_requires_an_admin_token(runtime):
    client, _ = _client(runtime)
    assert client.post("/api/v1/statements", content=orjson.dumps(statement(1))).status_code == 401
    assert (
        client.post(
            "/api/v1/statements", content=orjson.dumps(statement(1)), headers={"Authorization": "Bearer nope"}
        ).status_code
        == 403
    )
    assert _count(runtime) == 0


def test_archives_accepted_statements_to_s3(runtime, aws_settings):
    import boto3

    s3 = boto3.client("s3", endpoint_url=aws_settings.s3_endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket="xapi-archive")
    runtime.settings = runtime.settings.model_copy(
        update={
            "s3_endpoint_url": aws_settings.s3_endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": aws_settings.aws_secret_access_key,
            "s3_bundle_bucket": "xapi-archive",
            "s3_bundle_prefix": "raw",
        }
    )
    client, auth = _client(runtime)
    response = client.post(
        "/api/v1/statements", content=orjson.dumps([statement(1, 11), statement(2, 12), {"bad": 1}]), headers=auth
    )
    keys = response.json()["archived"]
    assert len(keys) == 2 and all(k.startswith("raw/section/") and "/page_viewed/" in k for k in keys)
    body = s3.get_object(Bucket="xapi-archive", Key=keys[0])["Body"].read()
    assert len(body.strip().splitlines()) == 1


def test_ingest_paths_through_the_server(runtime, tmp_path):
    """What `xolap ingest` sends when `xolap serve` holds the engine: the CLI's summary, bad lines reported."""
    tmp_path = imports_dir(runtime, tmp_path)
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(orjson.dumps(statement(i)) for i in range(3)) + b"\n")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(orjson.dumps(statement(10)) + b"\nnot json\n")
    client, auth = _client(runtime)
    data = client.post("/api/v1/ingest/paths", json={"paths": [str(good), str(mixed)]}, headers=auth).json()
    assert (data["files"], data["rows"], data["rejected"], data["exit_code"]) == (2, 4, 1, 3)
    assert data["errors"][0]["file"].endswith("mixed.jsonl") and data["errors"][0]["line"] == 2
    missing = client.post("/api/v1/ingest/paths", json={"paths": [str(tmp_path / "nope.jsonl")]}, headers=auth).json()
    assert missing["exit_code"] == 1 and missing["failures"]
    assert client.post("/api/v1/ingest/paths", json={"paths": [str(good)]}).status_code == 401


def imports_dir(runtime, tmp_path):
    """A fresh folder under the default ingest root (<data_dir>/imports)."""
    folder = runtime.settings.data_dir / "imports" / tmp_path.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_local_paths_outside_the_ingest_roots_are_refused(runtime, tmp_path):
    inside = imports_dir(runtime, tmp_path)
    outside = tmp_path / "secret.jsonl"
    outside.write_bytes(orjson.dumps(statement(1)) + b"\nroot:x:0:0:root:/root:/bin/bash\n")
    (inside / "link.jsonl").symlink_to(outside)
    (inside / "linked_dir").symlink_to(tmp_path)
    client, auth = _client(runtime)
    for path in [
        "/etc/passwd",
        str(outside),
        f"{inside}/../../../../etc/passwd",
        str(inside / "link.jsonl"),
        f"{inside}/*.jsonl",
        str(inside / "linked_dir"),
        "/etc/*",
        "relative.jsonl",
    ]:
        answer = client.post("/api/v1/ingest/paths", json={"paths": [path]}, headers=auth)
        assert answer.status_code == 400, path
        assert "outside the ingest roots" in answer.json()["detail"], path
    (inside / "good.jsonl").write_bytes(orjson.dumps(statement(2)) + b"\n")
    mixed = client.post(
        "/api/v1/ingest/paths", json={"paths": [str(inside / "good.jsonl"), "/etc/passwd"]}, headers=auth
    )
    assert mixed.status_code == 400  # refused as a whole: nothing read
    db = runtime.settings.clickhouse_database
    assert runtime.clickhouse().query(f"SELECT count() FROM `{db}`.ingest_errors").result_rows[0][0] == 0
    assert _count(runtime) == 0
    ok = client.post("/api/v1/ingest/paths", json={"paths": [str(inside / "good.jsonl")]}, headers=auth)
    assert ok.status_code == 200 and ok.json()["rows"] == 1


def test_configured_ingest_roots(runtime, tmp_path):
    runtime.settings = runtime.settings.model_copy(update={"ingest_roots": [tmp_path / "drop"]})
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.jsonl").write_bytes(orjson.dumps(statement(3)) + b"\n")
    client, auth = _client(runtime)
    assert (
        client.post("/api/v1/ingest/paths", json={"paths": [str(tmp_path / "drop")]}, headers=auth).json()["rows"] == 1
    )
    default_root = imports_dir(runtime, tmp_path) / "b.jsonl"
    default_root.write_bytes(orjson.dumps(statement(4)) + b"\n")
    assert client.post("/api/v1/ingest/paths", json={"paths": [str(default_root)]}, headers=auth).status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read(runtime):
    """A 400 MB chunked body: the answer is 413 after the limit, with most of the body never received."""
    import asyncio
    import threading

    from xolap.web import api_statements

    app = create_app(runtime)
    chunk, total = 1 << 20, 400 << 20
    received = 0

    async def receive():
        nonlocal received
        if received >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        received += chunk
        return {"type": "http.request", "body": b"[" + b" " * (chunk - 1), "more_body": True}

    messages = []

    async def send(message):
        messages.append(message)

    for declared in (None, str(total)):
        received = 0
        messages.clear()
        headers = [(b"authorization", f"Bearer {runtime.admin_token}".encode()), (b"host", b"testserver")]
        if declared:
            headers.append((b"content-length", declared.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/statements",
            "raw_path": b"/api/v1/statements",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        # its own thread and loop: a session-wide browser fixture may keep an event loop running in this thread
        worker = threading.Thread(target=lambda scope=scope: asyncio.run(app(scope, receive, send)))
        worker.start()
        worker.join(120)
        start = next(m for m in messages if m["type"] == "http.response.start")
        assert start["status"] == 413
        assert received <= api_statements.MAX_BODY_BYTES + chunk
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        assert b"over the 67,108,864-byte limit" in body


def test_the_cli_through_the_server_exits_2_when_a_path_is_refused(runtime):
    """`xolap ingest /etc/passwd` while `xolap serve` holds the engine: the server's 400, a refusal (exit code 2)."""
    from xolap.remote import RemoteError, ServerClient

    remote = ServerClient("http://testserver", runtime.admin_token)
    remote._client = TestClient(create_app(runtime), headers={"Authorization": f"Bearer {runtime.admin_token}"})
    with pytest.raises(RemoteError) as refused:
        remote.ingest_paths(["/etc/passwd"])
    assert refused.value.exit_code == 2 and "outside the ingest roots" in str(refused.value)


def test_a_statement_over_the_line_limit_is_rejected_with_its_reason(runtime):
    runtime.settings = runtime.settings.model_copy(update={"ingest_max_line_bytes": 4096})
    client, auth = _client(runtime)
    big = statement(1) | {"padding": "x" * 5000}
    answer = client.post("/api/v1/statements", content=orjson.dumps([statement(2), big, statement(3)]), headers=auth)
    assert answer.status_code == 200 and answer.json()["accepted"] == 2
    assert answer.json()["errors"] == [
        {"line": 2, "reason": f"line is {len(orjson.dumps(big)):,} bytes, over the limit of 4,096"}
    ]
