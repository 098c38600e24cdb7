"""One learner's term in one section, as a time-ordered stream of Torus statements of an exact length.

The learner works through the project's pages in order over study sessions drawn from the term's time pattern:
each visit starts with a page view; practice pages get reading time, video sessions (played → paused/seeked →
played … → completed, with coherent time, progress and played segments) and activity attempts (hints, part
evaluations, activity evaluation, retries with increasing attempt numbers after failures, occasional tutor messages);
graded quiz pages are submitted as a page attempt and retaken (page attempt number + 1) after a failure. After the
last page the learner reviews. Sessions are cut exactly at their event allocation, so the stream has exactly
`budget` statements.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from xolap.generator import statements as st
from xolap.generator.learners import Learner, allocate, learner_rng
from xolap.generator.model import Activity, Page, Section, Video, World
from xolap.generator.timeline import TermClock
from xolap.generator.vocabulary import FEEDBACK_CORRECT, FEEDBACK_INCORRECT, SHORT_ANSWERS, TUTOR_QUESTIONS

Event = tuple[int, int, str, dict[str, Any]]  # (epoch ms, learner index, bundle category, statement)

MINUTE_MS = 60_000
MAX_ACTIVITY_ATTEMPTS = 4
MAX_PART_ATTEMPTS = 3
MAX_QUIZ_ATTEMPTS = 3
QUIZ_PASS = 0.7


def _segments_text(segments: list[tuple[float, float]]) -> str:
    return "[,]".join(f"{a}[.]{b}" for a, b in segments)


def _covered(segments: list[tuple[float, float]]) -> float:
    ordered = sorted(segments)
    if not ordered:
        return 0.0
    total = 0.0
    current_start, current_end = ordered[0]
    for a, b in ordered[1:]:
        if a > current_end:
            total += current_end - current_start
            current_start, current_end = a, b
        elif b > current_end:
            current_end = b
    return total + current_end - current_start


class LearnerSimulation:
    """Generates one enrollment's statements; `events()` yields exactly `budget` of them in time order."""

    def __init__(self, world: World, section: Section, learner: Learner, clock: TermClock, budget: int):
        project = section.project
        self.rng = learner_rng(world.seed, section.section_id, learner.index)
        self.random = self.rng.random
        self.learner = learner
        self.index = learner.index  # breaks timestamp ties when sections' streams are merged
        self.section = section
        self.clock = clock
        self.budget = budget
        self.scope = st.Scope(
            world.host,
            learner.user_id,
            section.section_id,
            project.project_id,
            project.publication_id,
            learner.enrollment_id,
        )
        self.pages = project.pages
        self.experiment = project.experiment
        self.end_ms = clock.end_ms
        self.now = 0
        self.pointer = 0
        self.session_id = ""
        self.page_attempts: dict[int, tuple[str, int]] = {}
        self.activity_attempts: dict[int, int] = {}
        self.quiz_results: dict[int, float] = {}
        self.retakes: list[Page] = []
        self.assigned = False

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def _tick(self, low_ms: int, high_ms: int) -> tuple[int, str]:
        """Advance the clock by a random gap; the (ms, ISO text) of the new time, never past the term's end."""
        self.now += low_ms + int(self.random() * (high_ms - low_ms))
        ms = self.now if self.now < self.end_ms else self.end_ms
        return ms, st.iso_ms(ms)

    def events(self) -> Iterator[Event]:
        if self.budget <= 0:
            return
        rng = self.rng
        learner = self.learner
        mean_session = 45 if learner.engagement == "very_active" else 30
        active_days = max(1, round(self.section.days * learner.active_share))
        sessions = max(1, min(self.budget, round(self.budget / mean_session), active_days * 2))
        starts = self.clock.session_starts(rng, sessions, active_days)
        sizes = allocate(self.budget, [math.exp(rng.gauss(0.0, 0.5)) for _ in range(sessions)])
        for start, size in zip(starts, sizes, strict=False):
            if size == 0:
                continue
            earliest = self.now + rng.randrange(5 * MINUTE_MS, 45 * MINUTE_MS) if self.now else start
            self.now = max(start, earliest)
            self.session_id = self._uuid()
            yield from islice(self._session(), size)

    # --- behaviour ---------------------------------------------------------------------------------------------

    def _session(self) -> Iterator[Event]:
        rng = self.rng
        if self.retakes and rng.random() < 0.6:
            yield from self._visit(self.retakes.pop(0), retake=True)
        while True:
            if self.pointer < len(self.pages):
                if self.pointer and rng.random() < 0.08:
                    yield from self._visit(self.pages[rng.randrange(self.pointer)], review=True)
                    continue
                page = self.pages[self.pointer]
                self.pointer += 1
                yield from self._visit(page)
            else:
                yield from self._visit(self.pages[rng.randrange(len(self.pages))], review=True)

    def _page_attempt(self, page: Page, new: bool) -> tuple[str, int]:
        attempt = self.page_attempts.get(page.page_id)
        if attempt is None or new:
            attempt = (self._uuid(), 1 if attempt is None else attempt[1] + 1)
            self.page_attempts[page.page_id] = attempt
        return attempt

    def _visit(self, page: Page, *, review: bool = False, retake: bool = False) -> Iterator[Event]:
        rng = self.rng
        s = self.scope
        guid, number = self._page_attempt(page, new=retake)
        ms, ts = self._tick(2_000, 30_000)
        yield ms, self.index, st.PAGE_VIEWED_CATEGORY, st.page_viewed(s, ts, page, guid, number)
        if self.experiment is not None and not self.assigned and page.page_id == self.experiment.decision_page_id:
            self.assigned = True
            condition_id, code = self.experiment.conditions[rng.randrange(len(self.experiment.conditions))]
            ms, ts = self._tick(20, 400)
            yield (
                ms,
                self.index,
                st.EXPERIMENT_CATEGORY,
                st.experiment_condition_assigned(
                    s, ts, self.experiment, condition_id, code, self.learner.enrollment_id
                ),
            )
        if page.graded:
            if page.page_id in self.quiz_results and not retake:
                return  # looks at a submitted quiz's results
            yield from self._quiz(page, guid, number)
            return
        self.now += int(rng.uniform(15_000, 180_000) * (0.4 if review else 1.0))
        for video in page.videos:
            if rng.random() < self.learner.video_propensity * (0.35 if review else 1.0):
                yield from self._watch(page, guid, number, video)
        for activity in page.activities:
            if rng.random() < (0.3 if review else 0.88):
                yield from self._practice(page, guid, number, activity)

    def _p_correct(self, activity: Activity, attempt: int, part_attempt: int, hints: int) -> float:
        x = (
            1.6 * (self.learner.skill - activity.difficulty)
            + 0.6 * (attempt - 1)
            + 0.5 * (part_attempt - 1)
            + 0.35 * hints
            + 0.8
        )
        return 1.0 / (1.0 + math.exp(-x))

    def _pick(self, options: Sequence[Any]) -> Any:
        return options[int(self.random() * len(options))]

    def _answer(self, part: Any, correct: bool) -> tuple[float, dict[str, Any], dict[str, Any]]:
        if correct:
            score, given, text = part.out_of, part.correct, self._pick(FEEDBACK_CORRECT)
        else:
            score = float(int(self.random() * part.out_of)) if part.out_of > 1 else 0.0
            if part.choices:
                given = part.correct
                while given == part.correct:
                    given = self._pick(part.choices)
            else:
                given = self._pick(SHORT_ANSWERS)
                if given == part.correct:
                    given = given + "?"
            text = self._pick(FEEDBACK_INCORRECT)
        feedback = {
            "content": [{"children": [{"text": text}], "type": "p"}],
            "id": f"{part.part_id}-{'correct' if correct else 'incorrect'}",
        }
        return score, {"files": [], "input": given}, feedback

    def _practice(self, page: Page, page_guid: str, page_number: int, activity: Activity) -> Iterator[Event]:
        rng = self.rng
        learner = self.learner
        s = self.scope
        number = self.activity_attempts.get(activity.activity_id, 0)
        for _ in range(MAX_ACTIVITY_ATTEMPTS):
            number += 1
            self.activity_attempts[activity.activity_id] = number
            activity_guid = self._uuid()
            total = out_of = 0.0
            for part in activity.parts:
                part_number = 0
                while True:
                    part_number += 1
                    hints: list[str] = []
                    if part.hint_ids and rng.random() < learner.hint_propensity:
                        hints = list(part.hint_ids[: rng.randint(1, len(part.hint_ids))])
                    correct = rng.random() < self._p_correct(activity, number, part_number, len(hints))
                    score, response, feedback = self._answer(part, correct)
                    ms, ts = self._tick(8_000, 110_000)
                    yield (
                        ms,
                        self.index,
                        st.ATTEMPT_CATEGORY,
                        st.part_attempt_evaluated(
                            s,
                            ts,
                            activity,
                            part,
                            page.page_id,
                            page_guid,
                            page_number,
                            activity_guid,
                            number,
                            self._uuid(),
                            part_number,
                            score,
                            correct,
                            response,
                            feedback,
                            hints,
                            self.session_id,
                        ),
                    )
                    if not correct and rng.random() < 0.05 + 0.05 * max(0.0, -learner.skill):
                        ms, ts = self._tick(5_000, 60_000)
                        message = self._pick(TUTOR_QUESTIONS)
                        yield (
                            ms,
                            self.index,
                            st.TUTOR_CATEGORY,
                            st.tutor_message(
                                s,
                                ts,
                                activity,
                                page.page_id,
                                page_guid,
                                page_number,
                                activity_guid,
                                number,
                                message,
                                activity_level=rng.random() < 0.8,
                            ),
                        )
                    if correct or part_number >= MAX_PART_ATTEMPTS or rng.random() > 0.35 * learner.persistence:
                        break
                total += score
                out_of += part.out_of
            success = total >= out_of
            ms, ts = self._tick(200, 3_000)
            yield (
                ms,
                self.index,
                st.ATTEMPT_CATEGORY,
                st.activity_attempt_evaluated(
                    s, ts, activity, page.page_id, page_guid, page_number, activity_guid, number, total, out_of, success
                ),
            )
            if success or rng.random() > learner.persistence:
                return

    def _quiz(self, page: Page, page_guid: str, page_number: int) -> Iterator[Event]:
        """A graded page: answered in one sitting, evaluated on submit (parts, activities, then the page)."""
        rng = self.rng
        s = self.scope
        self.now += sum(rng.randrange(20_000, 150_000) for _ in page.activities)
        page_score = page_out_of = 0.0
        for activity in page.activities:
            number = self.activity_attempts.get(activity.activity_id, 0) + 1
            self.activity_attempts[activity.activity_id] = number
            activity_guid = self._uuid()
            total = out_of = 0.0
            for part in activity.parts:
                correct = rng.random() < self._p_correct(activity, page_number, 1, 0)
                score, response, feedback = self._answer(part, correct)
                ms, ts = self._tick(5, 60)
                yield (
                    ms,
                    self.index,
                    st.ATTEMPT_CATEGORY,
                    st.part_attempt_evaluated(
                        s,
                        ts,
                        activity,
                        part,
                        page.page_id,
                        page_guid,
                        page_number,
                        activity_guid,
                        number,
                        self._uuid(),
                        1,
                        score,
                        correct,
                        response,
                        feedback,
                        [],
                        self.session_id,
                    ),
                )
                total += score
                out_of += part.out_of
            ms, ts = self._tick(5, 60)
            yield (
                ms,
                self.index,
                st.ATTEMPT_CATEGORY,
                st.activity_attempt_evaluated(
                    s,
                    ts,
                    activity,
                    page.page_id,
                    page_guid,
                    page_number,
                    activity_guid,
                    number,
                    total,
                    out_of,
                    total >= out_of,
                ),
            )
            page_score += total
            page_out_of += out_of
        scaled = page_score / page_out_of if page_out_of else 0.0
        passed = scaled >= QUIZ_PASS
        self.quiz_results[page.page_id] = max(scaled, self.quiz_results.get(page.page_id, 0.0))
        ms, ts = self._tick(50, 500)
        yield (
            ms,
            self.index,
            st.ATTEMPT_CATEGORY,
            st.page_attempt_evaluated(s, ts, page, page_guid, page_number, page_score, page_out_of, passed),
        )
        if not passed and page_number < MAX_QUIZ_ATTEMPTS and rng.random() < self.learner.persistence:
            self.retakes.append(page)

    def _watch(self, page: Page, page_guid: str, page_number: int, video: Video) -> Iterator[Event]:
        """One viewing: time advances with playback, progress is the share of the video covered so far."""
        rng = self.rng
        s = self.scope
        length = video.length
        pid = page.page_id
        position = round(rng.uniform(0, length * 0.5), 3) if rng.random() < 0.15 else 0.0
        segments: list[tuple[float, float]] = []
        ms, ts = self._tick(500, 8_000)
        yield ms, self.index, st.VIDEO_CATEGORY, st.video_played(s, ts, video, pid, page_guid, page_number, position)
        for _ in range(60):
            end = min(length, round(position + rng.uniform(15, 240) * self.learner.attention, 3))
            self.now += int((end - position) * 1000)
            segments.append((position, end))
            position = end
            progress = round(_covered(segments) / length, 4)
            if end >= length:
                ms, ts = self._tick(0, 300)
                yield (
                    ms,
                    self.index,
                    st.VIDEO_CATEGORY,
                    st.video_completed(
                        s, ts, video, pid, page_guid, page_number, length, progress, _segments_text(segments)
                    ),
                )
                return
            action = rng.random()
            if action < 0.25 and position < length - 30:  # skip ahead or go back
                if rng.random() < 0.6:
                    target = round(min(length - 5, position + rng.uniform(10, 120)), 3)
                else:
                    target = round(max(0.0, position - rng.uniform(5, 60)), 3)
                ms, ts = self._tick(0, 300)
                yield (
                    ms,
                    self.index,
                    st.VIDEO_CATEGORY,
                    st.video_seeked(s, ts, video, pid, page_guid, page_number, position, target),
                )
                position = target
                ms, ts = self._tick(200, 1_500)
                yield (
                    ms,
                    self.index,
                    st.VIDEO_CATEGORY,
                    st.video_played(s, ts, video, pid, page_guid, page_number, position),
                )
                continue
            ms, ts = self._tick(0, 300)
            yield (
                ms,
                self.index,
                st.VIDEO_CATEGORY,
                st.video_paused(
                    s, ts, video, pid, page_guid, page_number, position, progress, _segments_text(segments)
                ),
            )
            if action > 0.8 or rng.random() < 0.2 / self.learner.attention:
                return  # leaves the video
            ms, ts = self._tick(2_000, 90_000)
            yield (
                ms,
                self.index,
                st.VIDEO_CATEGORY,
                st.video_played(s, ts, video, pid, page_guid, page_number, position),
            )
