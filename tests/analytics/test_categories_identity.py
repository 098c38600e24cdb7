"""Curated charts keyed by content id on generated data whose titles repeat: one mark per id, labels that tell them
apart, no percentage above 100, counts equal to raw reads (each event once, re-ingested duplicates included)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import vl_convert

from xolap.analytics.categories import CATEGORIES, event_summary, run_category
from xolap.analytics.labels import MAX_LABEL_CHARS
from xolap.analytics.titles import import_titles
from xolap.clickhouse.migrations import Migrator, RenderContext
from xolap.generator import CourseDataGenerator
from xolap.generator.catalogue import title_rows
from xolap.ingest.pipeline import ingest_bytes

MARK = re.compile(r'<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="([a-z]+)"')
# content charts: category -> (id field, label field, full-title field)
KEYED = {
    "video": ("video_url", "video_label", "video_title"),
    "assessment": ("activity_id", "activity_label", "activity_title"),
    "engagement": ("page_id", "page_label", "page_title"),
}
LONG = "Distributions and Their Shapes: A Worked Example With Several Parts"


@pytest.fixture(scope="module")
def generated(ch_engine, base_settings):
    """One generated project of two sections, a re-ingested slice, and a catalogue in which every title is shared by
    two items of its kind (long titles, so the shortened labels collide too)."""
    name = f"xolap_ident{os.getpid()}"
    settings = base_settings.model_copy(update={"clickhouse_database": name})
    Migrator(ch_engine, RenderContext(name)).up()
    generator = CourseDataGenerator(23, 6_000, projects=1, sections_per_project=2, learners_per_section=25)
    lines = [orjson.dumps(item.statement) for item in generator]
    ingest_bytes(ch_engine, settings, b"\n".join(lines) + b"\n", source_file="gen.jsonl", ingest_path="test")
    ingest_bytes(ch_engine, settings, b"\n".join(lines[:500]) + b"\n", source_file="again.jsonl", ingest_path="test")
    rows = title_rows(generator.world)
    counters: dict[str, int] = {}
    for row in rows:
        number = counters[row["kind"]] = counters.get(row["kind"], -1) + 1
        row["title"] = f"{LONG} ({row['kind']} {number // 2})"  # every title twice
    report = import_titles(ch_engine, settings, rows)
    assert not report.problems
    world = generator.world
    yield ch_engine, settings, world
    ch_engine.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


def scopes(world):
    project = world.projects[0].project_id
    return [("section", section.section_id) for section in world.sections] + [("project", project)]


def marks(spec: dict) -> list[tuple[str, dict[str, str]]]:
    """(mark type, {channel title: shown value}) of every mark drawn when the spec is rendered."""
    svg = vl_convert.vegalite_to_svg(json.loads(json.dumps(spec)), vl_version="v6_4")
    found = []
    for label, role in MARK.findall(svg):
        fields: dict[str, str] = {}
        for part in html.unescape(label).split("; "):
            key, _, value = part.partition(": ")
            fields.setdefault(key, value)
        found.append((role, fields))
    return found


@pytest.mark.parametrize("key", list(KEYED))
def test_content_charts_have_one_label_per_id_when_titles_repeat(generated, key):
    client, settings, world = generated
    id_field, label_field, title_field = KEYED[key]
    for scope, scope_id in scopes(world):
        result = run_category(client, settings, key, scope=scope, scope_id=scope_id)
        assert result.enough_data, (key, scope)
        labels_of: dict[object, set[str]] = {}
        for row in result.rows:
            labels_of.setdefault(row[id_field], set()).add(row[label_field])
        assert all(len(labels) == 1 for labels in labels_of.values())
        label_list = [next(iter(labels)) for labels in labels_of.values()]
        assert len(set(label_list)) == len(label_list), f"{key}/{scope}: two ids share a label"
        assert all(len(label) <= MAX_LABEL_CHARS for label in label_list)
        titles = [row[title_field] for row in result.rows]
        assert len(set(titles)) < len(set(labels_of)), "the test data must repeat titles"
        assert all(title.startswith(LONG) for title in titles)  # the full title stays in the row (tooltip)
        assert label_field in result.columns


@pytest.mark.parametrize("scope_kind", ["section", "project"])
def test_video_and_page_bars_are_one_mark_per_id_and_never_past_100_percent(generated, scope_kind):
    client, settings, world = generated
    for scope, scope_id in [s for s in scopes(world) if s[0] == scope_kind]:
        video = run_category(client, settings, "video", scope=scope, scope_id=scope_id)
        bars = [fields for role, fields in marks(video.spec) if role == "bar"]
        assert len(bars) == len(video.rows) == len({r["video_url"] for r in video.rows})
        assert len({bar["Video"] for bar in bars}) == len(bars)  # no two videos stacked into one bar
        assert all(0 <= float(bar["Completion rate (%)"]) <= 100 for bar in bars)
        engagement = run_category(client, settings, "engagement", scope=scope, scope_id=scope_id)
        page_bars = [fields for role, fields in marks(engagement.spec) if role == "bar"]
        pages = {r["page_id"] for r in engagement.rows}
        assert len(page_bars) == len(pages) and len({bar["Page"] for bar in page_bars}) == len(pages)
        assessment = run_category(client, settings, "assessment", scope=scope, scope_id=scope_id)
        bubbles = [fields for role, fields in marks(assessment.spec) if role == "circle"]
        assert len(bubbles) == min(10, len(assessment.rows)) and len({b["Activity"] for b in bubbles}) == len(bubbles)
        if scope == "project":
            sections = run_category(client, settings, "section_comparison", scope=scope, scope_id=scope_id)
            section_bars = [fields for role, fields in marks(sections.spec) if role == "bar"]
            assert len(section_bars) == len(sections.rows) == len({b["Section"] for b in section_bars}) == 2


def test_no_percentage_above_100_in_any_category(generated):
    client, settings, world = generated
    for key, category in CATEGORIES.items():
        for scope, scope_id in scopes(world):
            if scope not in category.scopes:
                continue
            result = run_category(client, settings, key, scope=scope, scope_id=scope_id)
            for row in result.rows:
                for name, value in row.items():
                    if name.endswith("_pct") and value is not None:
                        assert 0 <= value <= 100, (key, scope, name, row)
            for role, fields in marks(result.spec):
                for title, value in fields.items():
                    if "%" in title and value not in ("", "null"):
                        assert 0 <= float(value.replace(",", "")) <= 100, (key, scope, role, fields)


def test_counts_stay_exact_against_raw_reads(generated):
    client, settings, world = generated
    db = settings.clickhouse_database
    section = world.sections[0].section_id
    raw = dict(
        client.query(
            f"SELECT event_type, uniqExact(event_hash) FROM `{db}`.raw_events WHERE section_id = {section} "
            "GROUP BY event_type"
        ).result_rows
    )
    series = run_category(client, settings, "cross_event", scope="section", scope_id=section)
    per_type: dict[str, int] = {}
    for row in series.rows:
        per_type[row["event_type"]] = per_type.get(row["event_type"], 0) + row["events"]
    assert per_type == raw
    summary = {
        row["event_type"]: (row["events"], row["label"]) for row in event_summary(client, settings, "section", section)
    }
    assert {kind: events for kind, (events, _) in summary.items()} == raw
    assert all("_" not in label for _, label in summary.values())
    pages = dict(
        client.query(
            f"SELECT page_id, uniqExact(event_hash) FROM `{db}`.raw_events WHERE section_id = {section} "
            "AND event_type = 'page_viewed' GROUP BY page_id"
        ).result_rows
    )
    engagement = run_category(client, settings, "engagement", scope="section", scope_id=section)
    shown = {row["page_id"]: row["views"] for row in engagement.rows}
    assert shown and all(shown[page] == pages[page] for page in shown)


VEGA_LITE = Path(__file__).resolve().parents[2] / "node_modules" / "vega-lite" / "build" / "index.js"
COMPILE = """
import * as vl from %s;
import fs from "node:fs";
const specs = JSON.parse(fs.readFileSync(0, "utf8"));
const out = {};
for (const [name, spec] of Object.entries(specs)) {
  const said = [];
  const note = (...args) => said.push(args.join(" "));
  const logger = {level() { return this; }, warn(...a) { note(...a); return this; },
                  error(...a) { note(...a); return this; }, info() { return this; }, debug() { return this; }};
  try { vl.compile(spec, {logger}); } catch (error) { note("throws: " + error.message); }
  out[name] = {version: vl.version, said};
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None or not VEGA_LITE.is_file(), reason="needs node and npm's vega-lite")
def test_every_spec_compiles_without_a_warning_in_the_vega_lite_the_page_loads(generated):
    """vega-embed prints Vega-Lite's warnings in the browser console: a curated chart must cause none."""
    client, settings, world = generated
    specs = {}
    for key, category in CATEGORIES.items():
        for scope, scope_id in scopes(world):
            if scope in category.scopes:
                specs[f"{key}/{scope}/{scope_id}"] = run_category(
                    client, settings, key, scope=scope, scope_id=scope_id
                ).spec
    done = subprocess.run(
        ["node", "--input-type=module", "-e", COMPILE % json.dumps(str(VEGA_LITE))],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout)
    assert {name: entry["said"] for name, entry in report.items() if entry["said"]} == {}
    major = next(iter(report.values()))["version"].split(".")[0]
    assert all(spec["$schema"].endswith(f"/v{major}.json") for spec in specs.values())
