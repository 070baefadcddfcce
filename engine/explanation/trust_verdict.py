"""The trust readout's rules and result, free of torch: the window says them (its
tooltip) before any model is loaded; engine.explanation.trust measures them."""

from __future__ import annotations

from dataclasses import dataclass

RANDOM_DRAWS = 5
# the verdict's lines, said in the window's tooltip
GOOD_SHARE = 0.5  # removing the components takes away at least half of the probability
NOT_RANDOM = 0.05  # and clearly more than removing as many random components does


@dataclass(frozen=True)
class Trust:
    target: int
    components: tuple[int, ...]  # what the interpretation plays
    p: float  # the classifier's probability of the class on the clip
    p_removed: float  # ... on the clip without the components (the residual)
    p_random: float  # ... without as many random components (mean of RANDOM_DRAWS)
    p_random_range: tuple[float, float]  # lowest and highest of those draws
    p_alone: float  # ... on the components alone (the interpretation)
    top_alone: int  # the class the components alone are heard as
    verdict: str  # good, weak, unfaithful, empty, unmeasured

    @property
    def faithfulness(self) -> float:
        """FF: how much the class loses when these components are removed."""
        return self.p - self.p_removed

    @property
    def random_faithfulness(self) -> float:
        return self.p - self.p_random


def verdict(p: float, p_removed: float, p_random: float, top_alone: int,
            target: int) -> str:
    """good: removing them takes at least half of p away, clearly more than random ones,
    and they alone are heard as the class; unfaithful: no more than random ones;
    weak: anything between.

    >>> verdict(0.97, 0.04, 0.95, 3, 3), verdict(0.9, 0.85, 0.87, 3, 3)
    ('good', 'unfaithful')
    """
    ff, ff_random = p - p_removed, p - p_random
    if ff <= ff_random + NOT_RANDOM:
        return "unfaithful"
    if ff >= GOOD_SHARE * p and top_alone == target:
        return "good"
    return "weak"
