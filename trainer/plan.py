"""A whole training run as one plain function over a serialisable plan: what the desktop
wizard runs in its worker and what ``l2i train all`` runs (its flags make the same
plan). Every product lands in the plan's work folder (trainer.work_folder names them),
so a cancelled or crashed run resumes from its checkpoints: finished stages are read
back, the unfinished one continues from its last epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import Bundle, save_bundle
from engine.dsp import nmf
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import VGGClassifier, VGGConfig
from engine.models.hf_classifier import HF_ARCHITECTURE, load_hf_folder
from engine.models.user_classifier import (
    ARCHITECTURE,
    ClassifierCode,
    UntrustedCodeError,
    load_user_classifier,
)
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, report
from trainer import distributed as D
from trainer import pipeline, unlabelled
from trainer.artifacts import ClassifierArtifact, load_classifier, load_dictionary
from trainer.checkpoint import atomic_write_json, seed_everything
from trainer.datasets import UNLABELLED, load_dataset
from trainer.model_check import check_on_data
from trainer.train_classifier import ClassifierTrainConfig
from trainer.train_interpreter import InterpreterTrainConfig
from trainer.train_lmac import LMACTrainConfig, lmac_stage
from trainer.work_folder import WorkFiles

log = logging.getLogger(__name__)
# settings that may change between a run and its resumption (the work folder may move)
_FREE_TO_CHANGE = ("device", "cache", "work")


@dataclass
class ClassifierChoice:
    # "builtin" (train the CNN), "bundle" (reuse), "custom" (bring code), "hf" (bring a
    # Hugging Face folder)
    kind: str = "builtin"
    widths: list[int] = field(default_factory=lambda: list(VGGConfig().widths))
    epochs: int = 60
    val_by_recording: bool = False  # builtin: no recording on both sides of validation
    bundle: str | None = None
    code_file: str | None = None  # custom: a Python file ...
    function: str = "build_model"  # ... and the function in it
    entry_point: str | None = None  # custom: or package.module:function
    weights: str | None = None  # custom: safetensors or a torch.save'd state dict
    input: str = "log_mel"  # custom: "log_mel" or "waveform"
    frontend: dict | None = None  # custom: sample rate and mel settings; bundle: its own
    classes: list[str] | None = None  # custom: in the model's output order; None: the data's
    trust_code: bool = False  # the user agreed to run the code (custom, or a bundle's)
    hf_folder: str | None = None  # hf: a save_pretrained folder

    def code(self) -> ClassifierCode:
        if self.code_file:
            return ClassifierCode.from_file(self.code_file, self.function)
        if self.entry_point:
            return ClassifierCode(entry_point=self.entry_point)
        raise L2IError("name the classifier's code: a Python file or package.module:function")


@dataclass
class TrainingPlan:
    data: str
    work: str
    layout: str | None = None
    test_fold: int | None = 1
    clip_seconds: float = 5.0
    classifier: ClassifierChoice = field(default_factory=ClassifierChoice)
    layers: list[str] | None = None  # None: the built-in CNN's last three blocks
    nmf: dict = field(default_factory=lambda: nmf.NMFConfig().to_dict())
    dictionary_file: str | None = None  # reuse a learned dictionary
    max_frames: int | None = None  # the dictionary learns from at most this many frames
    interpreter: dict = field(default_factory=lambda: InterpreterTrainConfig().to_dict())
    device: str = "cpu"
    cache: str | None = None
    name: str = "interpreter"
    seed: int = 0
    inner_folds_of: int | None = None  # use this fold alone, split into inner folds
    split_seed: int = 0  # layout "unlabelled": the seed of its folds (seed: the rest)
    out: str | None = None  # the bundle (folder or .l2i); None: WORK/bundle
    lmac: dict | None = None  # an L-MAC decoder too (trainer.train_lmac.LMACTrainConfig)
    lmac_layers: list[str] | None = None  # what it taps; None: the interpreter's layers

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainingPlan:
        d = dict(d)
        d["classifier"] = ClassifierChoice(**d.get("classifier", {}))
        return cls(**d)

    def files(self) -> WorkFiles:
        return WorkFiles(Path(self.work), Path(self.out) if self.out else None)

    def data_seed(self) -> int:
        """The seed of the data's folds where they are a seeded split."""
        return self.split_seed if self.layout == UNLABELLED else self.seed

    def frontend(self) -> FrontEndConfig:
        c = self.classifier
        if c.kind in ("custom", "bundle", "hf") and c.frontend:
            return FrontEndConfig.from_dict(c.frontend)
        return FrontEndConfig()


