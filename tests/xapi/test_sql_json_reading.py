"""How the SQL mapping reads a line's JSON, and what it must give all the same.

Object levels it only passes through (context: only its extensions are read) are not parsed into Maps of their own:
the level below is read from the anchor's raw value by ClickHouse following the keys, and must give exactly the Map
the level-by-level reading gives (ClickHouse's raw spellings, last duplicate key wins). The line is copied once
(without a trailing CR, for the hash and raw_line) and the top level is parsed from the line as read (a trailing CR
is JSON whitespace)."""

from __future__ import annotations

import pytest

from xolap.ingest.files import ingest_local_file_sql
from xolap.ingest.pipeline import ingest_bytes
from xolap.xapi import sql
from xolap.xapi.sql_values import QUERY_SETTINGS, object_map, quote

EXT = ("context", "extensions")
OLI = "http://oli.cmu.edu/extensions/"
# Raw texts of `context`, each in a line {"context": <text>}: duplicate keys (first and last, at both levels, behind
# escapes), values whose raw spelling changes on a second reading (-0.0, 1e20, big integers, 1E+2), the key inside
# other keys and strings, levels that are not objects, spacing.
CONTEXTS = [
    '{"extensions": {"a": 1, "b": "x"}}',
    '{"registration": "r", "extensions": {"a": -0.0, "b": 1e20, "c": 1E+2, "d": 18446744073709551616}}',
    '{"extensions": {"a": [-0.0, 1e20, {"x": -0}], "b": {"y": 123456789012345678901234567890}}}',
    '{"extensions": {"a": 1}, "extensions": {"a": 2}}',
    '{"extensions": {"a": 1, "a": 2, "a": -0.0}}',
    '{"ext\\u0065nsions": {"a": 1}, "extensions": {"a": 2}}',
    '{"extensions": {"a": 1}, "ext\\u0065nsions": {"b": 2}}',
    '{"extensions": {"a": 1}, "extensions": "not an object"}',
    '{"extensions": "not an object", "extensions": {"a": 3}}',
    '{"a\\"extensions": 1, "extensions": {"a": 4}}',
    '{"note": "\\"extensions\\": 5", "extensions": {"a": 5}}',
    '{"other": {"extensions": {"a": 6}}}',
    '{"other": {"extensions": {"a": 6}}, "extensions": {"a": 7}}',
    '{"extensions": {"extensions": {"a": 8}, "b": 9}}',
    '{"extensions": []}',
    '{"extensions": null}',
    '{"extensions": {}}',
    '{ "extensions" : { "a" : 1.50 , "\\u00e9" : "\\u00e9\\/" } }',
    '{"extensions": {"a": "\\ud83d\\ude00", "b": "tab\\there"}}',
    "{}",
    "[]",
    '"context"',
    "-0.0",
    "null",
]


def test_a_level_only_passed_through_is_not_parsed_into_a_map():
    """Every SQL reading of the mapping skips context (whose Map of its own cost ~0.2 s CPU a 100k-line file)."""
    assert EXT[:1] not in sql.LEVELS_READ and EXT in sql.LEVELS_READ
    source = "file('x.jsonl', 'LineAsString', 'line String')"
    context_map = f"_x_m_{sql._path_id(EXT[:1])}"
    extensions_map = f"_x_m_{sql._path_id(EXT)}"
    statements = [
        sql.staged_select_sql(source, details=False),
        sql.staged_select_sql(source),
        sql.detail_select_sql("stage"),
        sql.insert_select_sql("t", source),
        sql.warned_lines_sql(source),
        sql.attributions_insert_select_sql("t", source),
    ]
    for statement in statements:
        assert extensions_map in statement
        assert context_map not in statement


@pytest.mark.parametrize("contexts", [CONTEXTS], ids=["edge-contexts"])
def test_skipped_level_gives_the_level_by_level_map(ch_db, contexts):
    client, _settings = ch_db
    lines = ", ".join(quote(f'{{"id": 1, "context": {text}}}') for text in contexts)
    top = object_map("line")
    by_level = object_map(f"{object_map(f'{top}[{quote(EXT[0])}]')}[{quote(EXT[1])}]")
    skipped = sql._level(EXT, top)
    assert "'extensions')" in skipped  # ClickHouse follows the key (the level is not parsed on its own)
    rows = client.query(
        f"SELECT line, CAST({by_level}, 'Array(Tuple(String, String))'), CAST({skipped}, 'Array(Tuple(String, String))') "
        f"FROM (SELECT arrayJoin([{lines}]) AS line) {QUERY_SETTINGS}"
    ).result_rows
    assert len(rows) == len(contexts)
    for line, want, got in rows:
        assert got == want, line
    assert sum(1 for _line, want, _got in rows if want) >= 12  # most contexts have entries to compare


