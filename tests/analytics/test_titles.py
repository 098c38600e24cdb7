"""Titles import from CSV / JSON / JSON Lines / rows: validation with line numbers, precedence over statement names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from xolap.analytics.titles import TitlesImportError, import_titles


def titles(client, settings) -> dict[tuple[int, str, str], str]:
    rows = client.query(
        f"SELECT project_id, kind, content_id, argMax(title, updated_at) FROM `{settings.clickhouse_database}`.content_titles "
        "GROUP BY project_id, kind, content_id"
    ).result_rows
    return {(p, k, c): t for p, k, c, t in rows}


def test_csv_import_keeps_good_rows_and_reports_bad_ones(ch_db, tmp_path):
    client, settings = ch_db
    path = tmp_path / "titles.csv"
    path.write_text(
        "project_id,kind,content_id,title\n"
        "10,page,100,Welcome\n"
        "10,chapter,5,Not a kind\n"
        "x,page,101,Bad project\n"
        "10,page,abc,Bad page id\n"
        "10,video,https://v.example/a.mp4,  Intro   video \n"
        "10,activity,500,\n"
        "10,activity,0500,Quiz 1\n"
    )
    report = import_titles(client, settings, path)
    assert report.imported == 3
    assert [(p.line, p.field) for p in report.problems] == [
        (3, "kind"),
        (4, "project_id"),
        (5, "content_id"),
        (7, "title"),
    ]
    assert str(report.problems[0]).startswith(f"{path}:3: kind: must be one of page, video, activity")
    assert titles(client, settings) == {
        (10, "page", "100"): "Welcome",
        (10, "video", "https://v.example/a.mp4"): "Intro video",
        (10, "activity", "500"): "Quiz 1",
    }


def test_json_and_jsonl(ch_db, tmp_path):
    client, settings = ch_db
    array = tmp_path / "t.json"
    array.write_text(
        json.dumps(
            {
                "titles": [
                    {"project_id": 1, "kind": "page", "content_id": 7, "title": "Seven"},
                    {"project_id": 1, "kind": "page", "title": "no id"},
                ]
            }
        )
    )
    report = import_titles(client, settings, array)
    assert report.imported == 1 and [(p.line, p.field) for p in report.problems] == [(2, "content_id")]
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"project_id": 2, "kind": "activity", "content_id": "9", "title": "Nine"}\n\n{oops\n[1]\n')
    report = import_titles(client, settings, lines)
    assert report.imported == 1
    assert [(p.line, p.field) for p in report.problems] == [(3, "(row)"), (4, "(row)")]
    assert titles(client, settings) == {(1, "page", "7"): "Seven", (2, "activity", "9"): "Nine"}


def test_import_wins_over_statement_names_and_later_imports_win(ch_db):
    client, settings = ch_db
    future = datetime(2026, 11, 1, tzinfo=UTC)  # a statement stamped earlier than the import
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        [[5, 10, "u", future, "page_viewed", "v", 100, "Page from statement", "h1"]],
        column_names=[
            "section_id",
            "project_id",
            "user_id",
            "timestamp",
            "event_type",
            "verb_id",
            "page_id",
            "object_name",
            "event_hash",
        ],
    )
    assert titles(client, settings) == {(10, "page", "100"): "Page from statement"}  # fed by the ingest view
    import_titles(client, settings, [{"project_id": 10, "kind": "page", "content_id": "100", "title": "Catalogue"}])
    assert titles(client, settings) == {(10, "page", "100"): "Catalogue"}
    import_titles(
        client,
        settings,
        [
            {"project_id": 10, "kind": "page", "content_id": "100", "title": "Renamed"},
            {"project_id": 10, "kind": "page", "content_id": "100", "title": "Renamed twice"},
        ],
    )
    assert titles(client, settings) == {(10, "page", "100"): "Renamed twice"}


def test_unreadable_sources_are_explained(ch_db, tmp_path):
    client, settings = ch_db
    with pytest.raises(TitlesImportError, match="no such file"):
        import_titles(client, settings, tmp_path / "missing.csv")
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("project,kind,content_id,title\n1,page,1,x\n")
    with pytest.raises(TitlesImportError, match="lacks column.*project_id"):
        import_titles(client, settings, bad_header)
    xml = tmp_path / "t.xml"
    xml.write_text("<x/>")
    with pytest.raises(TitlesImportError, match="unknown format .xml"):
        import_titles(client, settings, xml)
    broken = tmp_path / "b.json"
    broken.write_text('[{"project_id": 1,\n oops]')
    with pytest.raises(TitlesImportError, match=r"b.json:2: not valid JSON"):
        import_titles(client, settings, broken)
