"""A ClickHouse whose profile sets allow_hyperscan = 0 still ingests through the SQL path, storing what it
stores with it: the mapping's test for numbers ClickHouse spells differently when written again ran on Hyperscan
(multiMatchAny) alone, and every SQL-path file failed as 'not a readable JSONL file: … Hyperscan functions are
disabled' (measured on chDB with the setting). Fault reproduced on chDB by the setting in the ingesting session."""

from __future__ import annotations

from pathlib import Path

import pytest

from xolap.clickhouse.client import connect
from xolap.ingest.files import ingest_local_file_sql
from xolap.xapi import sql

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xapi"
RESPELLED = (  # a line whose score ClickHouse spells differently when it writes it again (the Hyperscan test's case)
    '{"id": "r-1", "actor": {"account": {"homePage": "https://h.edu", "name": "u"}}, '
    '"verb": {"id": "http://adlnet.gov/expapi/verbs/answered"}, "object": {"id": "o"}, '
    '"result": {"score": {"raw": -0.0, "scaled": 1E+2}, "extensions": {"x": {"y": -0.0}}}, '
    '"timestamp": "2026-01-02T03:04:05.000Z"}'
)


@pytest.fixture()
def no_hyperscan(ch_db):
    """A client of the test's database whose session refuses Hyperscan functions (a server profile's
    allow_hyperscan = 0); the shared client keeps its own setting."""
    shared, settings = ch_db
    client = connect(settings)
    client.command("SET allow_hyperscan = 0")
    assert client.query("SELECT getSetting('allow_hyperscan')").result_rows == [(False,)]
    yield client, settings
    client.command("SET allow_hyperscan = 1")
    assert shared.query("SELECT getSetting('allow_hyperscan')").result_rows == [(True,)]


def _stored(client, settings) -> list[list[tuple]]:
    db = settings.clickhouse_database
    return [
        client.query(f"SELECT * EXCEPT ({skip}) FROM `{db}`.{table} ORDER BY ALL").result_rows
        for table, skip in (
            ("raw_events", "inserted_at, event_version"),
            ("ingest_errors", "recorded_at"),
            ("experiment_attributions", "inserted_at, event_version"),
        )
    ]


def _empty(client, settings) -> None:
    for table in ("raw_events", "ingest_errors", "experiment_attributions"):
        client.command(f"TRUNCATE TABLE `{settings.clickhouse_database}`.{table}")


def test_the_sql_path_ingests_without_hyperscan(no_hyperscan, tmp_path):
    client, settings = no_hyperscan
    lines = [*(FIXTURES / "mixed_bad_lines.jsonl").read_text().splitlines(), RESPELLED]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_local_file_sql(client, settings, path, ingest_path="t", source_file="f", source_etag="e")
    events, errors, _found = _stored(client, settings)
    assert report.rows == len(events) > 0 and report.rejected > 0
    assert report.rejected + report.warnings == len(errors)
    assert not [row for row in errors if "yperscan" in str(row)]
    assert [row for row in events if "r-1" in row]  # the respelling line is read by position and stored


def test_the_respelling_test_answers_alike_without_hyperscan(ch_db, no_hyperscan):
    """Line by line, the RE2 fallback flags exactly the lines Hyperscan flags."""
    shared, _ = ch_db
    client, _settings = no_hyperscan
    tokens = ["-0.0", "-0.5", "0.0", "1e20", "1E+2", "-3e-7", "12345678901234567890.5", "123", "-0", '"-0.0"', "7.25"]
    texts = [f'{{"a": {t}}}' for t in tokens] + [f"[{t}]" for t in tokens] + [f'{{"a":[1,\t{t}]}}' for t in tokens]
    values = ", ".join(sql.quote(text) for text in texts)
    query = f"SELECT {sql._may_respell('line')} FROM (SELECT arrayJoin([{values}]) AS line)"
    flags = {name: [r[0] for r in c.query(query).result_rows] for name, c in (("on", shared), ("off", client))}
    assert flags["on"] == flags["off"] and 0 < sum(flags["on"]) < len(texts)


def test_the_sql_mapping_plans_one_matcher(ch_db, no_hyperscan):
    """The fallback costs nothing where Hyperscan is allowed: the constant condition is folded, one matcher runs."""
    shared, _ = ch_db
    client, _settings = no_hyperscan
    expression = sql._may_respell("line")
    query = f"EXPLAIN actions = 1 SELECT {expression} FROM (SELECT toString(number) AS line FROM numbers(2))"
    plans = {name: " ".join(r[0] for r in c.query(query).result_rows) for name, c in (("on", shared), ("off", client))}
    assert "multiMatchAny(" in plans["on"] and "match(" not in plans["on"].replace("multiMatchAny(", "")
    assert "match(" in plans["off"] and "multiMatchAny(" not in plans["off"]
