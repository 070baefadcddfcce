"""The paper's protocol on a folded dataset: for each test fold, train the classifier,
the dictionary and an attention and a max-pooling interpreter on the other folds, then
evaluate on the held-out fold. Every step is skipped when its output exists, so an
interrupted run continues where it stopped. Writes WORK/summary.json.

    python scripts/evaluate_protocol.py --data ../shared/data/esc10 --work runs/esc10
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from trainer.cli import main as l2i


def run(args: list[str], log: list[str]) -> None:
    log.append("l2i " + shlex.join(args))
    print(log[-1], flush=True)
    rc = l2i(args)
    if rc != 0:
        sys.exit(f"step failed ({rc}): {log[-1]}")


def fold_steps(a, fold: int, log: list[str]) -> dict:
    d = a.work / f"fold{fold}"
    common = ["--data", str(a.data), "--test-fold", str(fold), "--device", a.device]
    if a.cache:
        common += ["--cache", str(a.cache)]
    if a.inner_folds_of is not None:
        common += ["--inner-folds-of", str(a.inner_folds_of)]
    if a.seed:
        common += ["--seed", str(a.seed)]
    if not (d / "classifier" / "classifier.json").is_file():
        run(["train", "classifier", *common, "--out", str(d / "classifier"),
             "--epochs", str(a.epochs), "--resume",
             *(["--val-by-recording"] if a.val_by_recording else [])], log)
    if not (d / "dictionary.safetensors").is_file():
        run(["train", "dictionary", *common, "--out", str(d / "dictionary.safetensors"),
             "--k", str(a.k), "--iterations", str(a.iterations)], log)
    results = {}
    for pooling in a.poolings:
        bundle = d / f"{pooling}.l2i"
        if not bundle.is_file():
            run(["train", "interpreter", *common, "--classifier", str(d / "classifier"),
                 "--dictionary", str(d / "dictionary.safetensors"), "--pooling", pooling,
                 "--epochs", str(a.iepochs), "--out", str(bundle), "--resume"], log)
        report = d / f"{pooling}.json"
        if not report.is_file():
            run(["evaluate", "--bundle", str(bundle), *common, "--json", str(report)], log)
        results[pooling] = json.loads(report.read_text())
    return results


def summarise(per_fold: dict[int, dict]) -> dict:
    """Mean and standard deviation over folds of every number in the reports."""
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out |= flat(v, f"{prefix}{k}.")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[prefix + k] = float(v)
        return out
    rows = [flat(r) for r in per_fold.values()]
    keys = sorted(set().union(*rows)) if rows else []
    return {k: {"mean": float(np.mean([r[k] for r in rows if k in r])),
                "std": float(np.std([r[k] for r in rows if k in r]))} for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--folds", default="1,2,3,4,5")
    ap.add_argument("--poolings", default="attention,max")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--iepochs", type=int, default=35)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0, help="passed to every step")
    ap.add_argument("--val-by-recording", action="store_true",
                    help="the classifier's validation split holds out whole recordings")
    ap.add_argument("--inner-folds-of", type=int, default=None,
                    help="e.g. 4 for esc50-subset: its complete fold, split into 5")
    a = ap.parse_args()
    a.poolings = a.poolings.split(",")
    a.work.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    per_fold = {}
    for fold in [int(f) for f in a.folds.split(",")]:
        per_fold[fold] = fold_steps(a, fold, log)
    summary = {"folds": per_fold, "commands": log,
               "summary": {p: summarise({f: r[p] for f, r in per_fold.items()})
                           for p in a.poolings}}
    (a.work / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"-> {a.work / 'summary.json'}")


if __name__ == "__main__":
    main()
