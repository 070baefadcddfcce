"""Interpreter variants for the field's faithfulness metrics (EVALUATION.md), on fold 1.

Each variant starts from the same classifier and dictionary (fold 1 of the protocol:
trained on ESC-10 folds 2-5) and is evaluated on the held-out fold 1, clean and
contaminated (mixture, white noise, speech), with `l2i evaluate`:

- ``paper_log``: the protocol's fold-1 attention bundle (the paper's loss, masks on
  log(1+|S|)), shipped until the faithfulness fine-tuned one replaced it;
- ``paper_linear``: the same interpreter, its masks applied to |S| (with the paper's
  loss the mask domain plays no part in training, so no training is needed);
- ``faith_log`` / ``faith_linear``: that interpreter fine-tuned for a few epochs
  with the faithfulness terms (keep on the masked-in input, lose on the masked-out one,
  mask size), masks in the log or the linear domain.

Every step is skipped when its output exists. ``faith_linear`` won and is shipped
(``scripts/make_default_bundle.py --source runs/quality/f1_faith_linear.l2i``).

With ``--hidden`` / ``--temporal-stride`` the paper's-loss interpreter is first trained
here at that size (``paper_log``, 35 epochs on the fold's classifier and dictionary) and
the variants start from it: a cheaper Psi (BENCHMARKS.md) measured the same way.
``--variants`` picks which to build and evaluate, ``--prefix`` starts every file name
(``fast_`` for the wizard's fast size in EVALUATION.md).

    python scripts/quality_variants.py --data ../shared/data/esc10 \\
        --speech ../shared/data/fsdd --fold-dir runs/esc10/fold1 --work runs/quality
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from engine.bundles.bundle import load_bundle, save_bundle
from trainer.cli import main as l2i

FAITHFUL = {"faith_log": "log", "faith_linear": "linear"}


def run(args: list[str]) -> None:
    print("l2i " + shlex.join(args), flush=True)
    if (rc := l2i(args)) != 0:
        sys.exit(f"step failed ({rc})")


def with_linear_masks(source: Path, out: Path) -> None:
    bundle = load_bundle(source)
    cfg = dataclasses.replace(bundle.interpreter.config, mask_domain="linear")
    bundle.interpreter.config = cfg
    bundle.manifest["interpreter"] = cfg.to_dict()
    bundle.manifest["name"] = bundle.manifest["name"] + " (linear masks)"
    save_bundle(bundle, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--speech", type=Path, required=True)
    ap.add_argument("--fold-dir", type=Path, required=True,
                    help="the protocol's fold-1 folder (classifier/, dictionary.safetensors, "
                         "attention.l2i)")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hidden", type=int, default=None, help="Psi's channels (see above)")
    ap.add_argument("--temporal-stride", type=int, default=None)
    ap.add_argument("--variants", default="paper_log,paper_linear,faith_log,faith_linear")
    ap.add_argument("--prefix", default="", help="put before every file name written")
    a = ap.parse_args()
    wanted = set(a.variants.split(","))
    a.work.mkdir(parents=True, exist_ok=True)
    common = ["--data", str(a.data), "--test-fold", "1", "--device", a.device]
    fold = ["--classifier", str(a.fold_dir / "classifier"),
            "--dictionary", str(a.fold_dir / "dictionary.safetensors")]
    paper = a.fold_dir / "attention.l2i"
    if a.hidden is not None or a.temporal_stride is not None:
        paper = a.work / f"{a.prefix}f1_paper_log.l2i"
        size = [*(["--hidden", str(a.hidden)] if a.hidden else []),
                *(["--temporal-stride", str(a.temporal_stride)] if a.temporal_stride else [])]
        if not paper.is_file():
            run(["train", "interpreter", *common, *fold, *size, "--out", str(paper),
                 "--resume"])
    bundles = {"paper_log": paper, "paper_linear": a.work / f"{a.prefix}paper_linear.l2i"}
    if "paper_linear" in wanted and not bundles["paper_linear"].is_file():
        with_linear_masks(paper, bundles["paper_linear"])
    for name, domain in FAITHFUL.items():
        bundles[name] = out = a.work / f"{a.prefix}f1_{name}.l2i"
        if name not in wanted:
            continue
        if not out.is_file():
            run(["train", "interpreter", *common, *fold,
                 "--init", str(paper), "--faith-in", "1", "--faith-out", "1",
                 "--faith-size", "1", "--mask-domain", domain, "--lr", "1e-4",
                 "--epochs", str(a.epochs), "--out", str(out), "--resume"])
    for name, bundle in bundles.items():
        report = a.work / f"{a.prefix}{name}.json"
        if name in wanted and not report.is_file():
            run(["evaluate", "--bundle", str(bundle), *common, "--contaminate",
                 "mixture,white,speech", "--speech", str(a.speech), "--json", str(report)])


if __name__ == "__main__":
    main()