def test_sql_path_reads_skipped_levels_as_the_python_path(ch_db, tmp_path):
    """Whole lines through ingest_local_file_sql and the Python path: rows, warnings and attributions of
    duplicated, escaped and malformed context levels (one the Python engine spells as the SQL one does)."""
    client, settings = ch_db
    attribution = '[{"role": "assignment", "attribution_type": "assignment", "key": "k", "experiment_id": N}]'
    contexts = [  # @ stands for the OLI extensions prefix
        '{"extensions": {"@section_id": 1}, "extensions": {"@section_id": 2}}',
        '{"extensions": {"@section_id": 3}, "ext\\u0065nsions": {"@page_id": 4}}',
        '{"extensions": {"@experiment_attributions": A1}, "extensions": {"@experiment_attributions": A2}}',
        '{"extensions": {"@section_id": -0.0, "@page_id": 1E+2, "@session_id": 7}}',
        '{"extensions": {"@page_id": "p"}, "extensions": "x"}',
        '{"extensions": "x", "extensions": {"@page_id": "p"}}',
        '{"a\\"extensions": 1, "extensions": {"@section_id": 5}}',
        '"not an object"',
    ]
    contexts = [
        text.replace("@", OLI).replace("A1", attribution.replace("N", "1")).replace("A2", attribution.replace("N", "2"))
        for text in contexts
    ]
    line = (
        '{"id": "s-N", "actor": {"account": {"homePage": "https://h.edu", "name": "u"}}, '
        '"verb": {"id": "http://id.tincanapi.com/verb/viewed"}, "object": {"id": "o", "definition": {"type": "t"}}, '
        '"context": C, "timestamp": "2026-01-02T03:04:05.000Z"}'
    )
    path = tmp_path / "contexts.jsonl"
    path.write_text("\n".join(line.replace("N", str(n)).replace("C", text) for n, text in enumerate(contexts)) + "\n")
    stored = _stored_by_both_engines(client, settings, path)
    events, errors, found = stored[0]
    assert stored[0] == stored[1]
    assert len(events) == len(contexts) and len(found) == 1 and len(errors) == 1  # the last "p" is no page id


def _stored_by_both_engines(client, settings, path) -> list[list[list[tuple]]]:
    """What ingest_local_file_sql and then the Python path store of one file: raw_events, ingest_errors and
    experiment_attributions rows (insert times left out), each table emptied first."""
    db = settings.clickhouse_database
    stored = []
    for engine in ("sql", "python"):
        for table in ("raw_events", "ingest_errors", "experiment_attributions"):
            client.command(f"TRUNCATE TABLE `{db}`.{table}")
        if engine == "sql":
            ingest_local_file_sql(client, settings, path, ingest_path="t", source_file="f", source_etag="e")
        else:
            ingest_bytes(client, settings, path.read_bytes(), source_file="f", source_etag="e", ingest_path="t")
        stored.append(
            [
                client.query(f"SELECT * EXCEPT ({skip}) FROM `{db}`.{table} ORDER BY ALL").result_rows
                for table, skip in (
                    ("raw_events", "inserted_at, event_version"),
                    ("ingest_errors", "recorded_at"),
                    ("experiment_attributions", "inserted_at, event_version"),
                )
            ]
        )
    return stored


def test_the_line_is_copied_once_and_its_top_level_parsed_as_read():
    """The stored line (one trailing CR left out) is one substring, not an if() over two eagerly computed copies,
    and the top level's Map reads the line column itself (~0.1 s CPU of a 100k-line screen)."""
    source = "file('x.jsonl', 'LineAsString', 'line String')"
    for statement in (sql.staged_select_sql(source, details=False), sql.insert_select_sql("t", source)):
        assert "if(endsWith(" not in statement
        assert "substring(line, 1, length(line) - endsWith(line, '\\r'))" in statement
        assert "JSONExtractKeysAndValuesRaw(line)" in statement


def test_lines_ending_in_cr_store_as_in_the_python_path(ch_db, tmp_path):
    """Hash, raw_line, values and reasons of lines with a trailing CR (one is left out, as the Python splitter does),
    two CRs, CR after spaces, a CR alone, CRs inside strings, and malformed lines ending in CR."""
    client, settings = ch_db
    good = (
        '{"id": "s-N", "actor": {"account": {"homePage": "https://h.edu", "name": "u"}}, '
        '"verb": {"id": "http://id.tincanapi.com/verb/viewed"}, "object": {"id": "o\\r", "definition": {"type": "t"}}, '
        '"context": {"extensions": {"http://oli.cmu.edu/extensions/page_id": "p"}}, "timestamp": "2026-01-02T03:04:05Z"}'
    )
    lines = [
        good.replace("N", "1") + "\r",
        good.replace("N", "2") + "\r\r",
        good.replace("N", "3") + "  \r",
        "\r",
        good.replace("N", "4"),
        '{"a": 1}\r',
        '{"a": 1\r',
        "[1]\r",
        '{"id": "x"} {}\r',
    ]
    path = tmp_path / "cr.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n")
    stored = _stored_by_both_engines(client, settings, path)
    events, errors, _found = stored[0]
    assert stored[0] == stored[1]
    assert len(events) == 4 and len([e for e in errors if e[1] == "error"]) == 4
