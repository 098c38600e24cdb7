"""Files an operator meets broken: a gzip corrupt halfway is refused whole with the file named and the CRC the
stream failed (nothing stored, so a re-sent good copy lands once), and a JSONL file cut mid-line keeps every whole
line and rejects the cut one with its line number, by both ingest engines alike (holds as is; fault injection)."""

from __future__ import annotations

import gzip
import json

import pytest

from xolap.ingest import files
from xolap.ingest.files import ingest_local_file_sql
from xolap.ingest.pipeline import NotJsonlError, ingest_bytes

LINES = 3000


def _line(n: int) -> str:
    return json.dumps(
        {
            "id": f"s-{n}",
            "actor": {"account": {"homePage": "https://h.edu", "name": "u"}},
            "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
            "object": {"id": f"o{n}"},
            "timestamp": "2026-01-02T03:04:05.000Z",
        }
    )


TEXT = "\n".join(_line(n) for n in range(LINES)) + "\n"


def _ingest(engine: str, client, settings, path):
    if engine == "sql":
        return ingest_local_file_sql(client, settings, path, ingest_path="t", source_file=path.name)
    return ingest_bytes(client, settings, path.read_bytes(), source_file=path.name, source_etag=None, ingest_path="t")


def _stored(client, settings) -> tuple[int, int, int]:
    db = settings.clickhouse_database
    rows, hashes = client.query(f"SELECT count(), uniqExact(event_hash) FROM `{db}`.raw_events").result_rows[0]
    errors = client.query(f"SELECT count() FROM `{db}`.ingest_errors").result_rows[0][0]
    return int(rows), int(hashes), int(errors)


@pytest.mark.parametrize("engine", ["python", "sql", "sql in chunks"])
def test_a_gzip_corrupt_halfway_is_refused_whole_naming_the_file_and_a_good_copy_lands_once(
    ch_db, tmp_path, monkeypatch, engine
):
    client, settings = ch_db
    if engine == "sql in chunks":  # the SQL path stages a big file in chunks: the corruption lies past the first
        monkeypatch.setattr(files, "STAGE_CHUNK_ROWS", LINES // 4)
        engine = "sql"
    blob = bytearray(gzip.compress(TEXT.encode()))
    middle = len(blob) // 2
    blob[middle : middle + 64] = bytes(b ^ 0xFF for b in blob[middle : middle + 64])
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(bytes(blob))
    with pytest.raises(NotJsonlError, match=r"broken\.jsonl\.gz: not a JSONL file: broken gzip stream"):
        _ingest(engine, client, settings, broken)
    assert _stored(client, settings) == (0, 0, 0)
    good = tmp_path / "broken.jsonl.gz"  # the operator re-sends a good copy under the same name
    good.write_bytes(gzip.compress(TEXT.encode()))
    assert _ingest(engine, client, settings, good).rows == LINES
    assert _stored(client, settings) == (LINES, LINES, 0)


def test_a_file_cut_mid_line_keeps_every_whole_line_and_names_the_cut_one(ch_db, tmp_path):
    client, settings = ch_db
    cut = TEXT[: len(TEXT) // 2 + 17]
    whole = cut.count("\n")
    path = tmp_path / "cut.jsonl"
    path.write_text(cut)
    report = _ingest("python", client, settings, path)
    assert (report.rows, report.rejected) == (whole, 1)
    assert [(e.source_file, e.source_line, e.reason) for e in report.errors] == [
        ("cut.jsonl", whole + 1, "not valid JSON")
    ]
    assert _stored(client, settings) == (whole, whole, 1)
