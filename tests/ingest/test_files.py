"""Input expansion (files, folders, globs, S3) and the file-level checks before the SQL path reads a file."""

from __future__ import annotations

import gzip
from pathlib import Path

import boto3
import pytest

from xolap.ingest.files import InputError, expand_local, expand_paths, expand_s3, ingest_local_file_sql, sniff_local
from xolap.ingest.pipeline import NotJsonlError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi"


def test_folders_recurse_and_keep_jsonl_names_only(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.jsonl", "a/b/two.jsonl.gz", "a/b/three.ndjson", "a/notes.txt", "a/b/data.parquet"):
        (tmp_path / name).write_bytes(b"{}\n")
    names = [Path(f.uri).relative_to(tmp_path).as_posix() for f in expand_local(str(tmp_path))]
    assert names == ["a/b/three.ndjson", "a/b/two.jsonl.gz", "a/one.jsonl"]


def test_glob_and_duplicates(tmp_path):
    for name in ("x1.jsonl", "x2.jsonl", "y.jsonl"):
        (tmp_path / name).write_bytes(b"{}\n")
    files = expand_paths([str(tmp_path / "x*.jsonl"), str(tmp_path / "x1.jsonl")])
    assert [Path(f.uri).name for f in files] == ["x1.jsonl", "x2.jsonl"]
    with pytest.raises(InputError, match="matches no JSONL files"):
        expand_paths([str(tmp_path / "z*.jsonl")])


def test_s3_expansion(moto_server):
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="expand-bucket")
    for key in ("p/a.jsonl", "p/q/b.jsonl.gz", "p/q/c.csv", "p2/d.jsonl"):
        s3.put_object(Bucket="expand-bucket", Key=key, Body=b"{}\n")
    assert [f.key for f in expand_s3("s3://expand-bucket/p/**", s3)] == ["p/a.jsonl", "p/q/b.jsonl.gz", "p/q/c.csv"]
    assert [f.key for f in expand_s3("s3://expand-bucket/p/", s3)] == ["p/a.jsonl", "p/q/b.jsonl.gz"]
    assert [f.key for f in expand_s3("s3://expand-bucket/p/*/*.gz", s3)] == ["p/q/b.jsonl.gz"]
    exact = expand_s3("s3://expand-bucket/p2/d.jsonl", s3)
    assert [(f.uri, bool(f.etag), f.size) for f in exact] == [("s3://expand-bucket/p2/d.jsonl", True, 3)]
    with pytest.raises(InputError, match="no such object"):
        expand_s3("s3://expand-bucket/p2/missing.jsonl", s3)


def test_sniff_local(tmp_path):
    plain, gz, binary, broken = (tmp_path / n for n in ("a.jsonl", "b.jsonl.gz", "c.jsonl", "d.jsonl.gz"))
    plain.write_bytes(b'{"a":1}\n')
    gz.write_bytes(gzip.compress(b'{"a":1}\n'))
    binary.write_bytes(b"\x00" * 100)
    broken.write_bytes(b"\x1f\x8b\x08\x00\xff\xff not deflate")
    assert sniff_local(plain) is False and sniff_local(gz) is True
    with pytest.raises(NotJsonlError, match=f"^{binary}: not a JSONL file"):
        sniff_local(binary)
    with pytest.raises(NotJsonlError, match="broken gzip"):
        sniff_local(broken)


def test_sql_path_reads_gzip_without_gz_suffix(ch_db, tmp_path):
    client, settings = ch_db
    path = tmp_path / "bundle.jsonl"  # gzip content, plain name: detected by magic bytes
    path.write_bytes(gzip.compress((FIXTURES / "mixed_bad_lines.jsonl").read_bytes()))
    report = ingest_local_file_sql(client, settings, path, ingest_path="test", source_file="s3://b/bundle.jsonl")
    assert (report.rows, report.rejected, report.warnings) == (13, 15, 10)  # 10 malformed optional values: warnings
    assert report.errors[0].source_file == "s3://b/bundle.jsonl" and report.errors[0].source_line == 2
    stored = client.query(
        f"SELECT count(), any(ingest_path) FROM `{settings.clickhouse_database}`.ingest_errors"
    ).result_rows[0]
    assert stored == (25, "test")