@dataclass
class PlanResult:
    bundle_path: Path
    metrics: dict
    bundle: Bundle


def _comparable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in _FREE_TO_CHANGE}


def _check_unchanged(files: WorkFiles, plan: TrainingPlan) -> None:
    """A resumed run must have the settings it was started with."""
    stored = files.read_plan()
    if stored is None:
        return
    try:  # through the dataclass: settings added since then compare as their defaults
        before = _comparable(TrainingPlan.from_dict(stored).to_dict())
    except TypeError:
        raise L2IError(f"{files.plan} was written by another version: start a new run "
                       "instead of resuming") from None
    now = _comparable(plan.to_dict())
    if before != now:
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        raise L2IError(f"the settings changed since this run stopped ({', '.join(changed)}):"
                       " start a new run instead of resuming")


def _start(files: WorkFiles, plan: TrainingPlan, resume: bool, ctx: D.Context) -> None:
    """Record the plan; every rank checks it, rank 0 alone writes."""
    if resume:
        _check_unchanged(files, plan)
    if ctx.is_main:
        if not resume:  # products of an older run in the same folder must not be reused
            files.clear()
        files.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(files.plan, plan.to_dict())
    D.barrier(ctx)


def check_class_names(classes: list[str], data_classes: list[str]) -> None:
    """The classifier's classes must be the data's, in any order."""
    if sorted(classes) != sorted(data_classes):
        missing = sorted(set(data_classes) - set(classes))
        extra = sorted(set(classes) - set(data_classes))
        raise L2IError("the classifier's classes are not the data's: "
                       + "; ".join(s for s in (
                           f"not in the classifier: {', '.join(missing[:5])}" if missing else "",
                           f"not in the data: {', '.join(extra[:5])}" if extra else "",
                           unlabelled.HINT) if s))


def align_classes(p: pipeline.Prepared, classes: list[str], multilabel: bool = False
                  ) -> None:
    """Relabel the data in the classifier's class order (same names, any order); data
    without labels takes the classifier's classes (``multilabel``: its kind) as they are."""
    ds = p.dataset
    if not ds.labelled:
        unlabelled.adopt_classes(ds, classes, multilabel)
        return
    if list(classes) == list(ds.classes):
        return
    check_class_names(classes, ds.classes)
    order = [ds.classes.index(c) for c in classes]  # new index i <- old index order[i]
    if ds.multilabel:
        ds.labels = ds.labels[:, order]
    else:
        ds.labels = np.argsort(order)[ds.labels]
    ds.classes = list(classes)


def custom_artifact(c: ClassifierChoice, data_classes: list[str] | None, multilabel: bool,
                    frontend: FrontEndConfig, clip_seconds: float,
                    task: TaskState | None = None) -> ClassifierArtifact:
    """The user's classifier, built from their code and weights (once they trust it).
    ``data_classes`` None: the data has no labels, so the classes must be named."""
    code = c.code()
    if not c.trust_code:
        subject = f"{code.describe()} is Python code that runs when the classifier is built"
        raise UntrustedCodeError(f"{code.describe()} is Python code: it runs only after you "
                                 "confirm that you trust it", subject)
    if not c.weights:
        raise L2IError("choose the classifier's weights file")
    if data_classes is None and not c.classes:
        raise L2IError("the clips have no labels (--unlabelled), so name the model's classes"
                       " in its output order: --classes FILE|a,b,c")
    classes = list(c.classes or data_classes)
    if data_classes is not None:
        check_class_names(classes, data_classes)
    report(task, "loading classifier", 0, 1)
    model = load_user_classifier(code, c.weights, len(classes))
    report(task, "loading classifier", 1, 1)
    return ClassifierArtifact(model, ARCHITECTURE, {}, classes, multilabel, frontend,
                              clip_seconds, {"weights": str(c.weights), "code": code.describe()},
                              c.input, code)


