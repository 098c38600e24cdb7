"""Cached chart answers that show content titles (xolap.analytics.result_cache over run_category): a title renamed by
any write (a statement in another section of the project, events without a project, a catalogue import), even one
landing while the answer is computed, shows on the very next load; writes that cannot rename those titles leave the
answer warm."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import orjson
import pytest

from dashboard_support import jsonl
from xolap.analytics import result_cache, title_lookup
from xolap.analytics.categories import run_category
from xolap.analytics.titles import import_titles
from xolap.ingest.pipeline import ingest_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xapi" / "torus_statements.jsonl"
EXT = "http://oli.cmu.edu/extensions/"

# kind -> (chart, its title column, the item id as the chart names it, the Torus statement type that names it)
CHARTS = {
    "page": ("engagement", "page_title", "page_id", 4403, EXT + "types/page"),
    "video": (
        "video",
        "video_title",
        "video_url",
        "https://cdn.example.edu/media/intro.mp4",
        "https://w3id.org/xapi/video/activity-type/video",
    ),
    "activity": ("assessment", "activity_title", "activity_id", 5501, EXT + "activity_attempt"),
}
_numbers = iter(range(1, 1_000_000))


def _template(statement_type: str) -> dict:
    for line in FIXTURES.read_text().splitlines():
        statement = orjson.loads(line)
        if statement["object"].get("definition", {}).get("type") == statement_type:
            return statement
    raise LookupError(statement_type)


def naming(kind: str, title: str, *, section: int, project: int | None, day: int) -> dict:
    """A Torus statement of `kind`'s item (as in the fixtures) naming it `title` on 2026-09-`day`, by a new learner."""
    statement = copy.deepcopy(_template(CHARTS[kind][4]))
    extensions = statement["context"]["extensions"]
    extensions[EXT + "section_id"] = section
    if project is None:
        extensions.pop(EXT + "project_id", None)
    else:
        extensions[EXT + "project_id"] = project
    if kind == "activity":
        extensions[EXT + "activity_id"] = CHARTS[kind][3]
    statement["object"]["definition"]["name"] = {"en-US": title}
    statement["actor"]["account"]["name"] = str(900_000 + next(_numbers))
    statement["id"] = str(uuid.uuid4())
    statement["timestamp"] = f"2026-09-{day:02d}T10:00:00.000Z"
    return statement


def ingest(client, settings, *statements: dict) -> None:
    report = ingest_bytes(client, settings, jsonl(*statements), source_file="t.jsonl", ingest_path="test")
    assert report.rows == len(statements) and not report.rejected, report


def load(client, settings, kind: str, section: int) -> tuple[set[str], bool]:
    """(the titles the section's chart of `kind` shows for the item, was the answer served from the result cache),
    as the dashboard's tab asks for it."""
    chart, field, id_field, item, _ = CHARTS[kind]

    def produce():
        return run_category(client, settings, chart, scope="section", scope_id=section).rows

    body, hit = result_cache.cached_json(settings, "section", section, ("category", chart, None, None), produce)
    rows = [row for row in orjson.loads(body) if str(row.get(id_field)) == str(item)]
    assert rows, f"the {chart} chart of section {section} lists {item}"
    return {row[field] for row in rows}, hit


def warm(client, settings, kind: str, section: int) -> set[str]:
    first, _ = load(client, settings, kind, section)
    again, hit = load(client, settings, kind, section)
    assert hit and again == first, "an unchanged answer is served from the cache"
    return first


@pytest.fixture()
def named(ch_db):
    """Each kind's item named 'Old' in section 1 and section 2 of project 10, and in sections 5 and 6 (no project)."""
    client, settings = ch_db
    title_lookup.forget()
    ingest(
        client,
        settings,
        *(
            naming(kind, "Old", section=section, project=project, day=1)
            for kind in CHARTS
            for section, project in ((1, 10), (2, 10), (5, None), (6, None))
        ),
    )
    return client, settings


@pytest.mark.parametrize("kind", list(CHARTS))
def test_a_rename_in_another_section_of_the_project_shows_on_the_next_load(named, kind):
    client, settings = named
    assert warm(client, settings, kind, 1) == {"Old"}
    ingest(client, settings, naming(kind, "New", section=2, project=10, day=9))
    assert load(client, settings, kind, 1) == ({"New"}, False)


@pytest.mark.parametrize("kind", list(CHARTS))
def test_a_rename_by_events_without_a_project_shows_on_the_next_load(named, kind):
    """Titles of items without a project are project 0's: a write of such events in another section renames them."""
    client, settings = named
    assert warm(client, settings, kind, 5) == {"Old"}
    ingest(client, settings, naming(kind, "New", section=6, project=None, day=9))
    assert load(client, settings, kind, 5) == ({"New"}, False)


@pytest.mark.parametrize("kind", list(CHARTS))
def test_a_catalogue_import_shows_on_the_next_load(named, kind):
    client, settings = named
    assert warm(client, settings, kind, 1) == {"Old"}
    item = str(CHARTS[kind][3])
    import_titles(client, settings, [{"project_id": 10, "kind": kind, "content_id": item, "title": "Imported"}])
    assert load(client, settings, kind, 1) == ({"Imported"}, False)


def test_a_rename_landing_while_the_answer_is_computed_is_not_served_stale(named):
    """The answer computed while another section renamed the page may show either name, but it is not kept: the next
    load shows the new one."""
    client, settings = named
    chart = CHARTS["page"][0]

    def produce_then_rename():
        rows = run_category(client, settings, chart, scope="section", scope_id=1).rows
        ingest(client, settings, naming("page", "New", section=2, project=10, day=9))
        return rows

    result_cache.cached_json(settings, "section", 1, ("category", chart, None, None), produce_then_rename)
    assert load(client, settings, "page", 1) == ({"New"}, False)


def test_writes_that_cannot_rename_the_titles_leave_the_answers_warm(named):
    """A write to another project leaves the titled answer warm; a write to another section of the project leaves
    the section's answers without titles warm."""
    client, settings = named
    assert warm(client, settings, "page", 1) == {"Old"}
    ingest(client, settings, naming("page", "Elsewhere", section=3, project=20, day=9))
    assert load(client, settings, "page", 1) == ({"Old"}, True)

    def weekday_hour():
        return run_category(client, settings, "weekday_hour", scope="section", scope_id=1).rows

    question = ("category", "weekday_hour", None, None)
    result_cache.cached_json(settings, "section", 1, question, weekday_hour)
    ingest(client, settings, naming("page", "New", section=2, project=10, day=9))
    assert result_cache.cached_json(settings, "section", 1, question, weekday_hour)[1]


def test_titles_rewritten_by_hand_show_after_forget(named):
    """content_titles written by hand (no write path reports it) shows once title_lookup.forget() is called."""
    client, settings = named
    assert warm(client, settings, "page", 1) == {"Old"}
    client.command(
        f"INSERT INTO `{settings.clickhouse_database}`.content_titles (project_id, kind, content_id, title, updated_at) "
        "VALUES (10, 'page', '4403', 'By hand', now64(3))"
    )
    assert load(client, settings, "page", 1) == ({"Old"}, True)
    title_lookup.forget()
    assert load(client, settings, "page", 1) == ({"By hand"}, False)