def test_sql_path_numbers_rejections_like_the_python_path(ch_db, tmp_path):
    from xolap.ingest.pipeline import map_lines, read_lines

    client, settings = ch_db
    good = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()
    data = b"\n".join([b"", good[0], b"oops", b"  ", b"", b"[1]", good[1], b"\t", b'{"actor": 1}', good[2], b""])
    path = tmp_path / "gaps.jsonl"
    path.write_bytes(data)
    report = ingest_local_file_sql(client, settings, path, ingest_path="test")
    python = map_lines(read_lines(data, str(path)), source_file=str(path), source_etag=None)
    assert (
        [(e.source_line, e.reason, e.raw_line) for e in report.errors]
        == [(e.source_line, e.reason, e.raw_line) for e in python.errors]
        == [
            (2, "not valid JSON", "oops"),
            (3, "not a JSON object", "[1]"),
            (5, "actor: missing or not an object", '{"actor": 1}'),
        ]
    )
    assert report.rows == 3
    lines = client.query(f"SELECT source_line FROM `{settings.clickhouse_database}`.raw_events ORDER BY 1").result_rows
    assert [r[0] for r in lines] == [1, 4, 6]


def test_auto_engine_uses_sql_only_for_big_local_files(base_settings, tmp_path):
    from xolap.ingest.files import SQL_PATH_MIN_BYTES, InputFile, prefers_sql_path

    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{}\n")
    assert not prefers_sql_path(base_settings, InputFile(str(path), local=path, size=10))
    assert prefers_sql_path(base_settings, InputFile(str(path), local=path, size=SQL_PATH_MIN_BYTES))
    gz = tmp_path / "x.jsonl.gz"
    assert prefers_sql_path(base_settings, InputFile(str(gz), local=gz, size=SQL_PATH_MIN_BYTES // 5))
    assert not prefers_sql_path(base_settings, InputFile("s3://b/k.jsonl", bucket="b", key="k.jsonl", size=10**9))
    server = base_settings.model_copy(update={"clickhouse_url": "http://default:x@127.0.0.1:8123"})
    assert not prefers_sql_path(server, InputFile(str(path), local=path, size=SQL_PATH_MIN_BYTES))


@pytest.mark.parametrize("chunk_rows", [1_000_000, 7])
def test_sql_path_matches_python_path_on_every_column(ch_db, tmp_path, monkeypatch, chunk_rows):
    """The staged single-parse SQL path (also in chunks of a few lines) stores the rows and the rejections the
    Python path stores, column for column, and drops its staging tables. Read with FINAL: duplicate lines in
    different insert blocks (chunks, Python batches) are collapsed by the engine at read time."""
    from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
    from xolap.ingest import files
    from xolap.ingest.pipeline import ingest_bytes

    monkeypatch.setattr(files, "STAGE_CHUNK_ROWS", chunk_rows)
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(f"SYSTEM STOP MERGES `{db}`.raw_events")
    torus = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\n".join([b"", torus[0], b"  ", (FIXTURES / "mixed_bad_lines.jsonl").read_bytes(), b"\t", b""])
        + b"\n".join(torus[1:15])
        + b"\n\n"
        + (FIXTURES / "generic_statements.jsonl").read_bytes()
    )
    cols = ", ".join(MAPPED_COLUMN_NAMES)
    results = []
    for engine in ("sql", "python"):
        client.command(f"TRUNCATE TABLE `{db}`.raw_events")
        if engine == "sql":
            report = ingest_local_file_sql(
                client, settings, path, ingest_path="t", source_file="f.jsonl", source_etag="e1"
            )
        else:
            with path.open("rb") as stream:
                report = ingest_bytes(
                    client, settings, stream, source_file="f.jsonl", source_etag="e1", ingest_path="t"
                )
        rows = client.query(f"SELECT {cols} FROM `{db}`.raw_events FINAL ORDER BY source_line").result_rows
        errors = [(e.source_file, e.source_line, e.reason, e.raw_line) for e in report.errors]
        results.append((report.rows, report.rejected, errors, rows))
    assert results[0][0] >= 30 and results[0][1] >= 15
    assert results[0] == results[1]
    leftovers = client.query(
        f"SELECT count() FROM system.tables WHERE database = '{db}' AND name LIKE '_ingest_stage_%'"
    )
    assert leftovers.result_rows[0][0] == 0


@pytest.mark.parametrize(("chunk_rows", "reads"), [(1_000_000, 1), (7, 3), (5, 5)])
def test_sql_path_reads_the_file_once_per_chunk(ch_db, tmp_path, monkeypatch, chunk_rows, reads):
    """No count() scan before the stages: the file is read by each chunk's stage alone (20 lines: 7, 7, 6; in
    chunks of 5: 5, 5, 5, 5 and an empty read that ends the loop), and every line is numbered once, blank ones
    counted in their place."""
    from xolap.ingest import files

    monkeypatch.setattr(files, "STAGE_CHUNK_ROWS", chunk_rows)
    client, settings = ch_db
    good = (FIXTURES / "torus_statements.jsonl").read_bytes().splitlines()[:10]
    lines = [line for statement in good for line in (statement, b"")]  # 20 lines, every second one blank
    path = tmp_path / "read-once-per-chunk.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    started = client.query("SELECT now64(6)").result_rows[0][0]  # query_log outlives the test's database
    report = ingest_local_file_sql(client, settings, path, ingest_path="test")
    assert (report.rows, report.rejected) == (10, 0)
    numbers = client.query(f"SELECT source_line FROM `{settings.clickhouse_database}`.raw_events ORDER BY 1")
    assert [n for (n,) in numbers.result_rows] == list(range(1, 11))
    client.command("SYSTEM FLUSH LOGS")
    scans = client.query(
        "SELECT count() FROM system.query_log WHERE type = 'QueryFinish' AND event_time_microseconds >= {t:DateTime64(6)} "
        "AND position(query, {file:String}) > 0",
        parameters={"t": started, "file": f"file('{path}'"},
    ).result_rows[0][0]
    assert scans == reads


@pytest.mark.parametrize(("chunk_rows", "reads"), [(1_000_000, 2), (4, 4)])
def test_lines_with_respelled_numbers_are_staged_again_read_by_position(
    ch_db, tmp_path, monkeypatch, chunk_rows, reads
):
    """Lines are screened reading each level from its parent's text, which is wrong where a nested number is spelled
    differently when ClickHouse writes it again (-0.0, 1e20): those lines alone are staged again, read by position,
    and every row, rejection and warning equals the Python path's. A chunk without such a line reads the file once
    (10 lines in chunks of 4, 4 and 2: the respelled lines are all in the first)."""
    from xapi.test_sql_json_reading import _stored_by_both_engines
    from xapi.test_sql_number_spellings import _statement
    from xolap.ingest import files

    monkeypatch.setattr(files, "STAGE_CHUNK_ROWS", chunk_rows)
    client, settings = ch_db
    clean = (FIXTURES / "torus_statements.jsonl").read_bytes().decode().splitlines()
    respelled = [_statement("1e20", n=1), _statement('{"a": [-0.0]}', n=2), _statement('{"input": -0.0}', n=3)]
    path = tmp_path / "respelled.jsonl"
    path.write_text("\n".join([respelled[0], clean[0], respelled[1], respelled[2], *clean[1:7]]) + "\n")
    started = client.query("SELECT now64(6)").result_rows[0][0]
    sql_stored, python_stored = _stored_by_both_engines(client, settings, path)
    assert sql_stored == python_stored
    assert len(sql_stored[0]) == 10 and sql_stored[1]  # every line stored, the malformed values warned of
    client.command("SYSTEM FLUSH LOGS")
    scans = client.query(
        "SELECT count() FROM system.query_log WHERE type = 'QueryFinish' AND event_time_microseconds >= {t:DateTime64(6)} "
        "AND position(query, {file:String}) > 0 AND query LIKE '%INSERT INTO%'",
        parameters={"t": started, "file": f"file('{path}'"},
    ).result_rows[0][0]
    assert scans == reads
