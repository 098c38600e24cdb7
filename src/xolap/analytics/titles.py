"""Catalogue import of page / video / activity titles into content_titles, from CSV, JSON, JSON Lines or rows.

Rows carry project_id, kind ('page' | 'video' | 'activity'), content_id and title. content_id is the page or activity
id as digits, or the video URL, matching how the charts join titles. Imported rows get updated_at = the server's
now64(3), so an import wins over the titles the ingest views took from older statements (ReplacingMergeTree keeps
the newest). Bad rows are reported with source, line, field and reason; the good rows around them are still imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xolap.clickhouse import data_version
from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings

KINDS = ("page", "video", "activity")
FIELDS = ("project_id", "kind", "content_id", "title")
MAX_TITLE_LENGTH = 1000


class TitlesImportError(Exception):
    """The source cannot be read at all (missing file, unknown format, not JSON); the message names it."""


@dataclass(frozen=True)
class RowProblem:
    source: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.reason}"


@dataclass
class TitlesImportReport:
    imported: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _read_source(source: str | Path) -> tuple[str, list[tuple[int, Any]]]:
    path = Path(source)
    if not path.is_file():
        raise TitlesImportError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise TitlesImportError(
                f"{path}:1: CSV header lacks column(s) {', '.join(missing)} (needs {', '.join(FIELDS)})"
            )
        return str(path), [(reader.line_num, row) for row in reader]
    if suffix in (".jsonl", ".ndjson"):
        items: list[tuple[int, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                items.append((number, exc))
        return str(path), items
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TitlesImportError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("titles"), list):
            data = data["titles"]
        if not isinstance(data, list):
            raise TitlesImportError(f'{path}: expected a JSON array of title objects (or {{"titles": [...]}})')
        return str(path), [(index, item) for index, item in enumerate(data, start=1)]
    raise TitlesImportError(f"{path}: unknown format {suffix or '(none)'}; use .csv, .json, .jsonl or .ndjson")


def _validate(source: str, line: int, item: Any) -> tuple[tuple[int, str, str, str] | None, RowProblem | None]:
    if isinstance(item, json.JSONDecodeError):
        return None, RowProblem(source, line, "(row)", f"not valid JSON: {item.msg}")
    if not isinstance(item, Mapping):
        return None, RowProblem(source, line, "(row)", f"expected an object with {', '.join(FIELDS)}")
    for name in FIELDS:
        if item.get(name) is None or str(item.get(name)).strip() == "":
            return None, RowProblem(source, line, name, "missing or empty")
    raw_project = item["project_id"]
    if isinstance(raw_project, bool) or not str(raw_project).strip().isdigit():
        return None, RowProblem(source, line, "project_id", f"must be a non-negative integer, got {raw_project!r}")
    kind = str(item["kind"]).strip().lower()
    if kind not in KINDS:
        return None, RowProblem(source, line, "kind", f"must be one of {', '.join(KINDS)}, got {item['kind']!r}")
    content_id = str(item["content_id"]).strip()
    if kind in ("page", "activity") and not content_id.isdigit():
        return None, RowProblem(
            source, line, "content_id", f"a {kind} id must be a non-negative integer, got {content_id!r}"
        )
    if kind in ("page", "activity"):
        content_id = str(int(content_id))
    title = " ".join(str(item["title"]).split())
    if len(title) > MAX_TITLE_LENGTH:
        return None, RowProblem(source, line, "title", f"longer than {MAX_TITLE_LENGTH} characters")
    return (int(str(raw_project).strip()), kind, content_id, title), None


def import_titles(
    client: ClickHouseClient, settings: Settings, source: str | Path | Iterable[Mapping[str, Any]]
) -> TitlesImportReport:
    """Import titles from a file path (.csv with a header, .json array, .jsonl) or an iterable of dicts.

    Within one import the last row for a (project_id, kind, content_id) wins. Returns how many were imported and
    every rejected row with its reason. Raises TitlesImportError when the source itself cannot be read."""
    if isinstance(source, (str, Path)):
        name, items = _read_source(source)
    else:
        name, items = "(rows)", list(enumerate(source, start=1))
    report = TitlesImportReport()
    latest: dict[tuple[int, str, str], str] = {}
    for line, item in items:
        row, problem = _validate(name, line, item)
        if problem is not None:
            report.problems.append(problem)
            continue
        assert row is not None
        latest[row[:3]] = row[3]
    if not latest:
        return report
    now = client.query("SELECT now64(3)").result_rows[0][0]
    rows = [[project_id, kind, content_id, title, now] for (project_id, kind, content_id), title in latest.items()]
    with data_version.writing(settings.clickhouse_database):  # titles label every scope of the project
        client.insert(
            f"`{settings.clickhouse_database}`.content_titles",
            rows,
            column_names=["project_id", "kind", "content_id", "title", "updated_at"],
        )
    report.imported = len(rows)
    return report
