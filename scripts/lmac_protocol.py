"""L-MAC trained and measured on the protocol's classifiers, fold by fold (issue #21).

For each test fold: the fold's bundle (fold 1: the shipped one, trained on folds 2-5, or
--fold1-from-bundle; other folds: FROM/foldN/paper.l2i of scripts/focus_protocol.py's
work folder), an L-MAC decoder trained for its classifier on the other folds (model
selection on the trainer's validation split), then `l2i evaluate --method lmac` on the
held-out fold, clean and contaminated. Every step is skipped when its output exists and
training resumes from its checkpoint, so an interrupted run continues where it stopped.
The evaluation JSONs are copied to docs/results/lmac/ and every command is printed.

    nice python scripts/lmac_protocol.py --data ../shared/data/esc10 --work runs/lmac \\
        --folds 1 --fold1-from-bundle resources/default.l2i --from runs/focus-protocol
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.cli import main as l2i  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "lmac"


def run(args: list[str], log: list[str]) -> None:
    log.append("l2i " + shlex.join(args))
    print(log[-1], flush=True)
    start = time.monotonic()
    rc = l2i(args)
    if rc != 0:
        sys.exit(f"step failed ({rc}): {log[-1]}")
    print(f"  ({time.monotonic() - start:.0f} s)", flush=True)


def fold_bundle(a, fold: int) -> Path:
    if fold == 1 and a.fold1_from_bundle:
        return a.fold1_from_bundle
    if a.source is None:
        sys.exit(f"fold {fold}: give --from WORK (scripts/focus_protocol.py's work folder, "
                 "whose foldN/paper.l2i holds the fold's classifier)")
    bundle = a.source / f"fold{fold}" / "paper.l2i"
    if not bundle.exists():
        sys.exit(f"fold {fold}: {bundle} is missing; run scripts/focus_protocol.py "
                 f"--folds {fold} --variants paper first")
    return bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--folds", default="1")
    ap.add_argument("--epochs", type=int, default=10, help="L-MAC epochs")
    ap.add_argument("--contaminate", default="mixture,white",
                    help="contaminations evaluated (add speech with --speech)")
    ap.add_argument("--speech", type=Path, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--fold1-from-bundle", type=Path, default=ROOT / "resources" / "default.l2i")
    ap.add_argument("--from", dest="source", type=Path, default=None,
                    help="focus_protocol.py's work folder, for folds other than 1")
    a = ap.parse_args()
    log: list[str] = []
    for fold in [int(f) for f in a.folds.split(",") if f]:
        d = a.work / f"fold{fold}"
        d.mkdir(parents=True, exist_ok=True)
        common = ["--data", str(a.data), "--test-fold", str(fold), "--device", a.device]
        if a.cache:
            common += ["--cache", str(a.cache)]
        bundle = d / "lmac.l2i"
        if not bundle.is_file():
            run(["train", "lmac", *common, "--classifier", str(fold_bundle(a, fold)),
                 "--epochs", str(a.epochs), "--out", str(bundle), "--resume"], log)
        report = d / f"lmac-fold{fold}.json"
        if not report.is_file():
            extra = ["--speech", str(a.speech)] if a.speech else []
            run(["evaluate", "--bundle", str(bundle), *common, "--method", "lmac",
                 "--contaminate", a.contaminate, *extra, "--json", str(report)], log)
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, RESULTS / report.name)
    (a.work / "commands.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