def hf_artifact(c: ClassifierChoice, data_classes: list[str] | None, multilabel: bool,
                frontend: FrontEndConfig, clip_seconds: float,
                task: TaskState | None = None) -> ClassifierArtifact:
    """A Hugging Face folder's classifier (no code of its own: no trust asked); its
    classes are its id2label's (or --classes). ``data_classes`` None: unlabelled data."""
    classes = list(c.classes or data_classes or [])
    if data_classes is not None:
        check_class_names(classes, data_classes)
    report(task, "loading classifier", 0, 1)
    model = load_hf_folder(c.hf_folder)
    report(task, "loading classifier", 1, 1)
    return ClassifierArtifact(model, HF_ARCHITECTURE, model.config_dict(), classes,
                              multilabel, frontend, clip_seconds,
                              {"hf_folder": str(c.hf_folder)}, "waveform")


def brought_artifact(c: ClassifierChoice, data_classes: list[str] | None, multilabel: bool,
                     frontend: FrontEndConfig, clip_seconds: float,
                     task: TaskState | None = None) -> ClassifierArtifact:
    """The classifier a user brings: their code (custom) or a Hugging Face folder."""
    make = hf_artifact if c.kind == "hf" else custom_artifact
    return make(c, data_classes, multilabel, frontend, clip_seconds, task)


@dataclass
class Checked:
    """What the check before spending found: the classifier when it exists before any
    training (custom, bundle), and the layers to tap (None: the built-in CNN's own)."""

    artifact: ClassifierArtifact | None
    layers: list[str] | None


def check_before_spending(plan: TrainingPlan, task: TaskState | None = None) -> Checked:
    """Build the classifier and run it on a real clip of the data, before any feature or
    dictionary work: its output, its classes and the layers are checked in one line."""
    c = plan.classifier
    unlabelled.refuse(plan.layout, trains_classifier=c.kind == "builtin",
                      focus=float(plan.interpreter.get("focus", 0.0)))
    if c.kind == "builtin" and not plan.layers:
        return Checked(None, None)  # trained here: its outputs and taps are its own
    ds = load_dataset(plan.data, plan.layout, plan.data_seed(), plan.inner_folds_of)
    fe = plan.frontend()
    art = None
    if c.kind in ("custom", "hf"):
        art = brought_artifact(c, ds.classes if ds.labelled else None, ds.multilabel, fe,
                               plan.clip_seconds, task)
    elif c.kind == "bundle":
        if not c.bundle:
            raise L2IError("choose the bundle whose classifier to reuse")
        art = load_classifier(c.bundle, trust_code=c.trust_code)
        if art.frontend != fe:
            raise L2IError("the bundle's front-end settings differ from this run's")
    elif c.kind != "builtin":
        raise L2IError(f"unknown classifier choice {c.kind!r}")
    if art is None:  # the built-in CNN, untrained: enough to check the layers named
        model = VGGClassifier(len(ds.classes), VGGConfig(widths=list(c.widths)))
        kind, classes = "log_mel", ds.classes
    else:
        model, kind, classes = art.model, art.input, art.classes
    layers = check_on_data(model, kind, fe, ds.paths, plan.clip_seconds, classes, plan.layers,
                           labelled=ds.labelled)
    if art is not None and ds.labelled:
        check_class_names(art.classes, ds.classes)
    return Checked(art, layers)


def _classifier(plan: TrainingPlan, p: pipeline.Prepared, files: WorkFiles, ctx: D.Context,
                resume: bool, task: TaskState | None, checked: Checked) -> ClassifierArtifact:
    c = plan.classifier
    if c.kind == "builtin":
        if resume and files.finished_classifier():
            log.info("reusing the finished classifier in %s", files.classifier)
            return load_classifier(files.classifier)
        cfg = ClassifierTrainConfig(epochs=c.epochs, seed=plan.seed,
                                    model=VGGConfig(widths=list(c.widths)),
                                    val_by_recording=c.val_by_recording)
        return pipeline.classifier_stage(p, cfg, files.classifier, ctx, resume, task)
    art = checked.artifact  # custom or bundle: built and checked before the data's work
    align_classes(p, art.classes, art.multilabel)
    return art


