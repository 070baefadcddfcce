"""How far to trust one explanation, in the window's terms: what removing its components
does to the class, against removing as many random ones, and whether its components
alone are still heard as the class.

The same quantities as FF, its random baseline and Fid-In (quality.py), for one clip,
the class being explained and the components actually played (mute and solo applied).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.explanation import long_clips
from engine.explanation.explain import Analysis, Explainer, Rendering

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


@torch.no_grad()
def assess(ex: Explainer, analysis: Analysis, target: int, components: list[int],
           rendering: Rendering | None = None, draws: int = RANDOM_DRAWS,
           seed: int = 0) -> Trust:
    """Classify the interpretation, the residual and ``draws`` residuals of as many
    random components (seeded: the same clip always reads the same); ``rendering`` of
    exactly ``components`` saves one synthesis."""
    p = float(analysis.probabilities[target])
    chosen = tuple(int(k) for k in components)
    if not chosen or analysis.log_mag.shape[-1] > long_clips.LONG_FRAMES:
        # nothing to remove; or a long clip, where each rendering is a long synthesis
        return Trust(target, chosen, p, p, p, (p, p), 0.0, -1,
                     "empty" if not chosen else "unmeasured")
    if rendering is None or tuple(rendering.indices) != chosen:
        rendering = ex.render(analysis, list(chosen))
    waves = [rendering.interpretation, rendering.residual]
    rng = np.random.default_rng(seed)
    K = analysis.H.shape[0]
    for _ in range(draws):
        random = rng.choice(K, size=min(len(chosen), K), replace=False)
        waves.append(ex.render(analysis, [int(k) for k in random]).residual)
    probs = ex.classify_waves(torch.as_tensor(np.stack(waves))).cpu().numpy()
    alone, removed, randoms = probs[0], probs[1], probs[2:, target]
    top = int(np.argmax(alone))
    p_random = float(randoms.mean())
    return Trust(target, chosen, p, float(removed[target]), p_random,
                 (float(randoms.min()), float(randoms.max())), float(alone[target]), top,
                 verdict(p, float(removed[target]), p_random, top, target))
