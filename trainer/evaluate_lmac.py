"""``l2i evaluate --method lmac``: a bundle's L-MAC decoder measured by the same numbers
as its L2I interpreter (engine/explanation/quality.py: AI, AD, AG, FF, Fid-In, SPS,
COMP) on clean clips and on contaminated copies (trainer/contaminate.py).

The mask is the decoder's (no threshold); SPS and COMP are those of that mask. The
faithfulness median is FF = p_c - q_c over clips, beside a random baseline that
removes a mask with the same values at shuffled places. L2I's fidelity compares Theta
with the classifier; L-MAC has no Theta, and the JSON says so.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import Bundle, save_bundle
from engine.dsp.audio import load_audio
from engine.dsp.features import stft
from engine.explanation.lmac import LMACExplainer, classify, masked_waves
from engine.explanation.metrics import accuracy, median_or_nan
from engine.explanation.quality import METRICS, ClipTerms, clip_terms, summarise
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, report
from trainer import unlabelled
from trainer.checkpoint import atomic_write_json
from trainer.contaminate import Contaminator, other_class_picker
from trainer.datasets import Dataset
from trainer.features_cache import fix_length
from trainer.focus_lmac import evaluate_lmac_focus, format_lmac_focus
from trainer.pipeline import Prepared

NOT_APPLICABLE = "not applicable: L-MAC has no Theta"


def check_lmac(bundle: Bundle, args) -> None:
    """Refuse what L-MAC's evaluation cannot do, before any data is read."""
    if bundle.lmac is None:
        raise L2IError(f"{args.bundle} has no L-MAC decoder: train one with "
                       "`l2i train lmac --into BUNDLE` (or evaluate --method l2i)")
    if bundle.multilabel:
        raise L2IError("L-MAC explains single-label classifiers only")


def run_evaluation(args: argparse.Namespace, bundle: Bundle, p: Prepared,
                   rows: Sequence[int], kinds: Sequence[str], device: str,
                   task: TaskState | None) -> int:
    """``l2i evaluate --method lmac`` once the data is prepared: the metrics (unless
    --focus-only), focus (with --focus), the JSON and the bundle's ``lmac.metrics``."""
    result: dict = {}
    if not args.focus_only:
        result = evaluate_lmac(bundle, p.dataset, rows, device, args.seed, task, kinds,
                               args.speech)
        print(format_lmac(result))
    result["evaluated_on"] = "test fold" if args.test_fold is not None else "training clips"
    result |= unlabelled.provenance(p.dataset, p.seed)
    if args.focus:
        with LMACExplainer(bundle, device) as ex:
            result["focus"] = evaluate_lmac_focus(ex, p.dataset, rows, args.focus, args.seed,
                                                  task)
        print(format_lmac_focus(result["focus"]))
    if args.json:
        atomic_write_json(args.json, result)
    if args.into_bundle:
        if args.focus_only:
            result = bundle.manifest["lmac"].get("metrics", {}) | {"focus": result["focus"]}
        bundle.manifest["lmac"]["metrics"] = result
        save_bundle(bundle, args.bundle)
        print(f"L-MAC metrics stored in {args.bundle}")
    return 0


