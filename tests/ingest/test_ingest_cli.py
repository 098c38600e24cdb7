"""`xolap ingest`: exit codes 0 / 3 / 1, error summary, folders, globs, S3 prefixes, both engines."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from xolap.ingest.cli import ingest_app, print_summary
from xolap.ingest.paths import IngestProgress, ingest_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"
runner = CliRunner()


def _invoke(ch_db, *args: str, s3_factory=None):
    client, settings = ch_db
    return runner.invoke(ingest_app, list(args), obj={"client": client, "settings": settings, "s3_factory": s3_factory})


def _count(ch_db, table: str = "raw_events") -> int:
    client, settings = ch_db
    return client.query(f"SELECT count() FROM `{settings.clickhouse_database}`.{table}").result_rows[0][0]


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_all_good_exits_0(ch_db, engine):
    result = _invoke(ch_db, str(FIXTURES / "torus_statements.jsonl"), "--engine", engine, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["rows"], summary["rejected"], summary["failures"]) == (1, 11, 0, [])
    assert _count(ch_db) == 11


def test_the_summary_counts_one_of_each_in_the_singular(ch_db, tmp_path):
    good = (FIXTURES / "torus_statements.jsonl").read_text().splitlines()[0]
    one = tmp_path / "one.jsonl"
    one.write_text(good + "\nnot json\n")
    result = _invoke(ch_db, str(one), "--engine", "python")
    assert result.exit_code == 3, result.output
    assert "1 file: 1 row ingested, 1 line rejected, 0 warnings in" in " ".join(result.output.split())


def test_a_rate_of_one_row_a_second_is_singular():
    out = io.StringIO()
    summary = SimpleNamespace(files=2, rows=1, rejected=0, warnings=1, seconds=1.0, errors=[], failures=[])
    print_summary(summary, Console(file=out, width=300), 3)
    text = out.getvalue()
    assert "2 files: 1 row ingested, 0 lines rejected, 1 warning in 1.0 s, 1 row/s" in text, text
    assert "1 malformed optional value stored as NULL" in text, text


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_rejected_lines_exit_3_with_file_line_reason(ch_db, engine):
    bad = FIXTURES / "mixed_bad_lines.jsonl"
    result = _invoke(ch_db, str(bad), "--engine", engine, "--errors", "3")
    assert result.exit_code == 3, result.output
    assert "13 rows ingested, 15 lines rejected, 10 warnings" in result.output
    assert f"{bad}:2: not valid JSON" in result.output
    assert f"{bad}:4: not a JSON object" in result.output
    assert f"{bad}:6:" not in result.output  # only the first 3 are listed
    assert _count(ch_db, "ingest_errors") == 25


def test_not_jsonl_file_exits_1_and_the_other_files_still_go_in(ch_db, tmp_path):
    (tmp_path / "a.jsonl").write_bytes((FIXTURES / "torus_statements.jsonl").read_bytes())
    (tmp_path / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream at all" * 3)
    (tmp_path / "c.jsonl").write_bytes(b"\x00\x01\x02PAR1" * 100)
    result = _invoke(ch_db, str(tmp_path), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["rows"] == 11 and summary["files"] == 1
    failed = {f["file"]: f["error"] for f in summary["failures"]}
    assert set(failed) == {str(tmp_path / "b.jsonl.gz"), str(tmp_path / "c.jsonl")}
    assert "broken gzip" in failed[str(tmp_path / "b.jsonl.gz")] and "binary" in failed[str(tmp_path / "c.jsonl")]


def test_missing_path_exits_1(ch_db, tmp_path):
    result = _invoke(ch_db, str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_globs_and_gzip(ch_db, tmp_path):
    for i in range(3):
        (tmp_path / f"part-{i}.jsonl.gz").write_bytes(
            gzip.compress((FIXTURES / "generic_statements.jsonl").read_bytes())
        )
    shutil.copy(FIXTURES / "torus_statements.jsonl", tmp_path / "other.jsonl")
    result = _invoke(ch_db, str(tmp_path / "part-*.jsonl.gz"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["rows"]) == (3, 18)


def test_s3_prefix(ch_db, moto_server):
    client, settings = ch_db
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="cli-bucket")
    s3.put_object(
        Bucket="cli-bucket",
        Key="section/12/video/2024-09-03T14-05-11Z_b1.jsonl",
        Body=(FIXTURES / "torus_statements.jsonl").read_bytes(),
    )
    s3.put_object(
        Bucket="cli-bucket",
        Key="section/12/attempt_evaluated/x.jsonl.gz",
        Body=gzip.compress((FIXTURES / "mixed_bad_lines.jsonl").read_bytes()),
    )
    s3.put_object(Bucket="cli-bucket", Key="elsewhere/y.jsonl", Body=b"{}")
    result = _invoke(ch_db, "s3://cli-bucket/section/**", "--json", s3_factory=lambda: s3)
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["rows"], summary["rejected"], summary["warnings"]) == (2, 24, 15, 10)
    assert summary["errors"][0]["file"] == "s3://cli-bucket/section/12/attempt_evaluated/x.jsonl.gz"
    etags = client.query(
        f"SELECT DISTINCT source_file, source_etag FROM `{settings.clickhouse_database}`.raw_events"
    ).result_rows
    assert all(etag for _, etag in etags) and {f for f, _ in etags} == {
        "s3://cli-bucket/section/12/video/2024-09-03T14-05-11Z_b1.jsonl",
        "s3://cli-bucket/section/12/attempt_evaluated/x.jsonl.gz",
    }


def test_ingest_paths_reports_progress(ch_db):
    client, settings = ch_db
    seen = []

    class Recorder(IngestProgress):
        def rows(self, rows: int, rejected: int) -> None:
            seen.append((rows, rejected))

    summary = ingest_paths(client, settings, [str(FIXTURES / "mixed_bad_lines.jsonl")], Recorder(), use_sql=False)
    assert summary.exit_code == 3 and sum(r for r, _ in seen) == 13 and sum(j for _, j in seen) == 15
