"""A write that lands and then raises (the connection lost after ClickHouse applied it, a later batch refused) still
moves the data version of what it may have touched: the next dashboard load computes the answer again instead of
serving the one from before the rows that landed. Faults are injected on the wire side of ClickHouse's client: each
call runs, then the answer is lost."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dashboard_support import jsonl, page_view_statement
from xolap.analytics import result_cache, title_lookup
from xolap.analytics.categories import event_summary, run_category
from xolap.analytics.titles import import_titles
from xolap.ingest.pipeline import EventWriter, ingest_bytes, map_lines
from xolap.lrs.statements import withdraw_from_raw_events

SECTION, PROJECT = 101, 1


class AnswerLost(Exception):
    """The connection went away after ClickHouse applied the write."""


class LosesTheAnswer:
    """A ClickHouse client whose writes after the first `keep` ones run and then raise (the answer never arrives)."""

    def __init__(self, client: Any, keep: int = 0):
        self._client, self._keep = client, keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self._client, name)(*args, **kwargs)
        if self._keep <= 0:
            raise AnswerLost(f"{name}: connection reset after the write")
        self._keep -= 1
        return result

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("command", *args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("insert", *args, **kwargs)

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("insert_arrow", *args, **kwargs)


def events(client, settings) -> tuple[int, bool]:
    """(events the section's summary counts, was it served from the result cache), as its dashboard asks."""

    def produce():
        return event_summary(client, settings, "section", SECTION)

    body, hit = result_cache.cached_json(settings, "section", SECTION, ("summary", None, None), produce)
    return sum(row["events"] for row in orjson.loads(body)), hit


def warm(client, settings) -> int:
    first, _ = events(client, settings)
    again, hit = events(client, settings)
    assert hit and again == first, "an unchanged answer is served from the cache"
    return first


def ingest(client, settings, *statements: dict) -> None:
    report = ingest_bytes(client, settings, jsonl(*statements), source_file="t.jsonl", ingest_path="test")
    assert report.rows == len(statements) and not report.rejected, report


@pytest.fixture()
def world(ch_db):
    client, settings = ch_db
    title_lookup.forget()
    ingest(
        client, settings, page_view_statement("seen", SECTION, PROJECT), page_view_statement("seen", SECTION, PROJECT)
    )
    return client, settings


def test_a_void_whose_delete_landed_but_raised_is_not_served_from_before(world):
    client, settings = world
    voided = page_view_statement("voided", SECTION, PROJECT)
    ingest(client, settings, voided)
    before = warm(client, settings)
    with pytest.raises(AnswerLost):
        withdraw_from_raw_events(EventWriter(LosesTheAnswer(client), settings, "lrs"), [voided["id"]])
    assert events(client, settings) == (before - 1, False)


def test_a_titles_import_that_landed_but_raised_shows_on_the_next_load(world):
    client, settings = world

    def titles() -> tuple[set[str], bool]:
        def produce():
            return run_category(client, settings, "engagement", scope="section", scope_id=SECTION).rows

        body, hit = result_cache.cached_json(
            settings, "section", SECTION, ("category", "engagement", None, None), produce
        )
        return {row["page_title"] for row in orjson.loads(body) if str(row["page_id"]) == "1000"}, hit

    first, _ = titles()
    assert titles() == (first, True) and first
    with pytest.raises(AnswerLost):
        import_titles(
            LosesTheAnswer(client),
            settings,
            [{"project_id": PROJECT, "kind": "page", "content_id": "1000", "title": "Imported"}],
        )
    assert titles() == ({"Imported"}, False)


def test_an_insert_refused_after_its_first_batch_is_not_served_from_before(world):
    """The Python path writes a big table in batches: the first lands, the second raises."""
    client, settings = world
    before = warm(client, settings)
    writer = EventWriter(LosesTheAnswer(client, keep=1), settings, "test", batch_rows=1)
    lines = [orjson.dumps(page_view_statement("half", SECTION, PROJECT)) for _ in range(3)]
    batch = map_lines(enumerate(lines, start=1), source_file="t.jsonl", source_etag=None)
    with pytest.raises(AnswerLost):
        writer.write(batch.table)
    assert events(client, settings) == (before + 2, False)
