"""Focus of a bundle's explanations on a seeded set of 0 dB mixtures of held-out clips.

For each mixture m = a + b (two clips of different classes, engine.explanation.focus.mix_pair), the
class the classifier ranks first is explained when it is one of the two sources' ("top"
case); otherwise ("missed" case) the source class it ranks higher. The interpretation is
scored by its SI-SDR gain over the mixture toward the explained source and toward the
other one, beside:

- the ideal ratio mask on the same STFT (what any magnitude mask could do);
- the best subset of the components the explanation selects from: the activations the
  explainer uses on m, greedy forward selection knowing the source, linear masks;
- as many random components as were selected (the random baseline);
- the other source's class explained too, scored toward the other source ("second").

Every mixture's row and the medians go into the evaluation JSON under ``focus``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.dsp.audio import load_audio
from engine.explanation.explain import Analysis, Explainer
from engine.explanation.focus import (
    SubsetScorer,
    gain_db,
    ideal_ratio_mask_wave,
    mix_pair,
    mixture_pairs,
    si_sdr,
)
from engine.explanation.sparse_synthesis import component_waves
from engine.runtime.progress import TaskState, report
from trainer.datasets import Dataset
from trainer.features_cache import fix_length

FLOOR_DB = -100.0  # the gain of an empty (silent) interpretation, in the rows and medians
SUMMARY_KEYS = ("gain_db", "gain_other_db", "second_gain_db", "irm_db", "subset_db",
                "random_db", "selected")


def _subset_ceiling(ex: Explainer, analysis: Analysis, source: np.ndarray) -> float:
    """Greedy best subset of the active components (linear masks), in dB of SI-SDR."""
    active = torch.nonzero(analysis.H.amax(dim=-1) > 0).flatten().tolist()
    if not active:
        return float("-inf")
    W, H = ex.bundle.W, analysis.H
    spectrum = torch.polar(torch.expm1(analysis.log_mag.clamp_min(0)), analysis.phase)
    waves = component_waves(analysis.log_mag, analysis.phase, W, H, active, ex.cfg,
                            analysis.n_samples, "linear", WH=W @ H, spectrum=spectrum)
    return SubsetScorer.of(waves.cpu().numpy(), source).greedy()[1]


def focus_row(ex: Explainer, a: np.ndarray, b: np.ndarray, label_a: int, label_b: int,
              tau: float, rng: np.random.Generator) -> dict:
    """One mixture's measurements (see the module's docstring). Gains in dB."""
    m, a, b = mix_pair(a, b)
    analysis = ex.analyse(m)
    p = analysis.probabilities
    top = analysis.predicted
    case = "top" if top in (label_a, label_b) else "missed"
    first_is_a = (top == label_a) if case == "top" else bool(p[label_a] >= p[label_b])
    (s, cs), (o, co) = ((a, label_a), (b, label_b)) if first_is_a else \
        ((b, label_b), (a, label_a))
    explanation = ex.explain(analysis, cs, tau, with_components=False)
    second = ex.explain(analysis, co, tau, with_components=False)
    n_sel = len(explanation.selected)
    random_db = float("-inf")
    if n_sel:
        pick = rng.choice(ex.bundle.k, size=n_sel, replace=False).tolist()
        random_db = gain_db(ex.render(analysis, pick).interpretation, m, s)
    irm = ideal_ratio_mask_wave(s, o, ex.cfg)
    base = si_sdr(m, s)
    return {
        "case": case, "explained_class": int(cs), "other_class": int(co),
        "p_explained": float(p[cs]), "p_other": float(p[co]), "selected": n_sel,
        "gain_db": _db(gain_db(explanation.interpretation, m, s)),
        "gain_other_db": _db(gain_db(explanation.interpretation, m, o)),
        "second_gain_db": _db(gain_db(second.interpretation, m, o)),
        "irm_db": _db(si_sdr(irm, s) - base),
        "subset_db": _db(_subset_ceiling(ex, analysis, s) - base),
        "random_db": _db(random_db),
    }


def _db(value: float) -> float:
    """JSON has no infinity: a silent estimate (-inf) counts as FLOOR_DB."""
    return float(np.clip(value, FLOOR_DB, -FLOOR_DB))


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarise_focus(rows: Sequence[dict]) -> dict:
    """Medians per case ("top", "missed") and over all mixtures."""
    out: dict = {}
    for name, keep in (("top", "top"), ("missed", "missed"), ("all", None)):
        part = [r for r in rows if keep is None or r["case"] == keep]
        out[name] = {"mixtures": len(part)} | {
            f"median_{k}": _median([float(r[k]) for r in part]) for k in SUMMARY_KEYS}
    return out


def evaluate_focus(ex: Explainer, ds: Dataset, rows: Sequence[int], n_mixtures: int,
                   seed: int = 0, tau: float = 0.1, task: TaskState | None = None) -> dict:
    """The focus section of an evaluation: settings, per-mixture rows and medians.

    The headline numbers (``median_gain_db`` and the rest at the top level) are those of
    the "top" case, the one the issue's targets name."""
    cfg = ex.cfg
    n = int(round(float(ex.bundle.manifest.get("clip_seconds", 5.0)) * cfg.sample_rate))
    if ds.multilabel:
        raise ValueError("focus is measured on single-label data")
    pairs = mixture_pairs(ds.labels, rows, n_mixtures, seed)
    cache: dict[int, np.ndarray] = {}

    def load(row: int) -> np.ndarray:
        if row not in cache:
            cache[row] = fix_length(load_audio(ds.paths[row], cfg.sample_rate), n)
        return cache[row]

    rng = np.random.default_rng([seed, 21])
    out_rows = []
    for i, (ra, rb) in enumerate(pairs):
        wa, wb = load(ra), load(rb)
        if not (np.any(wa) and np.any(wb)):
            continue  # a silent clip has no 0 dB mix
        row = focus_row(ex, wa, wb, int(ds.labels[ra]), int(ds.labels[rb]), tau, rng)
        out_rows.append({"a": ds.paths[ra].name, "b": ds.paths[rb].name} | row)
        report(task, "focus", i + 1, len(pairs))
    summary = summarise_focus(out_rows)
    top = summary["top"]
    return {
        "tau": float(tau), "seed": int(seed), "mixing": "0 dB, peak 0.9",
        "mixtures": len(out_rows),
        "median_gain_db": top["median_gain_db"],
        "median_gain_other_db": top["median_gain_other_db"],
        "ceiling_irm_db": top["median_irm_db"],
        "ceiling_subset_db": top["median_subset_db"],
        "random_db": top["median_random_db"],
        "by_case": summary, "rows": out_rows,
    }


def format_focus(result: dict) -> str:
    """A small table of the medians per case."""
    head = (f"focus on {result['mixtures']} mixtures (tau {result['tau']:g}, "
            f"seed {result['seed']}): median SI-SDR gain in dB")
    cols = ("gain_db", "gain_other_db", "second_gain_db", "subset_db", "irm_db",
            "random_db", "selected")
    names = ("explained", "other", "2nd class", "subset", "IRM", "random", "selected")
    lines = [head, f"  {'case':>7} {'n':>4} " + " ".join(f"{c:>10}" for c in names)]
    for case, v in result["by_case"].items():
        cells = " ".join(f"{v[f'median_{c}']:>10.2f}" if v[f"median_{c}"] is not None
                         else f"{'-':>10}" for c in cols)
        lines.append(f"  {case:>7} {v['mixtures']:>4} {cells}")
    return "\n".join(lines)
