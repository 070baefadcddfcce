"""How far to trust one explanation, in the window's terms: what removing its components
does to the class, against removing as many random ones, and whether its components
alone are still heard as the class.

The same quantities as FF, its random baseline and Fid-In (quality.py), for one clip,
the class being explained and the components actually played (mute and solo applied).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.explanation import long_clips
from engine.explanation.explain import Analysis, Explainer, Rendering
from engine.explanation.trust_verdict import RANDOM_DRAWS, Trust, verdict


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
