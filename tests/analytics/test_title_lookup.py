"""Chart titles looked up in Python (xolap.analytics.title_lookup): the chart queries read no titles table, a title
known is not read again, and every write that may add or rename a title is seen by the next cold answer (the result
cache is not involved: run_category computes each answer)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from dashboard_support import TORUS_EXT, jsonl
from support import RecordingClient
from timing import manual_clock
from xolap.analytics import title_lookup
from xolap.analytics.categories import assessment, engagement, run_category, video
from xolap.analytics.categories.model import QueryContext
from xolap.analytics.titles import import_titles
from xolap.ingest.pipeline import ingest_bytes


class Recording(RecordingClient):
    """The real client recording its SQL; title_reads counts the reads of content_titles."""

    def title_reads(self) -> int:
        return sum("content_titles" in sql for sql in self.statements)


_numbers = iter(range(1, 1_000_000))


def page_view(name: str, *, section: int = 1, project: int | None = 10, page: int = 1000, day: int = 1) -> dict:
    """A Torus page view of `page` named `name` (titles keep the latest by timestamp: a later day wins)."""
    n = next(_numbers)
    extensions = {TORUS_EXT + "section_id": section, TORUS_EXT + "page_id": page}
    if project is not None:
        extensions[TORUS_EXT + "project_id"] = project
    return {
        "actor": {"account": {"homePage": "https://torus.example", "name": f"learner-{n}"}},
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {
            "id": f"https://torus.example/page/{page}",
            "definition": {"type": TORUS_EXT + "types/page", "name": {"en-US": name}},
        },
        "context": {"extensions": extensions},
        "timestamp": f"2026-09-{day:02d}T10:00:00.000Z",
        "id": str(uuid.uuid4()),
    }


def ingest(client, settings, *statements: dict) -> None:
    report = ingest_bytes(client, settings, jsonl(*statements), source_file="t.jsonl", ingest_path="test")
    assert report.rows == len(statements) and not report.rejected, report


def page_titles(client, settings, scope: str = "section", scope_id: int = 1) -> dict[int, str]:
    answer = run_category(client, settings, "engagement", scope=scope, scope_id=scope_id)
    return {row["page_id"]: row["page_title"] for row in answer.rows}


@pytest.fixture()
def pages(ch_db):
    """Section 1 (project 10) viewed page 1000 'Welcome'; section 2 of the same project viewed it too."""
    client, settings = ch_db
    title_lookup.forget()
    ingest(client, settings, page_view("Welcome", day=1), page_view("Welcome", section=2, day=1))
    return client, settings


@pytest.mark.parametrize("chart", [video, assessment, engagement])
@pytest.mark.parametrize("scope", ["section", "project"])
def test_chart_queries_read_no_titles_table(chart, scope):
    for start, end in ((None, None), (date(2026, 1, 1), date(2026, 2, 1))):
        sql = chart.build_sql(QueryContext("db", scope, start, end))
        assert "content_titles" not in sql and "JOIN" not in sql
        assert "content_titles" in chart.raw_sql(QueryContext("db", scope, start, end))  # the SQL reference


def test_a_known_title_is_not_read_again(pages):
    client, settings = pages
    recording = Recording(client)
    assert page_titles(recording, settings) == {1000: "Welcome"}
    assert recording.title_reads() == 1
    assert page_titles(recording, settings) == {1000: "Welcome"}
    assert page_titles(recording, settings, "project", 10) == {1000: "Welcome"}  # the project's titles, known
    assert recording.title_reads() == 1


@pytest.mark.parametrize("where", ["same section", "other section of the project"])
def test_a_renamed_title_from_a_statement_shows_on_the_next_cold_answer(pages, where):
    client, settings = pages
    assert page_titles(client, settings) == {1000: "Welcome"}
    ingest(client, settings, page_view("Welcome back", section=1 if where == "same section" else 2, day=5))
    assert page_titles(client, settings) == {1000: "Welcome back"}


def test_a_write_to_another_project_keeps_the_titles_known(pages):
    client, settings = pages
    recording = Recording(client)
    page_titles(recording, settings)
    ingest(client, settings, page_view("Elsewhere", section=3, project=20, day=9))
    assert page_titles(recording, settings) == {1000: "Welcome"}
    assert recording.title_reads() == 1


@pytest.mark.parametrize("kind", ["page", "video", "activity"])
def test_a_catalogue_import_shows_on_the_next_cold_answer(ch_db, kind):
    client, settings = ch_db
    title_lookup.forget()
    content = {"page": "1000", "video": "https://videos.example/intro.mp4", "activity": "77"}[kind]
    before = title_lookup.lookup(client, settings, kind, [(10, content)])
    assert before == {}
    import_titles(client, settings, [{"project_id": 10, "kind": kind, "content_id": content, "title": "Imported"}])
    assert title_lookup.lookup(client, settings, kind, [(10, content)]) == {(10, content): "Imported"}
    import_titles(client, settings, [{"project_id": 10, "kind": kind, "content_id": content, "title": "Renamed"}])
    assert title_lookup.lookup(client, settings, kind, [(10, content)]) == {(10, content): "Renamed"}


def test_items_without_a_project_take_titles_of_project_0(ch_db):
    """Events without a project leave their titles under project 0, and the charts look them up there: a write of
    such events in another section (its bump names no project) is seen too."""
    client, settings = ch_db
    title_lookup.forget()
    ingest(client, settings, page_view("Loose page", section=5, project=None, page=7))
    assert page_titles(client, settings, "section", 5) == {7: "Loose page"}
    ingest(client, settings, page_view("Loose page, renamed", section=6, project=None, page=7, day=3))
    assert page_titles(client, settings, "section", 5) == {7: "Loose page, renamed"}


def test_a_read_racing_a_write_is_read_again(pages):
    """A write that lands while titles are being read (after the read, before they are kept) leaves them unused."""
    client, settings = pages

    class WriteDuringRead(Recording):
        def query(self, sql, *args, **kwargs):
            result = super().query(sql, *args, **kwargs)
            if "content_titles" in sql and len(self.statements) < 10:
                import_titles(
                    self.client,
                    settings,
                    [{"project_id": 10, "kind": "page", "content_id": "1000", "title": "Raced"}],
                )
            return result

    assert title_lookup.lookup(WriteDuringRead(client), settings, "page", [(10, "1000")]) == {(10, "1000"): "Welcome"}
    assert title_lookup.lookup(client, settings, "page", [(10, "1000")]) == {(10, "1000"): "Raced"}


def test_titles_written_unheard_show_after_the_max_age(pages, monkeypatch):
    """Another process writing to a ClickHouse server is not heard: titles are read again after max_age."""
    client, settings = pages
    short = settings.model_copy(update={"result_cache_max_age": 0.3})
    table = f"`{settings.clickhouse_database}`.content_titles"
    # ages follow the test's steps: a first read slower than max_age made the second one read
    with manual_clock(monkeypatch, title_lookup) as clock:
        assert title_lookup.lookup(client, short, "page", [(10, "1000")]) == {(10, "1000"): "Welcome"}
        client.command(
            f"INSERT INTO {table} (project_id, kind, content_id, title, updated_at) VALUES"
            "  (10, 'page', '1000', 'Unheard', now64(3))"
        )  # no data version bump
        assert title_lookup.lookup(client, short, "page", [(10, "1000")]) == {(10, "1000"): "Welcome"}
        clock.advance(0.25)
        assert title_lookup.lookup(client, short, "page", [(10, "1000")]) == {(10, "1000"): "Welcome"}, (
            "kept within max_age"
        )
        clock.advance(0.1)
        assert title_lookup.lookup(client, short, "page", [(10, "1000")]) == {(10, "1000"): "Unheard"}


def test_max_age_is_short_with_a_clickhouse_server(base_settings):
    assert title_lookup.max_age(base_settings) == title_lookup.MAX_AGE_S
    server = base_settings.model_copy(update={"clickhouse_url": "http://default:x@127.0.0.1:8123"})
    assert title_lookup.max_age(server) == 5.0


def test_titles_kept_are_bounded(pages, monkeypatch):
    client, settings = pages
    monkeypatch.setattr(title_lookup, "MAX_ITEMS", 3)
    recording = Recording(client)
    for project in range(1, 6):
        title_lookup.lookup(recording, settings, "page", [(project, "1"), (project, "2")])
    assert title_lookup._items_held <= 3
    title_lookup.lookup(recording, settings, "page", [(1, "1")])  # least recently used: gone, read again
    assert recording.title_reads() == 6


def test_video_fallback_names_the_file_as_the_sql_did(ch_engine):
    urls = ["https://videos.example/p1/v2.mp4", "https://v.example/dir/", "plain", "", "a//b", "https://x/ü/é.mp4"]
    rows = ch_engine.query(
        "SELECT concat('Video ', arrayElement(splitByChar('/', u), -1)) FROM (SELECT arrayJoin({urls:Array(String)}) AS u)",
        parameters={"urls": urls},
    ).result_rows
    assert [row[0] for row in rows] == [video.TITLE.fallback(url) for url in urls]


def test_content_ids_with_quotes_and_escapes_find_their_titles(ch_db):
    """Video URLs are any string: quotes, backslashes, tabs, non-ASCII and a bound-parameter look-alike are bound as
    data, each finding its own title and nothing else."""
    client, settings = ch_db
    title_lookup.forget()
    urls = ["https://v.example/it's.mp4", 'https://v.example/"q".mp4', "https://v.example/a\\b\tc.mp4", "ü/é{x:String}"]
    import_titles(
        client,
        settings,
        [{"project_id": 10, "kind": "video", "content_id": url, "title": f"T{n}"} for n, url in enumerate(urls)],
    )
    wanted = [(10, url) for url in urls] + [(10, "https://v.example/none.mp4")]
    assert title_lookup.lookup(client, settings, "video", wanted) == {(10, url): f"T{n}" for n, url in enumerate(urls)}
