"""The generated course world: projects with units, pages, activities, parts and videos, and their sections.

Built deterministically from the seed (random.Random seeded with a string, which is stable across processes).
Learners are not part of the world: they are drawn per section while generating (xolap.generator.learners).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from xolap.generator.vocabulary import PRACTICE_ACTIVITY_STEMS, SUBJECTS, TERMS, VIDEO_STEMS

DEFAULT_START = date(2026, 1, 12)
DEFAULT_HOST = "torus.example.edu"
UTC_OFFSETS_HOURS = (-5, -5, -5, -6, -6, -7, -8, -4, 0, 1, 8)
TERM_WEEKS = (8, 10, 12, 14, 15, 15)


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    kind: str  # "mcq" | "short" | "numeric"
    out_of: float
    choices: tuple[str, ...]
    correct: str
    hint_ids: tuple[str, ...]
    objectives: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Activity:
    activity_id: int
    revision_id: int
    title: str
    difficulty: float
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Video:
    content_element_id: str
    url: str
    title: str
    length: float


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: int
    uuid: str
    decision_page_id: int
    conditions: tuple[tuple[int, str], ...]  # (condition_id, condition_code)
    alternatives_resource_id: int


@dataclass(frozen=True, slots=True)
class Page:
    page_id: int
    title: str
    unit_index: int
    graded: bool
    sub_type: str  # "basic" | "advanced" (Torus PageViewed subType)
    activities: tuple[Activity, ...]
    videos: tuple[Video, ...]


@dataclass(frozen=True, slots=True)
class Unit:
    index: int
    title: str
    pages: tuple[Page, ...]


@dataclass(frozen=True)
class Project:
    project_id: int
    publication_id: int
    title: str
    slug: str
    units: tuple[Unit, ...]
    experiment: Experiment | None
    pages: tuple[Page, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", tuple(page for unit in self.units for page in unit.pages))


@dataclass(frozen=True)
class Section:
    section_id: int
    project: Project
    title: str
    slug: str
    start: datetime  # UTC midnight of the first term day in the section's local time
    days: int
    utc_offset_hours: int
    unit_deadlines: tuple[int, ...]  # term day index each unit is due
    learners: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000) - 1


@dataclass(frozen=True)
class World:
    seed: int
    host: str
    projects: tuple[Project, ...]
    sections: tuple[Section, ...]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class _Ids:
    """Distinct, realistic-looking numeric ids drawn from increasing ranges."""

    def __init__(self, rng: random.Random, low: int, high: int):
        self._rng = rng
        self._next = rng.randrange(low, high)

    def take(self, max_gap: int = 7) -> int:
        value = self._next
        self._next += self._rng.randint(1, max_gap)
        return value


def _digits(rng: random.Random, length: int = 10) -> str:
    return str(rng.randrange(10 ** (length - 1), 10**length))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _part(rng: random.Random, index: int, objectives: tuple[int, ...]) -> Part:
    kind = rng.choices(("mcq", "short", "numeric"), weights=(6, 2, 2))[0]
    choices = tuple(_digits(rng) for _ in range(rng.randint(3, 5))) if kind == "mcq" else ()
    correct = rng.choice(choices) if choices else ("42" if kind == "numeric" else "osmosis")
    out_of = 1.0 if kind == "mcq" or rng.random() < 0.7 else float(rng.choice((2, 3, 5)))
    hints = tuple(_digits(rng) for _ in range(rng.choice((0, 1, 2, 2, 3, 3))))
    return Part(str(index + 1), kind, out_of, choices, correct, hints, objectives)


def _activity(
    rng: random.Random, ids: _Ids, revisions: _Ids, title: str, base_difficulty: float, objectives: tuple[int, ...]
) -> Activity:
    part_count = rng.choices((1, 2, 3), weights=(7, 2, 1))[0]
    parts = tuple(_part(rng, i, objectives) for i in range(part_count))
    return Activity(ids.take(), revisions.take(40), title, base_difficulty + rng.gauss(0, 0.6), parts)


def _project(rng: random.Random, subject_index: int, ids: _Ids, revisions: _Ids, edition: int) -> Project:
    title, stem, units_vocab = SUBJECTS[subject_index % len(SUBJECTS)]
    if edition:
        title, stem = f"{title} ({edition + 1})", f"{stem}-{edition + 1}"
    project_id = ids.take(3)
    publication_id = revisions.take(5)
    unit_count = rng.randint(4, len(units_vocab))
    units = []
    objective_ids = _Ids(rng, 1000, 9000)
    for u, (unit_title, topics) in enumerate(units_vocab[:unit_count]):
        pages = []
        unit_objectives = tuple(objective_ids.take(3) for _ in range(3))
        label = f"Unit {u + 1}: {unit_title}"
        overview_videos = (_video(rng, stem, f"{unit_title} Overview", 0),) if rng.random() < 0.5 else ()
        pages.append(Page(ids.take(), f"{label} — Overview", u, False, "basic", (), overview_videos))
        for topic in topics[: rng.randint(3, len(topics))]:
            activities = tuple(
                _activity(
                    rng,
                    ids,
                    revisions,
                    f"{topic}: {rng.choice(PRACTICE_ACTIVITY_STEMS)} {k + 1}",
                    0.2 * u - 0.6,
                    (rng.choice(unit_objectives),),
                )
                for k in range(rng.choices((1, 2, 3), weights=(3, 4, 2))[0])
            )
            videos = tuple(_video(rng, stem, topic, k) for k in range(rng.choices((0, 1, 2), weights=(4, 5, 1))[0]))
            sub_type = "advanced" if rng.random() < 0.1 else "basic"
            pages.append(Page(ids.take(), f"{label} — {topic}", u, False, sub_type, activities, videos))
        quiz = tuple(
            _activity(rng, ids, revisions, f"Unit {u + 1} Quiz — Question {k + 1}", 0.2 * u, unit_objectives[:2])
            for k in range(rng.randint(4, 8))
        )
        pages.append(Page(ids.take(), f"{label} — Quiz", u, True, "basic", quiz, ()))
        units.append(Unit(u, label, tuple(pages)))
    experiment = None
    if rng.random() < 0.75:
        candidates = [p for unit in units[:2] for p in unit.pages if p.activities and not p.graded]
        page = rng.choice(candidates)
        experiment = Experiment(
            ids.take(), _uuid(rng), page.page_id, ((ids.take(), "control"), (ids.take(), "treatment")), ids.take()
        )
    return Project(project_id, publication_id, title, stem, tuple(units), experiment)


def _video(rng: random.Random, stem: str, topic: str, k: int) -> Video:
    title = rng.choice(VIDEO_STEMS).format(topic=topic)
    length = round(rng.uniform(90, 900), 3)
    url = f"https://media.{DEFAULT_HOST}/{stem}/{slugify(topic)}-{k + 1}.mp4"
    return Video(_digits(rng), url, title, length)


def _term_name(start: date) -> str:
    name = TERMS[0][0]
    for term, month, _day in TERMS:
        if start.month >= month:
            name = term
    return name


def _deadlines(days: int, units: int) -> tuple[int, ...]:
    return tuple(min(days - 2, max(1, round((u + 1) * (days - 2) / units))) for u in range(units))


def build_world(
    seed: int,
    *,
    projects: int = 3,
    sections_per_project: int = 3,
    learners_per_section: int = 100,
    start: date | datetime = DEFAULT_START,
    host: str = DEFAULT_HOST,
) -> World:
    """The course world of a seed: `projects` projects, each with `sections_per_project` sections of its own term."""
    for name, value in (
        ("projects", projects),
        ("sections_per_project", sections_per_project),
        ("learners_per_section", learners_per_section),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(start, datetime):
        start = start.date()
    rng = random.Random(f"xolap-generator:{seed}:world")
    ids = _Ids(rng, 10_000, 90_000)
    revisions = _Ids(rng, 100_000, 900_000)
    subject_order = rng.sample(range(len(SUBJECTS)), len(SUBJECTS))
    project_list = [
        _project(rng, subject_order[p % len(SUBJECTS)], ids, revisions, p // len(SUBJECTS)) for p in range(projects)
    ]
    section_ids = _Ids(rng, 1_000, 9_000)
    sections = []
    for project in project_list:
        for k in range(sections_per_project):
            offset = rng.randrange(0, 17) * 7  # sections start on the same weekday as `start`, up to 16 weeks later
            first_day = start + timedelta(days=offset)
            weeks = rng.choice(TERM_WEEKS)
            utc_offset = rng.choice(UTC_OFFSETS_HOURS)
            term = _term_name(first_day)
            local_midnight = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
            sections.append(
                Section(
                    section_id=section_ids.take(40),
                    project=project,
                    title=f"{project.title} — {term} {first_day.year} (Section {k + 1:02d})",
                    slug=f"{project.slug}-{term.lower()}-{first_day.year}-{k + 1:02d}",
                    start=local_midnight - timedelta(hours=utc_offset),
                    days=weeks * 7,
                    utc_offset_hours=utc_offset,
                    unit_deadlines=_deadlines(weeks * 7, len(project.units)),
                    learners=learners_per_section,
                )
            )
    return World(seed, host, tuple(project_list), tuple(sections))