def run_plan(plan: TrainingPlan, task: TaskState | None = None, resume: bool = False,
             ctx: D.Context | None = None,
             on_data: Callable[[pipeline.Prepared], None] | None = None) -> PlanResult:
    """Data -> classifier -> dictionary -> interpreter -> evaluation, into ``plan.work``.

    With ``resume``, what a previous run of the same plan finished is reused and the
    stage it stopped in continues from its last checkpoint (trainer.work_folder says
    what counts as finished). ``ctx``: the processes of a torchrun launch (default: one,
    on ``plan.device``); rank 0 alone evaluates, the others return empty metrics.
    ``on_data`` is shown the prepared data before any training."""
    files = plan.files()
    ctx = ctx or D.Context(device=D.resolve_device(plan.device))
    checked = check_before_spending(plan, task)  # minutes before any feature is computed
    # the data is checked before the work folder is touched
    p = pipeline.prepare(plan.data, plan.layout, plan.test_fold, plan.frontend(),
                         plan.clip_seconds, plan.cache and Path(plan.cache), plan.data_seed(),
                         ctx=ctx, task=task, device=str(ctx.device),
                         inner_folds_of=plan.inner_folds_of)
    if on_data is not None:
        on_data(p)
    _start(files, plan, resume, ctx)
    seed_everything(plan.seed + ctx.rank)
    clf = _classifier(plan, p, files, ctx, resume, task, checked)

    if plan.dictionary_file:
        W, dinfo = load_dictionary(plan.dictionary_file)
        if W.shape[0] != p.frontend.n_freqs:
            raise L2IError(f"the dictionary has {W.shape[0]} frequency bins; this front-end "
                           f"gives {p.frontend.n_freqs}")
    elif resume and files.finished_dictionary():
        log.info("reusing the finished dictionary %s", files.dictionary)
        W, dinfo = load_dictionary(files.dictionary)
    else:
        W, dinfo = pipeline.dictionary_stage(p, nmf.NMFConfig(**plan.nmf), files.dictionary,
                                             ctx, plan.max_frames, task)

    out = files.bundle
    bundle = files.finished_bundle(plan.classifier.trust_code) if resume else None
    if bundle is not None:  # interpreter done, evaluation perhaps not
        log.info("reusing the finished bundle %s", out)
    else:
        bundle = pipeline.interpreter_stage(
            p, clf, W, dinfo, InterpreterTrainConfig(**plan.interpreter), out, checked.layers,
            ctx, resume, files.interpreter_checkpoint, plan.name, task)
    metrics = files.finished_metrics(bundle) if resume else None
    if metrics is not None:
        log.info("reusing the finished evaluation %s", files.evaluation)
    elif ctx.is_main:
        metrics = pipeline.evaluation_stage(bundle, p, out, device=str(ctx.device), task=task)
        atomic_write_json(files.evaluation, metrics)
    D.barrier(ctx)
    if plan.lmac is not None and bundle.lmac is None:
        bundle = lmac_stage(bundle, p, LMACTrainConfig(**plan.lmac), plan.lmac_layers, ctx,
                            resume, files.lmac_checkpoint, task)
        if ctx.is_main:
            save_bundle(bundle, out)
        D.barrier(ctx)
    return PlanResult(out, metrics or {}, bundle)


def cuda_devices() -> list[str]:
    """'cpu' and every CUDA device torch can see, for a device chooser."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return names


def run_plan_in_child(plan: TrainingPlan, resume: bool = False,
                      task: TaskState | None = None) -> tuple[str, dict]:
    """:func:`run_plan` for a child process: only the bundle's path and metrics go back
    (the parent loads the bundle from disk rather than receive pickled modules)."""
    result = run_plan(plan, task, resume)
    return str(result.bundle_path), result.metrics
