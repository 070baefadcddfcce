"""What the L-MAC panel computes on the engine worker: the L-MAC mask of the window's
clip and one comparison row per method, all measured by the engine's own functions.

Every row explains the classifier's own class c (L-MAC's decoder was trained toward
it): FF = p_c - q_c, the class probability lost on the masked-out audio, and whether the
masked-in audio keeps c (Fid-In), both from ``quality.clip_terms``; the share of the
spectrogram kept is the mask's mean over its F x T cells; the time is the wall time of
explaining the clip and classifying its masked-in and masked-out audio, on this machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.runtime.progress import TaskState
from l2i_desktop.jobs import colorize

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Analysis, Explainer
    from engine.explanation.lmac import LMACResult


@dataclass
class Row:
    """One method's numbers on this clip, for the classifier's class."""

    ff: float  # p_c - q_c
    keeps_class: bool  # argmax f(masked-in) == c
    kept_p: float  # o_c, the class probability on the masked-in audio
    share: float  # mean of the mask over the spectrogram
    seconds: float  # explaining and classifying the masked-in/out audio
    detail: str = ""  # what was selected, in the method's own terms


@dataclass
class LmacOutcome:
    key: tuple
    lmac: LMACResult
    picture: np.ndarray  # RGBA spectrogram, as the window colours it
    rows: dict[str, Row]  # "L2I", "L-MAC"
    target: int  # the classifier's class, which every row explains


def lmac_row(result: LMACResult, seconds: float) -> Row:
    from engine.explanation.quality import clip_terms

    c = result.predicted
    t = clip_terms(result.probabilities, result.probabilities_in, result.probabilities_out,
                   result.mask)
    return Row(t.faithfulness, bool(t.fidelity_in), float(result.probabilities_in[c]),
               float(result.mask.mean()), seconds,
               f"{100 * float((result.mask > 0.5).mean()):.0f} % of cells above 0.5")


def l2i_row(ex: Explainer, analysis: Analysis, tau: float, task: TaskState) -> Row:
    """L2I at the window's tau for class c, timed from the waveform (analysis included)
    like L-MAC's, which starts from the waveform too."""
    from engine.explanation.masks import select
    from engine.explanation.quality import clip_terms
    from engine.tools.slime import l2i_mask, masked_probabilities

    c = analysis.predicted
    start = time.perf_counter()
    fresh = ex.analyse(analysis.wave, task)
    chosen = select(ex.relevance(fresh, c), tau)
    ex.explain(fresh, c, tau, with_components=False)
    mask = l2i_mask(ex, fresh, chosen)
    (o, q), = masked_probabilities(ex, fresh, [mask])
    seconds = time.perf_counter() - start
    m = mask.cpu().numpy()
    t = clip_terms(analysis.probabilities, o, q, m)
    return Row(t.faithfulness, bool(t.fidelity_in), float(o[c]), float(m.mean()), seconds,
               f"{len(chosen)} components at τ = {tau:.2f}")


def compute(ex: Explainer, analysis: Analysis, tau: float, levels: tuple[float, float],
            key: tuple, cache: dict, task: TaskState) -> LmacOutcome:
    """Runs on the worker thread; ``cache`` keeps L-MAC's result for this analysis (a new
    tau only re-measures L2I). Raises Cancelled between stages when ``task`` is."""
    from engine.explanation.lmac import LMACExplainer

    task.check()
    if cache.get("analysis") is not analysis:
        with LMACExplainer(ex.bundle, ex.device) as lx:  # hooks on for this job only
            start = time.perf_counter()
            result = lx.explain(analysis.wave)
            seconds = time.perf_counter() - start
        cache.clear()
        cache.update(analysis=analysis, lmac=result, row=lmac_row(result, seconds),
                     picture=colorize(analysis.log_mag.cpu().numpy(), levels))
    task.check()
    rows = {"L2I": l2i_row(ex, analysis, tau, task), "L-MAC": cache["row"]}
    return LmacOutcome(key, cache["lmac"], cache["picture"], rows, analysis.predicted)
