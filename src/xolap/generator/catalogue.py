"""The generated course structure as a catalogue: projects, sections (names, slugs, terms) and content titles.

JSON holds everything, including a `titles` list of {project_id, kind, content_id, title} rows that
xolap.analytics.titles.import_titles reads directly. CSV holds the title rows, with the sections beside it in
`<name>.sections.csv`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from xolap.generator.generate import CourseDataGenerator
from xolap.generator.model import World

TITLE_FIELDS = ("project_id", "kind", "content_id", "title")
SECTION_FIELDS = ("section_id", "project_id", "title", "slug", "start", "end", "utc_offset_hours", "learners", "events")


def title_rows(world: World) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for project in world.projects:
        seen_videos: set[str] = set()
        for page in project.pages:
            rows.append(
                {"project_id": project.project_id, "kind": "page", "content_id": str(page.page_id), "title": page.title}
            )
            for activity in page.activities:
                rows.append(
                    {
                        "project_id": project.project_id,
                        "kind": "activity",
                        "content_id": str(activity.activity_id),
                        "title": activity.title,
                    }
                )
            for video in page.videos:
                if video.url not in seen_videos:
                    seen_videos.add(video.url)
                    rows.append(
                        {
                            "project_id": project.project_id,
                            "kind": "video",
                            "content_id": video.url,
                            "title": video.title,
                        }
                    )
    return rows


def _iso(dt: Any) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalogue(generator: CourseDataGenerator) -> dict[str, Any]:
    """The whole structure as plain data (ids, names, slugs, term dates, learner and event counts, titles)."""
    world = generator.world
    projects = []
    for project in world.projects:
        experiment = project.experiment
        projects.append(
            {
                "project_id": project.project_id,
                "publication_id": project.publication_id,
                "title": project.title,
                "slug": project.slug,
                "experiment": None
                if experiment is None
                else {
                    "experiment_id": experiment.experiment_id,
                    "uuid": experiment.uuid,
                    "decision_page_id": experiment.decision_page_id,
                    "conditions": [{"condition_id": cid, "code": code} for cid, code in experiment.conditions],
                },
                "units": [
                    {
                        "index": unit.index + 1,
                        "title": unit.title,
                        "pages": [
                            {
                                "page_id": page.page_id,
                                "title": page.title,
                                "graded": page.graded,
                                "sub_type": page.sub_type,
                                "activities": [
                                    {
                                        "activity_id": a.activity_id,
                                        "revision_id": a.revision_id,
                                        "title": a.title,
                                        "parts": [
                                            {"part_id": p.part_id, "kind": p.kind, "out_of": p.out_of} for p in a.parts
                                        ],
                                    }
                                    for a in page.activities
                                ],
                                "videos": [
                                    {
                                        "content_element_id": v.content_element_id,
                                        "url": v.url,
                                        "title": v.title,
                                        "length": v.length,
                                    }
                                    for v in page.videos
                                ],
                            }
                            for page in unit.pages
                        ],
                    }
                    for unit in project.units
                ],
            }
        )
    return {
        "seed": world.seed,
        "events": generator.events,
        "host": world.host,
        "projects": projects,
        "sections": section_rows(generator),
        "titles": title_rows(world),
    }


def section_rows(generator: CourseDataGenerator) -> list[dict[str, Any]]:
    return [
        {
            "section_id": section.section_id,
            "project_id": section.project.project_id,
            "title": section.title,
            "slug": section.slug,
            "start": _iso(section.start),
            "end": _iso(section.end),
            "utc_offset_hours": section.utc_offset_hours,
            "learners": section.learners,
            "events": generator.section_budget(section.section_id),
        }
        for section in generator.world.sections
    ]


def write_catalogue(generator: CourseDataGenerator, path: str | Path) -> list[Path]:
    """Write the catalogue as .json, or as .csv (titles) plus <name>.sections.csv; returns the files written."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        path.write_bytes(orjson.dumps(catalogue(generator), option=orjson.OPT_INDENT_2) + b"\n")
        return [path]
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=TITLE_FIELDS)
            writer.writeheader()
            writer.writerows(title_rows(generator.world))
        sections_path = path.with_name(path.stem + ".sections.csv")
        with sections_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=SECTION_FIELDS)
            writer.writeheader()
            writer.writerows(section_rows(generator))
        return [path, sections_path]
    raise ValueError(f"{path}: catalogue must end with .json or .csv")
