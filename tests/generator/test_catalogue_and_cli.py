"""Catalogue (JSON / CSV, importable as titles) and `xolap generate` through the real CLI app."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import orjson
from typer.testing import CliRunner

from xolap.cli import app
from xolap.config import get_settings
from xolap.generator import CourseDataGenerator
from xolap.generator.catalogue import write_catalogue
from xolap.ingest.aws_clients import aws_client
from xolap.ingest.s3_bundles import BUNDLE_KEY_RE

runner = CliRunner()


def test_catalogue_json_lists_sections_and_the_titles_statements_carry(tmp_path: Path):
    generator = CourseDataGenerator(9, 5_000, projects=2, sections_per_project=2, learners_per_section=10)
    (path,) = write_catalogue(generator, tmp_path / "catalogue.json")
    data = orjson.loads(path.read_bytes())
    assert [s["section_id"] for s in data["sections"]] == [s.section_id for s in generator.world.sections]
    assert sum(s["events"] for s in data["sections"]) == 5_000
    assert all(s["slug"] and s["title"] and s["start"] < s["end"] for s in data["sections"])
    titles = {(t["project_id"], t["kind"], t["content_id"]): t["title"] for t in data["titles"]}
    assert {kind for _p, kind, _c in titles} == {"page", "activity", "video"}
    ext = "http://oli.cmu.edu/extensions/"
    checked = 0
    for item in generator:
        s = item.statement
        project = s["context"]["extensions"][ext + "project_id"]
        name = s["object"]["definition"]["name"]["en-US"]
        object_type = s["object"]["definition"]["type"]
        if object_type.endswith("/types/page"):
            assert titles[(project, "page", str(s["context"]["extensions"][ext + "page_id"]))] == name
        elif object_type.endswith("/activity_attempt"):
            assert titles[(project, "activity", str(s["context"]["extensions"][ext + "activity_id"]))] == name
        elif object_type.endswith("/activity-type/video"):
            assert titles[(project, "video", s["object"]["id"])] == name
        else:
            continue
        checked += 1
    assert checked > 1_000


def test_catalogue_csv_is_a_titles_file_plus_sections(tmp_path: Path):
    generator = CourseDataGenerator(9, 100, projects=1, sections_per_project=3, learners_per_section=2)
    titles_path, sections_path = write_catalogue(generator, tmp_path / "cat.csv")
    with titles_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"project_id", "kind", "content_id", "title"}
    with sections_path.open() as handle:
        sections = list(csv.DictReader(handle))
    assert len(sections) == 3 and sections_path.name == "cat.sections.csv"


def test_cli_writes_a_file_and_the_catalogue(tmp_path: Path):
    out = tmp_path / "events.jsonl.gz"
    result = runner.invoke(
        app,
        [
            "generate",
            "--events",
            "2500",
            "--seed",
            "3",
            "--out",
            str(out),
            "--projects",
            "1",
            "--sections",
            "2",
            "--learners",
            "5",
            "--catalogue",
            str(tmp_path / "cat.json"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2,500 statements" in result.output
    lines = gzip.decompress(out.read_bytes()).splitlines()
    assert len(lines) == 2_500
    assert len(orjson.loads((tmp_path / "cat.json").read_bytes())["sections"]) == 2


def test_cli_folder_output(tmp_path: Path):
    result = runner.invoke(app, ["generate", "-n", "800", "-o", str(tmp_path / "folder"), "--gzip", "--quiet"])
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "folder" / "section").rglob("*.jsonl.gz"))
    assert sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in files) == 800


def test_cli_rejects_bad_options_with_a_clear_message(tmp_path: Path):
    result = runner.invoke(app, ["generate", "-n", "10", "-o", str(tmp_path / "x.jsonl"), "--start", "yesterday"])
    assert result.exit_code == 2 and "--start 'yesterday'" in result.output
    result = runner.invoke(
        app, ["generate", "-n", "10", "-o", str(tmp_path / "x.jsonl"), "--catalogue", str(tmp_path / "c.txt")]
    )
    assert result.exit_code == 2 and "must end with .json or .csv" in result.output
    result = runner.invoke(app, ["generate", "-n", "-5", "-o", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    result = runner.invoke(app, ["generate", "-n", "10", "-o", "s3://b"])
    assert result.exit_code == 2 and "bucket name" in result.output


def test_cli_uploads_bundles_to_s3(aws_settings, moto_server: str, monkeypatch):
    aws_client(aws_settings, "s3").create_bucket(Bucket="gen-cli")
    for name, value in {
        "XOLAP_S3_ENDPOINT_URL": moto_server,
        "XOLAP_AWS_ACCESS_KEY_ID": "testing",
        "XOLAP_AWS_SECRET_ACCESS_KEY": "testing",
        "XOLAP_DATA_DIR": str(aws_settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = runner.invoke(
            app, ["generate", "-n", "1200", "-o", "s3://gen-cli/xapi", "--bundle-size", "100", "--quiet"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    s3 = aws_client(aws_settings, "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="gen-cli", Prefix="xapi/")["Contents"]]
    assert keys and all(BUNDLE_KEY_RE.match(k) and k.startswith("xapi/section/") for k in keys)
    assert sum(len(s3.get_object(Bucket="gen-cli", Key=k)["Body"].read().splitlines()) for k in keys) == 1_200