def evaluate_lmac(bundle: Bundle, ds: Dataset, rows: Sequence[int], device: str = "cpu",
                  seed: int = 0, task: TaskState | None = None,
                  contaminate: Sequence[str] = (), speech_dir: Path | None = None) -> dict:
    cfg = bundle.frontend
    n = int(round(float(bundle.manifest.get("clip_seconds", 5.0)) * cfg.sample_rate))

    def load(row: int) -> np.ndarray:
        return fix_length(load_audio(ds.paths[row], cfg.sample_rate), n)

    keys = ds.labels if ds.labelled else np.arange(len(ds))
    picker = other_class_picker(load, keys, rows)
    contaminators = [Contaminator(kind, cfg.sample_rate, seed, picker, speech_dir)
                     for kind in contaminate]
    quality: dict[str, list[ClipTerms]] = {"clean": []} | {k: [] for k in contaminate}
    rng = torch.Generator().manual_seed(seed)
    ff, ff_rand, mean_mask, probs, labels = [], [], [], [], []
    skipped = 0
    with LMACExplainer(bundle, device) as ex:
        for i, row in enumerate(rows):
            try:
                wave = load(row)
            except Exception:  # unreadable clips are counted, not fatal
                skipped += 1
                continue
            copies = [(cont.kind, c) for cont in contaminators
                      for c in cont.copies(wave, keys[row])]
            results = ex.explain_batch(np.stack([wave] + [c for _, c in copies]))
            clean = results[0]
            c = clean.predicted
            probs.append(clean.probabilities)
            labels.append(ds.labels[row])
            ff.append(float(clean.probabilities[c] - clean.probabilities_out[c]))
            ff_rand.append(float(clean.probabilities[c]
                                 - _shuffled_out(ex, wave, clean.mask, rng)[c]))
            mean_mask.append(float(clean.mask.mean()))
            for (kind, _), res in zip([("clean", None)] + copies, results):
                quality[kind].append(clip_terms(res.probabilities, res.probabilities_in,
                                                res.probabilities_out, res.mask))
            report(task, "evaluation (L-MAC)", i + 1, len(rows))
    if not probs:
        raise L2IError("no readable clips to evaluate")
    scored: dict = {"labels": "not used"} if not ds.labelled else \
        {"classifier": {"accuracy": accuracy(np.stack(probs), np.stack(labels))}}
    return {
        "method": "lmac",
        "task": "multiclass",
        "clips": len(probs),
        "skipped": skipped,
        **scored,
        "fidelity": NOT_APPLICABLE,
        "faithfulness": {"mask": {"median": median_or_nan(ff),
                                  "random_median": median_or_nan(ff_rand),
                                  "mean_mask": float(np.mean(mean_mask))}},
        "quality": {"mask": "the decoder's, no threshold"}
        | {kind: summarise(terms) for kind, terms in quality.items()},
    }


@torch.no_grad()
def _shuffled_out(ex: LMACExplainer, wave: np.ndarray, mask: np.ndarray,
                  rng: torch.Generator) -> np.ndarray:
    """The classifier's probabilities on the clip less a mask of the same values at
    random places (the random baseline of FF)."""
    M = torch.from_numpy(mask).flatten()
    M = M[torch.randperm(M.numel(), generator=rng)].reshape(mask.shape).to(ex.device)
    S = stft(torch.from_numpy(np.asarray(wave, dtype=np.float32)).to(ex.device), ex.cfg)
    _, out = masked_waves(S, M, ex.cfg, len(wave))
    logits = classify(ex.bundle.classifier, ex.bundle.classifier_input, out[None], ex.cfg)
    return torch.softmax(logits.float(), -1)[0].cpu().numpy()


def format_lmac(result: dict) -> str:
    lines = [f"L-MAC, {result['task']}: {result['clips']} clips"
             + (f" ({result['skipped']} unreadable, skipped)" if result.get("skipped") else "")]
    lines += [f"  classifier {k}: {v:.4f}" for k, v in result.get("classifier", {}).items()]
    lines.append(f"  fidelity: {result['fidelity']}")
    f = result["faithfulness"]["mask"]
    lines.append(f"  FF median {f['median']:.4f} (random mask places {f['random_median']:.4f});"
                 f" mean mask {f['mean_mask']:.3f}")
    lines.append("  " + " " * 10 + "  " + "  ".join(f"{m:>7}" for m in METRICS))
    for kind, values in result["quality"].items():
        if kind != "mask":
            lines.append(f"  {kind:>10}: " + "  ".join(f"{values[m]:>7.3f}" for m in METRICS))
    return "\n".join(lines)
