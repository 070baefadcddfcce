"""A training run's work folder: every file name in it, said once, and the rules for
resuming from it. ``l2i train all`` and the desktop wizard both run
:func:`trainer.plan.run_plan`, so either can resume a folder by the same rules.

Only what this run made is ever reused: a fresh (not resumed) start deletes the
products of an earlier run in the folder, a resumed run must have the settings it was
started with (``plan.json``, checked by trainer.plan), and the finished bundle, which
may lie outside the folder (``l2i train all --out``), counts as this run's only when
its interpreter history is the one in this folder's checkpoint.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.bundles.bundle import Bundle, load_bundle, read_manifest
from engine.runtime.errors import L2IError
from trainer.artifacts import CLASSIFIER_JSON, CLASSIFIER_WEIGHTS
from trainer.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

PLAN = "plan.json"
CLASSIFIER = "classifier"  # a folder: trainer.artifacts' two files and the checkpoint
CLASSIFIER_CHECKPOINT = "checkpoint.pt"  # inside any classifier folder being trained
DICTIONARY = "dictionary.safetensors"
INTERPRETER_CHECKPOINT = "interpreter.pt"
LMAC_CHECKPOINT = "lmac.pt"  # the L-MAC decoder's (l2i train lmac, train all --with-lmac)
EVALUATION = "evaluation.json"
BUNDLE = "bundle"  # the bundle's place when the run names no other


def default_work(out: Path) -> Path:
    """The work folder of ``l2i train all`` and ``train interpreter`` without --work."""
    return out.with_name(out.name + ".work")


@dataclass(frozen=True)
class WorkFiles:
    root: Path
    out: Path | None = None  # where the bundle goes; None: into the work folder

    @property
    def plan(self) -> Path:
        return self.root / PLAN

    @property
    def classifier(self) -> Path:
        return self.root / CLASSIFIER

    @property
    def dictionary(self) -> Path:
        return self.root / DICTIONARY

    @property
    def interpreter_checkpoint(self) -> Path:
        return self.root / INTERPRETER_CHECKPOINT

    @property
    def lmac_checkpoint(self) -> Path:
        return self.root / LMAC_CHECKPOINT

    @property
    def evaluation(self) -> Path:
        return self.root / EVALUATION

    @property
    def bundle(self) -> Path:
        return self.out if self.out is not None else self.root / BUNDLE

    def clear(self) -> None:
        """Delete an earlier run's products so that a later resume cannot take them for
        this run's. Only the files this module names go: a classifier folder keeps
        anything else in it, and a bundle outside the work folder (the user's --out)
        stays until this run replaces it."""
        for path in (self.dictionary, self.interpreter_checkpoint, self.lmac_checkpoint,
                     self.evaluation):
            path.unlink(missing_ok=True)
        for name in (CLASSIFIER_JSON, CLASSIFIER_WEIGHTS, CLASSIFIER_CHECKPOINT):
            (self.classifier / name).unlink(missing_ok=True)
        if self.classifier.is_dir() and not any(self.classifier.iterdir()):
            self.classifier.rmdir()
        if self.out is None:
            if self.bundle.is_dir():
                shutil.rmtree(self.bundle)
            else:
                self.bundle.unlink(missing_ok=True)

    def read_plan(self) -> dict | None:
        """The plan the run in this folder was started with; None when there is none."""
        if not self.plan.is_file():
            return None
        try:
            stored = json.loads(self.plan.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise L2IError(f"{self.plan} cannot be read ({exc}): start a new run instead "
                           "of resuming") from None
        if not isinstance(stored, dict):
            raise L2IError(f"{self.plan} is not a training plan: start a new run instead "
                           "of resuming")
        return stored

    def finished_classifier(self) -> bool:
        return (self.classifier / CLASSIFIER_JSON).is_file()

    def finished_dictionary(self) -> bool:
        return self.dictionary.is_file()

    def finished_bundle(self, trust_code: bool) -> Bundle | None:
        """The bundle, when this run's interpreter finished and wrote it. A bundle at
        the same place from anything else (an earlier run, another command) has
        another training history, and is then made again from the checkpoint."""
        state = load_checkpoint(self.interpreter_checkpoint)
        if state is None or not self.bundle.exists():
            return None
        try:
            manifest = read_manifest(self.bundle)
        except L2IError as exc:
            log.info("not reusing %s: %s", self.bundle, exc)
            return None
        history = manifest.get("provenance", {}).get("interpreter", {}).get("history")
        if history != state.get("history"):
            log.info("not reusing %s: another run's interpreter", self.bundle)
            return None
        return load_bundle(self.bundle, trust_code=trust_code)

    def finished_metrics(self, bundle: Bundle) -> dict | None:
        """The evaluation, when it was finished and stored in this very bundle."""
        if not self.evaluation.is_file():
            return None
        try:
            metrics = json.loads(self.evaluation.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        stored = bundle.manifest.get("metrics")
        return metrics if stored and metrics == stored else None
