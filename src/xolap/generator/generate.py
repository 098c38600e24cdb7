"""`generate()`: a deterministic, streaming source of exactly N Torus-shaped statements for a generated course world.

The requested event count is split among all learners of all sections in proportion to their engagement (largest
remainder, so the total is exact); each learner's simulation yields exactly its share. Sections are produced one
after the other; within a section the learners' streams are merged by timestamp, so only one section's learner
states are held at a time and memory does not grow with the event count.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, NamedTuple

from xolap.generator.learners import Learner, allocate, draw_learners
from xolap.generator.model import DEFAULT_HOST, DEFAULT_START, World, build_world
from xolap.generator.simulate import LearnerSimulation
from xolap.generator.timeline import TermClock

EVENTS_PER_LEARNER = 400  # how many learners a section gets when learners_per_section is not given
MAX_AUTO_LEARNERS = 2_000


class GeneratedStatement(NamedTuple):
    section_id: int
    category: str  # Torus bundle category
    timestamp_ms: int  # the statement's timestamp as UTC epoch milliseconds
    statement: dict[str, Any]


def auto_learners(events: int, projects: int, sections_per_project: int) -> int:
    """Learners per section for an event count: about EVENTS_PER_LEARNER events each, 5..MAX_AUTO_LEARNERS."""
    return max(5, min(MAX_AUTO_LEARNERS, round(events / (projects * sections_per_project * EVENTS_PER_LEARNER))))


class CourseDataGenerator:
    """The world (projects, sections, learners) of a seed and the statement stream over it."""

    def __init__(
        self,
        seed: int,
        events: int,
        *,
        projects: int = 3,
        sections_per_project: int = 3,
        learners_per_section: int | None = None,
        start: date | datetime = DEFAULT_START,
        host: str = DEFAULT_HOST,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if isinstance(events, bool) or not isinstance(events, int) or events < 0:
            raise ValueError(f"events must be a non-negative integer, got {events!r}")
        if learners_per_section is None:
            learners_per_section = auto_learners(events, max(1, projects), max(1, sections_per_project))
        self.seed = seed
        self.events = events
        self.world: World = build_world(
            seed,
            projects=projects,
            sections_per_project=sections_per_project,
            learners_per_section=learners_per_section,
            start=start,
            host=host,
        )
        self.learners: dict[int, list[Learner]] = draw_learners(self.world)
        flat = [learner for section in self.world.sections for learner in self.learners[section.section_id]]
        budgets = allocate(events, [learner.weight for learner in flat])
        self.budgets: dict[tuple[int, int], int] = {}
        position = 0
        for section in self.world.sections:
            for learner in self.learners[section.section_id]:
                self.budgets[(section.section_id, learner.index)] = budgets[position]
                position += 1

    def section_budget(self, section_id: int) -> int:
        return sum(self.budgets[(section_id, learner.index)] for learner in self.learners[section_id])

    def __iter__(self) -> Iterator[GeneratedStatement]:
        for section in self.world.sections:
            clock = TermClock(section)
            streams = [
                LearnerSimulation(
                    self.world, section, learner, clock, self.budgets[(section.section_id, learner.index)]
                ).events()
                for learner in self.learners[section.section_id]
                if self.budgets[(section.section_id, learner.index)]
            ]
            section_id = section.section_id
            # (ms, learner index, ...) tuples: ties are broken by the learner index, never by comparing statements.
            for ms, _learner, category, statement in heapq.merge(*streams):
                yield GeneratedStatement(section_id, category, ms, statement)


def generate(
    seed: int,
    events: int,
    *,
    projects: int = 3,
    sections_per_project: int = 3,
    learners_per_section: int | None = None,
    start: date | datetime = DEFAULT_START,
    host: str = DEFAULT_HOST,
) -> Iterator[GeneratedStatement]:
    """Exactly `events` statements (section_id, category, timestamp_ms, statement), identical for the same arguments.

    Arguments are checked at once (ValueError naming the argument); statements are produced lazily."""
    return iter(
        CourseDataGenerator(
            seed,
            events,
            projects=projects,
            sections_per_project=sections_per_project,
            learners_per_section=learners_per_section,
            start=start,
            host=host,
        )
    )
