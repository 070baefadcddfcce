"""Focus of L-MAC's explanations on the seeded 0 dB mixtures of trainer/focus_eval.py.

The same mixtures, cases and SI-SDR gains as for L2I, in the same JSON shape, so the two
methods' numbers sit side by side. L-MAC's mask explains the classifier's decision only
(it takes no class), so the explained source is the one whose class the classifier ranks
higher, and what L2I measures by explaining a chosen class (the other source's class,
"second"), by selecting components (the best subset, the count selected) or by a
threshold does not apply: those keys hold None. The random baseline masks with the same
mask values at shuffled places; the ideal ratio mask is the same ceiling as L2I's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.dsp.audio import load_audio
from engine.dsp.features import stft
from engine.explanation.focus import gain_db, ideal_ratio_mask_wave, mix_pair, mixture_pairs, si_sdr
from engine.explanation.lmac import LMACExplainer, masked_waves
from engine.runtime.progress import TaskState, report
from trainer.datasets import Dataset
from trainer.features_cache import fix_length
from trainer.focus_eval import SUMMARY_KEYS, _db, format_focus

NOT_APPLICABLE = ("second_gain_db", "subset_db", "selected")


def lmac_focus_row(ex: LMACExplainer, a: np.ndarray, b: np.ndarray, label_a: int,
                   label_b: int, rng: torch.Generator) -> dict:
    m, a, b = mix_pair(a, b)
    res = ex.explain(m)
    p, top = res.probabilities, res.predicted
    case = "top" if top in (label_a, label_b) else "missed"
    first_is_a = (top == label_a) if case == "top" else bool(p[label_a] >= p[label_b])
    (s, cs), (o, co) = ((a, label_a), (b, label_b)) if first_is_a else \
        ((b, label_b), (a, label_a))
    M = torch.from_numpy(res.mask).flatten()
    shuffled = M[torch.randperm(M.numel(), generator=rng)].reshape(res.mask.shape)
    S = stft(torch.from_numpy(m).to(ex.device), ex.cfg)
    random_in, _ = masked_waves(S, shuffled.to(ex.device), ex.cfg, len(m))
    irm = ideal_ratio_mask_wave(s, o, ex.cfg)
    return {
        "case": case, "explained_class": int(cs), "other_class": int(co),
        "p_explained": float(p[cs]), "p_other": float(p[co]),
        "gain_db": _db(gain_db(res.interpretation, m, s)),
        "gain_other_db": _db(gain_db(res.interpretation, m, o)),
        "irm_db": _db(si_sdr(irm, s) - si_sdr(m, s)),
        "random_db": _db(gain_db(random_in.cpu().numpy(), m, s)),
        "mask_mean": float(res.mask.mean()),
    } | {k: None for k in NOT_APPLICABLE}


def evaluate_lmac_focus(ex: LMACExplainer, ds: Dataset, rows: Sequence[int],
                        n_mixtures: int, seed: int = 0, task: TaskState | None = None
                        ) -> dict:
    cfg = ex.cfg
    n = int(round(float(ex.bundle.manifest.get("clip_seconds", 5.0)) * cfg.sample_rate))
    if ds.multilabel:
        raise ValueError("focus is measured on single-label data")
    cache: dict[int, np.ndarray] = {}

    def load(row: int) -> np.ndarray:
        if row not in cache:
            cache[row] = fix_length(load_audio(ds.paths[row], cfg.sample_rate), n)
        return cache[row]

    rng = torch.Generator().manual_seed(seed + 21)
    out_rows = []
    pairs = mixture_pairs(ds.labels, rows, n_mixtures, seed)
    for i, (ra, rb) in enumerate(pairs):
        wa, wb = load(ra), load(rb)
        if not (np.any(wa) and np.any(wb)):
            continue  # a silent clip has no 0 dB mix
        row = lmac_focus_row(ex, wa, wb, int(ds.labels[ra]), int(ds.labels[rb]), rng)
        out_rows.append({"a": ds.paths[ra].name, "b": ds.paths[rb].name} | row)
        report(task, "focus (L-MAC)", i + 1, len(pairs))
    by_case = {}
    for name, keep in (("top", "top"), ("missed", "missed"), ("all", None)):
        part = [r for r in out_rows if keep is None or r["case"] == keep]
        by_case[name] = {"mixtures": len(part)} | {
            f"median_{k}": float(np.median([r[k] for r in part]))
            if part and k not in NOT_APPLICABLE else None for k in SUMMARY_KEYS}
    top = by_case["top"]
    return {
        "tau": "not applicable: L-MAC's mask has no threshold", "seed": int(seed),
        "mixing": "0 dB, peak 0.9", "mixtures": len(out_rows),
        "median_gain_db": top["median_gain_db"],
        "median_gain_other_db": top["median_gain_other_db"],
        "ceiling_irm_db": top["median_irm_db"], "ceiling_subset_db": None,
        "random_db": top["median_random_db"], "by_case": by_case, "rows": out_rows,
    }


def format_lmac_focus(result: dict) -> str:
    """format_focus's table, headed for L-MAC (no threshold; '-' where not applicable)."""
    lines = format_focus(result | {"tau": 0.0}).splitlines()
    lines[0] = (f"L-MAC focus on {result['mixtures']} mixtures (seed {result['seed']}): "
                "median SI-SDR gain in dB")
    return "\n".join(lines)
