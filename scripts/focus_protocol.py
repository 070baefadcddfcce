"""Focus on mixtures, per fold and per interpreter variant (EVALUATION.md, Focus).

For each test fold: the protocol's classifier and dictionary (trained here unless they
exist; fold 1 can take the shipped bundle's, which were trained on folds 2-5), then each
variant's interpreter, then one evaluation per bundle: fidelity, FF, the field's metrics
on clean clips and on mixtures, and focus on N seeded 0 dB mixtures of test clips. Every
step is skipped when its output exists, so an interrupted run continues where it
stopped. The evaluation JSONs are copied to docs/results/focus/ (committed) and the exact
command of every step is printed.

    python scripts/focus_protocol.py --data ../shared/data/esc10 --work runs/focus-protocol \\
        --folds 1,2 --variants paper,focus --fold1-from-bundle resources/default.l2i
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.cli import main as l2i  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "focus"
PAPER_TAPS = "blocks.3,blocks.4,blocks.5"
FINE_TAPS = "blocks.1,blocks.3,blocks.4,blocks.5"
# name -> (arguments of `l2i train interpreter`, what it is); every variant uses linear
# masks, as the shipped bundle does, and 35 epochs from scratch unless it says otherwise
VARIANTS: dict[str, tuple[list[str], str]] = {
    "paper": (["--layers", PAPER_TAPS], "the paper's loss"),
    "focus-soft": (["--layers", PAPER_TAPS, "--focus", "5", "--focus-mixtures", "32",
                    "--focus-selection", "soft"],
                   "+ focus term, soft training mask"),
    "focus": (["--layers", PAPER_TAPS, "--focus", "5", "--focus-mixtures", "32"],
              "+ focus term (hard training mask)"),
    "focus-taps": (["--layers", FINE_TAPS, "--focus", "5", "--focus-mixtures", "32"],
                   "+ focus term, + block 2 tapped (4x finer time)"),
    "focus-taps-refine": (["--layers", FINE_TAPS, "--focus", "5", "--focus-mixtures", "32",
                           "--refine", "5"],
                          "+ focus term, + block 2 tapped, + 5 NMF refinement steps"),
    # {init}: the fold's starting interpreter (fold 1: the shipped one; else "paper")
    "focus-finetune": (["--init", "{init}", "--layers", PAPER_TAPS, "--focus", "5",
                        "--focus-mixtures", "32", "--refine", "5", "--lr", "3e-4",
                        "--epochs", "20"],
                       "the starting interpreter fine-tuned with the focus term and 5 "
                       "refinement steps, 20 epochs"),
    # {fold}: this fold's work folder (the variant above it must have run)
    "focus-taps-refine-fid": (["--init", "{fold}/focus-taps-refine.l2i", "--layers", FINE_TAPS,
                               "--focus", "5", "--focus-mixtures", "32", "--refine", "5",
                               "--fidelity-weight", "3", "--lr", "1e-4", "--epochs", "10"],
                              "focus-taps-refine fine-tuned 10 epochs with 3x the fidelity "
                              "weight"),
}


def run(args: list[str], log: list[str]) -> None:
    log.append("l2i " + shlex.join(args))
    print(log[-1], flush=True)
    rc = l2i(args)
    if rc != 0:
        sys.exit(f"step failed ({rc}): {log[-1]}")


def fold_inputs(a, fold: int, common: list[str], log: list[str]) -> tuple[str, str]:
    """(classifier, dictionary) of the fold: the protocol's, trained here if missing."""
    d = a.work / f"fold{fold}"
    dictionary = d / "dictionary.safetensors"
    if fold == 1 and a.fold1_from_bundle:
        if not dictionary.is_file():
            from engine.bundles.bundle import load_bundle
            from trainer.artifacts import save_dictionary

            b = load_bundle(a.fold1_from_bundle)
            save_dictionary(dictionary, b.W.numpy(), b.manifest["dictionary"])
        return str(a.fold1_from_bundle), str(dictionary)
    if not (d / "classifier" / "classifier.json").is_file():
        run(["train", "classifier", *common, "--out", str(d / "classifier"),
             "--epochs", "60", "--resume"], log)
    if not dictionary.is_file():
        run(["train", "dictionary", *common, "--out", str(dictionary), "--k", "100",
             "--iterations", "200"], log)
    return str(d / "classifier"), str(dictionary)


