"""The paper's evaluation of a bundle on held-out clips: accuracy, fidelity, faithfulness,
and the field's later metrics (AI, AD, AG, FF, Fid-In, SPS, COMP; engine/explanation/quality.py) on
the clean clips and on contaminated copies (trainer/contaminate.py).

Only the accuracy reads labels: fidelity compares the interpreter with the classifier,
and faithfulness explains the classifier's own decision. On unlabelled data
(trainer/unlabelled.py) the accuracy is left out and the result says labels were not
used; a mixture's other clip is then any other clip, not one of another class.

Faithfulness removes the selected components (resynthesising the residual with the
input's phase), runs the classifier on that audio through its normal front-end, and
measures the drop of the explained class's probability. The random baseline removes
as many randomly chosen components from the same clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import Bundle
from engine.dsp.audio import load_audio
from engine.dsp.features import resynthesise
from engine.explanation.explain import Explainer
from engine.explanation.masks import select, split
from engine.explanation.metrics import (
    accuracy,
    auprc,
    faithfulness,
    median_or_nan,
    multilabel_fidelity,
    topk_fidelity,
)
from engine.explanation.quality import METRICS, ClipTerms, explain_terms, summarise
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, report
from trainer.contaminate import Contaminator, other_class_picker
from trainer.datasets import Dataset
from trainer.features_cache import fix_length

DEFAULT_TAUS = (0.1, 0.3, 0.5, 0.7, 0.9)
QUALITY_TAU = 0.1  # the threshold at which AI, AD, AG, FF, Fid-In, SPS, COMP are measured

def evaluate_bundle(bundle: Bundle, ds: Dataset, rows: Sequence[int],
                    taus: Sequence[float] = DEFAULT_TAUS, device: str = "cpu",
                    seed: int = 0, task: TaskState | None = None,
                    quality_tau: float = QUALITY_TAU, contaminate: Sequence[str] = (),
                    speech_dir: Path | None = None) -> dict:

    with Explainer(bundle, device) as ex:
        return _evaluate(ex, ds, rows, taus, seed, task, quality_tau, contaminate,
                         speech_dir)


def _evaluate(ex: Explainer, ds: Dataset, rows: Sequence[int], taus: Sequence[float],
              seed: int, task: TaskState | None, quality_tau: float,
              contaminate: Sequence[str], speech_dir: Path | None) -> dict:
    bundle = ex.bundle
    cfg = bundle.frontend
    n = int(round(float(bundle.manifest.get("clip_seconds", 5.0)) * cfg.sample_rate))

    def load(row: int) -> np.ndarray:
        return fix_length(load_audio(ds.paths[row], cfg.sample_rate), n)

    # without labels every clip is its own "class": a mixture takes any other clip
    keys = ds.labels if ds.labelled else np.arange(len(ds))
    picker = other_class_picker(load, keys, rows)
    contaminators = [Contaminator(kind, cfg.sample_rate, seed, picker, speech_dir)
                     for kind in contaminate]
    quality: dict[str, list[ClipTerms]] = {"clean": []} | {k: [] for k in contaminate}
    rng = np.random.default_rng(seed)
    p_clf, p_int, labels = [], [], []
    ff = {t: [] for t in taus}
    ff_rand = {t: [] for t in taus}
    n_sel = {t: [] for t in taus}
    skipped = 0
    for i, row in enumerate(rows):
        try:
            wave = load(row)
        except Exception:  # unreadable clips are counted, not fatal
            skipped += 1
            continue
        a = ex.analyse(wave)
        p_clf.append(a.probabilities)
        p_int.append(a.interpreter_probabilities)
        labels.append(ds.labels[row])
        c = a.predicted
        r = ex.relevance(a, c)
        spectra = []
        for t in taus:
            chosen = select(r, t)
            n_sel[t].append(len(chosen))
            rand = rng.choice(bundle.k, size=len(chosen), replace=False).tolist()
            spectra.append(split(a.log_mag, ex.bundle.W, a.H, chosen, ex.mask_domain)[1])
            spectra.append(split(a.log_mag, ex.bundle.W, a.H, rand, ex.mask_domain)[1])
        with torch.no_grad():
            waves = resynthesise(torch.stack(spectra), a.phase, cfg, a.n_samples)
            probs = ex.classify_waves(waves)[:, c].cpu().numpy()
        for j, t in enumerate(taus):
            ff[t].append(float(faithfulness(a.probabilities[c], probs[2 * j])))
            ff_rand[t].append(float(faithfulness(a.probabilities[c], probs[2 * j + 1])))
        quality["clean"].append(explain_terms(ex, a, quality_tau))
        for cont in contaminators:
            for copy in cont.copies(wave, keys[row]):
                quality[cont.kind].append(explain_terms(ex, ex.analyse(copy), quality_tau))
        report(task, "evaluation", i + 1, len(rows))
    if not p_clf:
        raise L2IError("no readable clips to evaluate")
    P, Q, Y = np.stack(p_clf), np.stack(p_int), np.stack(labels)
    fidelity = multilabel_fidelity(P, Q) if bundle.multilabel else topk_fidelity(P, Q)
    if not ds.labelled:  # nothing to score the classifier by; what it decided instead
        scored: dict = {"labels": "not used", "classifier_decisions": _decisions(P, bundle)}
    elif bundle.multilabel:
        scored = {"classifier": {"macro_auprc": auprc(Y, P)["macro_auprc"]}}
    else:
        scored = {"classifier": {"accuracy": accuracy(P, Y)}}
    return {
        "task": "multilabel" if bundle.multilabel else "multiclass",
        "clips": len(p_clf),
        "skipped": skipped,
        **scored,
        "fidelity": fidelity,
        "faithfulness": {
            f"{t:g}": {"median": median_or_nan(ff[t]),
                       "random_median": median_or_nan(ff_rand[t]),
                       "mean_selected": float(np.mean(n_sel[t]))}
            for t in taus
        },
        "quality": {"tau": float(quality_tau)}
        | {kind: summarise(terms) for kind, terms in quality.items()},
    }

def _decisions(P: np.ndarray, bundle: Bundle) -> dict[str, int]:
    """How many clips the classifier gave each class (top-1; above 0.5 when multi-label):
    with no labels, what its decisions, and so the fidelity, are measured against."""
    counts = (P > 0.5).sum(axis=0) if bundle.multilabel else \
        np.bincount(P.argmax(axis=1), minlength=len(bundle.classes))
    return {c: int(n) for c, n in zip(bundle.classes, counts) if n}


def format_table(result: dict) -> str:
    lines = [f"{result['task']}: {result['clips']} clips"
             + (f" ({result['skipped']} unreadable, skipped)" if result.get("skipped") else "")]
    if result.get("labels") == "not used":
        decided = ", ".join(f"{c} {n}" for c, n in result.get("classifier_decisions", {}
                                                                ).items())
        lines.append(f"  no labels: scored against the classifier's decisions ({decided})")
    lines += [f"  classifier {k}: {v:.4f}" for k, v in result.get("classifier", {}).items()]
    lines += [f"  fidelity {k}: {v:.4f}" for k, v in result["fidelity"].items()]
    lines.append(f"  {'tau':>5}  {'FF median':>10}  {'random':>10}  {'selected':>8}")
    for t, v in result["faithfulness"].items():
        lines.append(f"  {t:>5}  {v['median']:>10.4f}  {v['random_median']:>10.4f}  "
                     f"{v['mean_selected']:>8.1f}")
    quality = result.get("quality")
    if quality:
        lines.append(f"  at tau {quality['tau']:g}: " + "  ".join(f"{m:>7}" for m in METRICS))
        for kind, values in quality.items():
            if kind != "tau":
                lines.append(f"  {kind:>10}: " + "  ".join(f"{values[m]:>7.3f}"
                                                          for m in METRICS))
    return "\n".join(lines)
