"""Training and evaluating an interpreter on clips without labels (#27 item 5).

The interpreter imitates the classifier, so its training needs the classifier's outputs,
not labels: ``--unlabelled`` reads every audio file under the data folder (a flat folder,
any layout, or a labelled dataset whose classes are not the model's) and takes the
classes from the classifier. The folds are a seeded split (``--split-seed``, recorded
in the bundle's provenance, which ``l2i evaluate`` reuses). What does need labels is
refused in one line: training the built-in classifier, focus training and focus
evaluation (mixtures of clips of different classes). The evaluation scores fidelity and
faithfulness against the classifier's own decisions and reports no accuracy.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.runtime.errors import L2IError
from trainer.arg_types import seed
from trainer.layouts import UNLABELLED

if TYPE_CHECKING:  # the parser imports this module: numpy waits for the command
    from trainer.datasets import Dataset

DEFAULT_SPLIT_SEED = 0
# said after a refusal that labels would cause, on the command line
HINT = "add --unlabelled to use these clips without their labels"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unlabelled", action="store_true",
                   help="read no labels: every audio file under --data (any layout) is a "
                        "clip, the classes are the classifier's, the folds a seeded split")
    p.add_argument("--split-seed", type=seed, default=None,
                   help="with --unlabelled: the seed of the split into 5 folds (default "
                        f"{DEFAULT_SPLIT_SEED}; evaluate: the one the bundle was trained with)")


def layout_of(args: argparse.Namespace) -> str | None:
    """The layout the flags ask for (None: detected), checked."""
    unlabelled = getattr(args, "unlabelled", False)
    if getattr(args, "split_seed", None) is not None and not unlabelled:
        raise L2IError("--split-seed only applies with --unlabelled")
    if unlabelled and args.layout is not None:
        raise L2IError("give --layout or --unlabelled, not both")
    return UNLABELLED if unlabelled else args.layout


def data_seed(args: argparse.Namespace, recorded: int | None = None) -> int:
    """The seed of the data's folds: --split-seed (else ``recorded``, else the default)
    for unlabelled data; --seed otherwise, as for a labelled folder without folds."""
    if layout_of(args) != UNLABELLED:
        return args.seed
    if args.split_seed is not None:
        return args.split_seed
    return DEFAULT_SPLIT_SEED if recorded is None else recorded


def recorded_split_seed(provenance: dict) -> int | None:
    """The split seed a bundle (or work folder) was trained with, if unlabelled."""
    value = provenance.get("split_seed") if provenance.get("labels") == "not used" else None
    return int(value) if isinstance(value, int) and value >= 0 else None


def refuse(layout: str | None, *, trains_classifier: bool = False, focus: float = 0.0,
           focus_evaluation: int = 0) -> None:
    """What cannot be done without labels, said before any work."""
    if layout != UNLABELLED:
        return
    if trains_classifier:
        raise L2IError("training a classifier needs labelled data: with --unlabelled, "
                       "bring a trained one (--classifier FOLDER|BUNDLE or --model)")
    if focus > 0:
        raise L2IError("--focus mixes clips of different classes, which needs labelled "
                       "data: drop --focus or --unlabelled")
    if focus_evaluation:
        raise L2IError("evaluate --focus mixes clips of different classes, which needs "
                       "labelled data: drop --focus or --unlabelled")


def adopt_classes(ds: Dataset, classes: list[str], multilabel: bool) -> None:
    """Unlabelled data takes the classifier's classes, and whether they are exclusive
    (its labels stay unknown, -1)."""
    if ds.labelled:
        raise ValueError("labelled data keeps its own classes (trainer.plan.align_classes)")
    ds.classes, ds.multilabel = list(classes), bool(multilabel)


def provenance(ds: Dataset, split_seed: int) -> dict:
    """What a bundle records of unlabelled data, so that the split can be made again."""
    if ds.labelled:
        return {}
    return {"labels": "not used", "split_seed": int(split_seed),
            "split": ds.notes[0] if ds.notes else ""}
