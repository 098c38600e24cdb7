"""An inventory chunk reads its objects from S3 once (issue 14 item 6, single-pass staging): the lines go into a
staging table, and the rows, the rejections, the warnings and the blank lines that number them all come from there.
Before, each chunk read its objects up to four times (blank rows, insert, rejected lines, warned lines)."""

from __future__ import annotations

import json

from bf_support import count_events, statement, write_csv_manifest

from xolap.backfill import service

WARNING = 'success (result.success): expected true or false, got "maybe"'


def _loose(n: int) -> bytes:
    body = json.loads(statement(n))
    body["result"] = {"success": "maybe"}
    return json.dumps(body).encode()


def test_a_chunk_reads_its_objects_once_and_numbers_lines_per_object(bf_runtime, s3, bucket, drain):
    first = [b"", statement(1), b"  ", _loose(2), b"{not json", statement(3)]
    second = [statement(11), b"", b"", b"[1]", _loose(12), statement(13), b""]
    s3.put_object(Bucket=bucket, Key="once/section/1/a.jsonl", Body=b"\n".join(first) + b"\n")
    s3.put_object(Bucket=bucket, Key="once/section/1/b.jsonl", Body=b"\n".join(second) + b"\n")
    started = bf_runtime.clickhouse().query("SELECT now64(6)").result_rows[0][0]  # query_log outlives the test's db
    manifest = write_csv_manifest(
        s3, bucket, [[(bucket, "once/section/1/a.jsonl"), (bucket, "once/section/1/b.jsonl")]]
    )
    run = service.create_inventory_run(bf_runtime, manifest_url=manifest, chunk_size=2)
    drain()
    done = service.get_run(bf_runtime, "inventory", run["id"])
    assert done["status"] == "completed", done
    (batch,) = done["batches"]
    assert batch["rows_written"] == 6 and count_events(bf_runtime) == 6
    assert (batch["metadata"]["rejected_lines"], batch["metadata"]["warnings"]) == (2, 2)
    client, db = bf_runtime.clickhouse(), bf_runtime.settings.clickhouse_database
    errors = client.query(
        f"SELECT severity, splitByChar('/', source_file)[-1], source_line, reason FROM `{db}`.ingest_errors "
        "ORDER BY source_file, source_line"
    ).result_rows
    assert errors == [
        ("warning", "a.jsonl", 2, WARNING),
        ("error", "a.jsonl", 3, "not valid JSON"),
        ("error", "b.jsonl", 2, "not a JSON object"),
        ("warning", "b.jsonl", 3, WARNING),
    ]
    lines = client.query(
        f"SELECT splitByChar('/', source_file)[-1], source_line FROM `{db}`.raw_events FINAL ORDER BY 1, 2"
    ).result_rows
    assert lines == [("a.jsonl", 1), ("a.jsonl", 2), ("a.jsonl", 4), ("b.jsonl", 1), ("b.jsonl", 3), ("b.jsonl", 4)]
    client.command("SYSTEM FLUSH LOGS")
    tag = f"xolap:{service.chunk_tag(run['id'], batch['id'], 0)}"
    reads = client.query(
        "SELECT countIf(ProfileEvents['ReadBufferFromS3Bytes'] > 0), count() FROM system.query_log "
        "WHERE type = 'QueryFinish' AND startsWith(log_comment, {tag:String}) AND event_time_microseconds >= {t:DateTime64(6)}",
        parameters={"tag": tag, "t": started},
    ).result_rows[0]
    assert reads[1] >= 3  # the stage, the move, the rejections (and the warnings) ran under the chunk's tag
    assert reads[0] == 1
    # every one ran the mapping eagerly (its SETTINGS inside a wrapped subquery would not apply: 1.7x the CPU)
    eager = client.query(
        "SELECT groupUniqArray(Settings['short_circuit_function_evaluation']) FROM system.query_log "
        "WHERE type = 'QueryFinish' AND startsWith(log_comment, {tag:String}) AND event_time_microseconds >= {t:DateTime64(6)}",
        parameters={"tag": tag, "t": started},
    ).result_rows[0][0]
    assert eager == ["disable"]