def evaluate(a, bundle: Path, report: Path, common: list[str], log: list[str]) -> None:
    if not report.is_file():
        run(["evaluate", "--bundle", str(bundle), *common, "--contaminate", "mixture",
             "--focus", str(a.mixtures), "--json", str(report)], log)
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report, RESULTS / report.name)


def table(reports: list[Path]) -> str:
    """The EVALUATION.md table: focus ("top" case medians, quartiles of the gain) beside
    fidelity and the field's metrics, one row per evaluation JSON."""
    import numpy as np

    head = ("| bundle | gain | IQR | >= 6 dB | other | 2nd class | subset ceiling | IRM | "
            "random | top-1 fidelity | FF_median(0.1) | mixture AI / AD / FF / Fid-In |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for path in reports:
        r = json.loads(path.read_text())
        f, q = r["focus"], r["quality"]["mixture"]
        gains = np.array([x["gain_db"] for x in f["rows"] if x["case"] == "top"])
        lo, hi = np.percentile(gains, [25, 75])
        lines.append(
            f"| {path.stem} | {f['median_gain_db']:+.2f} | {lo:+.1f} to {hi:+.1f} | "
            f"{100 * np.mean(gains >= 6):.0f} % | {f['median_gain_other_db']:+.2f} | "
            f"{f['by_case']['top']['median_second_gain_db']:+.2f} | "
            f"{f['ceiling_subset_db']:+.2f} | {f['ceiling_irm_db']:+.2f} | "
            f"{f['random_db']:+.2f} | {100 * r['fidelity']['top1']:.2f} % | "
            f"{r['faithfulness']['0.1']['median']:.3f} | {q['AI']:.1f} / {q['AD']:.2f} / "
            f"{q['FF']:.3f} / {q['Fid-In']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--folds", default="1,2,3,4,5")
    ap.add_argument("--variants", default="paper,focus")
    ap.add_argument("--mixtures", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=35, help="interpreter epochs")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--fold1-from-bundle", type=Path, default=None,
                    help="take fold 1's classifier and dictionary from this bundle (the "
                         "shipped one was trained on folds 2-5), and evaluate it too")
    ap.add_argument("--table", action="store_true",
                    help="only print the table of the JSONs in docs/results/focus")
    a = ap.parse_args()
    if a.table:
        print(table(sorted(RESULTS.glob("*.json"))))
        return
    names = [v for v in a.variants.split(",") if v]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    log: list[str] = []
    for fold in [int(f) for f in a.folds.split(",")]:
        d = a.work / f"fold{fold}"
        d.mkdir(parents=True, exist_ok=True)
        common = ["--data", str(a.data), "--test-fold", str(fold), "--device", a.device]
        if a.cache:
            common += ["--cache", str(a.cache)]
        classifier, dictionary = fold_inputs(a, fold, common, log)
        if fold == 1 and a.fold1_from_bundle:
            evaluate(a, a.fold1_from_bundle, d / "start-fold1.json", common, log)
        for name in names:
            bundle = d / f"{name}.l2i"
            if not bundle.is_file():
                init = str(a.fold1_from_bundle) if fold == 1 and a.fold1_from_bundle \
                    else str(d / "paper.l2i")
                extra = [x.replace("{init}", init).replace("{fold}", str(d))
                         for x in VARIANTS[name][0]]
                run(["train", "interpreter", *common, "--classifier", classifier,
                     "--dictionary", dictionary, "--mask-domain", "linear",
                     "--epochs", str(a.epochs), *extra, "--out", str(bundle),
                     "--resume"], log)
            evaluate(a, bundle, d / f"{name}-fold{fold}.json", common, log)
    (a.work / "commands.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
