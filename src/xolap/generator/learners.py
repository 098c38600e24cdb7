"""Learners of a section (engagement and skill profiles) and how the requested event count is shared among them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from xolap.generator.model import World

# (name, share of learners, relative event weight, share of the term they stay active: (low, high))
ENGAGEMENT_PROFILES = (
    ("dropout", 0.12, 0.3, (0.08, 0.4)),
    ("low", 0.23, 0.6, (1.0, 1.0)),
    ("regular", 0.50, 1.0, (1.0, 1.0)),
    ("very_active", 0.15, 2.4, (1.0, 1.0)),
)


@dataclass(frozen=True, slots=True)
class Learner:
    index: int  # within the section
    user_id: int
    enrollment_id: int
    engagement: str
    weight: float  # share of the events relative to other learners
    active_share: float  # fraction of the term before the learner stops (dropouts < 1)
    skill: float  # ~N(0, 1): raises the chance of a correct answer
    hint_propensity: float  # 0..1
    persistence: float  # chance to retry after a failure
    video_propensity: float  # chance to watch a page's video
    attention: float  # scales how long video stretches are watched


def learner_rng(seed: int, section_id: int, index: int) -> random.Random:
    return random.Random(f"xolap-generator:{seed}:learner:{section_id}:{index}")


def draw_learners(world: World) -> dict[int, list[Learner]]:
    """Learners per section id; user and enrollment ids are unique across the world."""
    rng = random.Random(f"xolap-generator:{world.seed}:learners")
    next_user = rng.randrange(100_000, 500_000)
    next_enrollment = rng.randrange(1_000_000, 5_000_000)
    shares = [profile[1] for profile in ENGAGEMENT_PROFILES]
    result: dict[int, list[Learner]] = {}
    for section in world.sections:
        learners = []
        for index in range(section.learners):
            name, _share, weight, (low, high) = rng.choices(ENGAGEMENT_PROFILES, weights=shares)[0]
            skill = rng.gauss(0.0, 1.0)
            next_user += rng.randint(1, 40)
            next_enrollment += rng.randint(1, 9)
            learners.append(
                Learner(
                    index=index,
                    user_id=next_user,
                    enrollment_id=next_enrollment,
                    engagement=name,
                    weight=weight * math.exp(rng.gauss(0.0, 0.35)),
                    active_share=rng.uniform(low, high),
                    skill=skill,
                    hint_propensity=min(0.9, max(0.02, 0.3 - 0.15 * skill + rng.gauss(0, 0.1))),
                    persistence=rng.uniform(0.35, 0.95),
                    video_propensity=min(1.0, rng.uniform(0.3, 0.9) + (0.15 if name == "very_active" else 0.0)),
                    attention=rng.uniform(0.4, 1.6),
                )
            )
        result[section.section_id] = learners
    return result


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` that sum exactly to `total` (largest remainder)."""
    if total < 0:
        raise ValueError(f"cannot allocate a negative total ({total})")
    if not weights:
        if total:
            raise ValueError("no weights to allocate to")
        return []
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    short = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts
