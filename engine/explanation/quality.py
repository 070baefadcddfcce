"""The field's faithfulness metrics for listenable explanations (L-MAC, Paissan et al. 2024):
AI, AD, AG, FF, Fid-In, SPS and COMP, as defined in DESIGN.md.

Per clip: p = f(x), c = argmax p (the classifier's own class), o = f(x_in) on the
masked-in input (the interpretation's audio through the normal front-end) and
q = f(x_out) on the masked-out input (the residual's audio). Averaged over clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.dsp.features import resynthesise
from engine.explanation.explain import Analysis, Explainer
from engine.explanation.masks import apply_mask, group_mask, select

METRICS = ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP")


def gini(values: np.ndarray) -> float:
    """Gini index of |values| (Hurley and Rickard): 0 for a flat mask, 1 - 1/N for one
    non-zero entry. An all-zero mask has no spread at all: 0."""
    c = np.sort(np.abs(np.asarray(values, dtype=np.float64)).ravel())
    total = c.sum()
    if c.size == 0 or total <= 0:
        return 0.0
    n = c.size
    k = np.arange(1, n + 1)
    return float(1.0 - 2.0 * np.sum((c / total) * (n - k + 0.5) / n))


def mask_entropy(values: np.ndarray) -> float:
    """Entropy (nats) of |mask| / sum |mask|: low for a compact mask. 0 for an empty one."""
    a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    total = a.sum()
    if total <= 0:
        return 0.0
    p = a[a > 0] / total
    return float(-(p * np.log(p)).sum())


@dataclass
class ClipTerms:
    """One clip's contributions, before averaging."""

    increase: float  # 1[o_c > p_c]
    drop: float  # max(0, p_c - o_c) / p_c
    gain: float  # max(0, o_c - p_c) / (1 - p_c)
    faithfulness: float  # p_c - q_c
    fidelity_in: float  # 1[argmax o == c]
    sparseness: float
    complexity: float


def clip_terms(p: np.ndarray, o: np.ndarray, q: np.ndarray, mask: np.ndarray) -> ClipTerms:
    c = int(np.argmax(p))
    pc, oc = float(p[c]), float(o[c])
    return ClipTerms(
        increase=float(oc > pc),
        drop=max(0.0, pc - oc) / pc if pc > 0 else 0.0,
        gain=max(0.0, oc - pc) / (1.0 - pc) if pc < 1 else 0.0,
        faithfulness=pc - float(q[c]),
        fidelity_in=float(int(np.argmax(o)) == c),
        sparseness=gini(mask),
        complexity=mask_entropy(mask),
    )


def summarise(terms: Sequence[ClipTerms]) -> dict[str, float]:
    """Means over clips, on the literature's scales (AI, AD, AG in %)."""
    if not terms:
        return {m: float("nan") for m in METRICS}

    def mean(name: str) -> float:
        return float(np.mean([getattr(t, name) for t in terms]))

    return {"AI": 100 * mean("increase"), "AD": 100 * mean("drop"),
            "AG": 100 * mean("gain"), "FF": mean("faithfulness"),
            "Fid-In": mean("fidelity_in"), "SPS": mean("sparseness"),
            "COMP": mean("complexity")}


@torch.no_grad()
def explain_terms(ex: Explainer, analysis: Analysis, tau: float) -> ClipTerms:
    """Masked-in and masked-out audio of the explanation of the classifier's own class at
    threshold tau, through the classifier; the mask is the selected soft masks' sum."""
    c = analysis.predicted
    chosen = select(ex.relevance(analysis, c), tau)
    mask = group_mask(ex.bundle.W, analysis.H, chosen)
    X = analysis.log_mag
    spectra = torch.stack([apply_mask(X, mask, ex.mask_domain),
                           apply_mask(X, 1 - mask, ex.mask_domain)])
    waves = resynthesise(spectra, analysis.phase, ex.cfg, analysis.n_samples)
    o, q = ex.classify_waves(waves).cpu().numpy()
    return clip_terms(analysis.probabilities, o, q, mask.cpu().numpy())
