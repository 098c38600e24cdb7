"""Hostile files in a backfill (binary junk, NUL bytes, truncated JSON, a 1 MB line, an empty object, a file that
is not JSON at all): the good lines land exactly once, each bad non-blank line is recorded as rejected, and
nothing of the bad lines reaches the run record."""

from __future__ import annotations

import json

import pytest
from bf_support import count_events, raw_rows, statement
from faults_support import report

from xolap.backfill import runner, service

pytestmark = pytest.mark.faults
SECRET = "Zebulon-Hostile-Learner"


def test_hostile_lines_are_rejected_and_good_lines_land_exactly_once(bf_runtime, s3, bucket):
    good = [statement(i) for i in range(20)]
    bad = [
        b"\xff\xfe\x00\x01 binary " + SECRET.encode(),
        b'{"actor": {"name": "' + SECRET.encode() + b'"}, "verb": ',  # truncated
        b'{"id": "x", "actor": {"name": "' + SECRET.encode() + b'"}, "pad": "' + b"A" * 1_000_000 + b'"}',
        b"\x00" * 64,
        b"[" + SECRET.encode() + b"]",
    ]
    body = b"\n".join(good[:10] + bad[:3] + good[10:] + bad[3:]) + b"\n\n"
    s3.put_object(Bucket=bucket, Key="hostile/mixed.jsonl", Body=body)
    s3.put_object(Bucket=bucket, Key="hostile/empty.jsonl", Body=b"")
    s3.put_object(Bucket=bucket, Key="hostile/notjson.jsonl", Body=("id,name\n1," + SECRET + "\n").encode())
    run = service.create_manual_run(bf_runtime, s3_pattern=f"s3://{bucket}/hostile/*.jsonl")
    assert runner.execute_manual_run(bf_runtime, run["id"]) == "completed"
    done = service.get_run(bf_runtime, "manual", run["id"])
    assert (count_events(bf_runtime), raw_rows(bf_runtime), done["rows_written"]) == (20, 20, 20)
    assert done["metadata"]["rejected_lines"] == len(bad) + 2  # and the CSV file's two lines
    assert SECRET not in json.dumps(done) and SECRET not in json.dumps(service.list_runs(bf_runtime))
    report("hostile files (manual backfill)", None, 20 - count_events(bf_runtime), raw_rows(bf_runtime) - 20)
