"""A whole training run as one plain function over a serialisable plan: what the desktop
wizard runs in its worker (and what ``l2i train all`` does, with more choices for the
classifier). Every product lands in the plan's work folder, so a cancelled or crashed
run resumes from its checkpoints: finished stages are read back, the unfinished one
continues from its last epoch.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import MANIFEST, Bundle, load_bundle
from engine.dsp import nmf
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import VGGConfig
from engine.models.user_classifier import (
    ARCHITECTURE,
    ClassifierCode,
    UntrustedCodeError,
    load_user_classifier,
)
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, report
from trainer import distributed as D
from trainer import pipeline
from trainer.artifacts import (
    CLASSIFIER_JSON,
    ClassifierArtifact,
    load_classifier,
    load_dictionary,
)
from trainer.checkpoint import atomic_write_json, seed_everything
from trainer.train_classifier import ClassifierTrainConfig
from trainer.train_interpreter import InterpreterTrainConfig

PLAN_FILE = "plan.json"
# settings that may change between a run and its resumption
_FREE_TO_CHANGE = ("device", "cache")


@dataclass
class ClassifierChoice:
    kind: str = "builtin"  # "builtin" (train the CNN), "bundle" (reuse), "custom" (bring)
    widths: list[int] = field(default_factory=lambda: list(VGGConfig().widths))
    epochs: int = 60
    bundle: str | None = None
    code_file: str | None = None  # custom: a Python file ...
    function: str = "build_model"  # ... and the function in it
    entry_point: str | None = None  # custom: or package.module:function
    weights: str | None = None  # custom: safetensors or a torch.save'd state dict
    input: str = "log_mel"  # custom: "log_mel" or "waveform"
    frontend: dict | None = None  # custom: sample rate and mel settings; bundle: its own
    classes: list[str] | None = None  # custom: in the model's output order; None: the data's
    trust_code: bool = False  # the user agreed to run the code (custom, or a bundle's)

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
    interpreter: dict = field(default_factory=lambda: InterpreterTrainConfig().to_dict())
    device: str = "cpu"
    cache: str | None = None
    name: str = "interpreter"
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainingPlan:
        d = dict(d)
        d["classifier"] = ClassifierChoice(**d.get("classifier", {}))
        return cls(**d)

    def frontend(self) -> FrontEndConfig:
        c = self.classifier
        if c.kind in ("custom", "bundle") and c.frontend:
            return FrontEndConfig.from_dict(c.frontend)
        return FrontEndConfig()


@dataclass
class PlanResult:
    bundle_path: Path
    metrics: dict
    bundle: Bundle


def _comparable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in _FREE_TO_CHANGE}


def _start(work: Path, plan: TrainingPlan, resume: bool) -> None:
    """Record the plan; a resumed run must have the settings it was started with."""
    stored = work / PLAN_FILE
    if resume and stored.is_file():
        before = json.loads(stored.read_text())
        if _comparable(before) != _comparable(plan.to_dict()):
            changed = sorted(k for k in set(before) | set(plan.to_dict())
                             if k not in _FREE_TO_CHANGE
                             and before.get(k) != plan.to_dict().get(k))
            raise L2IError(f"the settings changed since this run stopped ({', '.join(changed)}):"
                           " start a new run instead of resuming")
    if not resume:  # products of an older run in the same folder must not be reused
        for name in ("classifier", "dictionary.safetensors", "interpreter.pt", "bundle",
                     "evaluation.json"):
            target = work / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stored, plan.to_dict())


def _align_classes(p: pipeline.Prepared, classes: list[str]) -> None:
    """Relabel the data in the classifier's class order (same names, any order)."""
    ds = p.dataset
    if list(classes) == list(ds.classes):
        return
    if sorted(classes) != sorted(ds.classes):
        missing = sorted(set(ds.classes) - set(classes))
        extra = sorted(set(classes) - set(ds.classes))
        raise L2IError("the classifier's classes are not the data's: "
                       + "; ".join(s for s in (
                           f"not in the classifier: {', '.join(missing[:5])}" if missing else "",
                           f"not in the data: {', '.join(extra[:5])}" if extra else "") if s))
    order = [ds.classes.index(c) for c in classes]  # new index i <- old index order[i]
    if ds.multilabel:
        ds.labels = ds.labels[:, order]
    else:
        ds.labels = np.argsort(order)[ds.labels]
    ds.classes = list(classes)


def _classifier(plan: TrainingPlan, p: pipeline.Prepared, work: Path, ctx: D.Context,
                resume: bool, task: TaskState | None) -> ClassifierArtifact:
    c = plan.classifier
    if c.kind == "builtin":
        folder = work / "classifier"
        if resume and (folder / CLASSIFIER_JSON).is_file():
            return load_classifier(folder)
        cfg = ClassifierTrainConfig(epochs=c.epochs, seed=plan.seed,
                                    model=VGGConfig(widths=list(c.widths)))
        return pipeline.classifier_stage(p, cfg, folder, ctx, resume, task)
    if c.kind == "bundle":
        if not c.bundle:
            raise L2IError("choose the bundle whose classifier to reuse")
        art = load_classifier(c.bundle, trust_code=c.trust_code)
        if art.frontend != p.frontend:
            raise L2IError("the bundle's front-end settings differ from this run's")
        _align_classes(p, art.classes)
        return art
    if c.kind == "custom":
        code = c.code()
        if not c.trust_code:
            raise UntrustedCodeError(f"{code.describe()} is Python code: it runs only "
                                     "after you confirm that you trust it")
        if not c.weights:
            raise L2IError("choose the classifier's weights file")
        classes = list(c.classes or p.dataset.classes)
        _align_classes(p, classes)
        report(task, "loading classifier", 0, 1)
        model = load_user_classifier(code, c.weights, len(classes))
        report(task, "loading classifier", 1, 1)
        return ClassifierArtifact(model, ARCHITECTURE, {}, classes, p.dataset.multilabel,
                                  p.frontend, p.clip_seconds,
                                  {"weights": str(c.weights), "code": code.describe()},
                                  c.input, code)
    raise L2IError(f"unknown classifier choice {c.kind!r}")


def run_plan(plan: TrainingPlan, task: TaskState | None = None,
             resume: bool = False) -> PlanResult:
    """Data -> classifier -> dictionary -> interpreter -> evaluation, into ``plan.work``.

    With ``resume``, what a previous run of the same plan finished is reused and the
    stage it stopped in continues from its last checkpoint."""
    work = Path(plan.work)
    ctx = D.Context(device=D.resolve_device(plan.device))
    # the data is checked before the work folder is touched
    p = pipeline.prepare(plan.data, plan.layout, plan.test_fold, plan.frontend(),
                         plan.clip_seconds, plan.cache and Path(plan.cache), plan.seed,
                         task=task, device=str(ctx.device))
    _start(work, plan, resume)
    seed_everything(plan.seed)
    clf = _classifier(plan, p, work, ctx, resume, task)

    dict_file = work / "dictionary.safetensors"
    if plan.dictionary_file:
        W, dinfo = load_dictionary(plan.dictionary_file)
        if W.shape[0] != p.frontend.n_freqs:
            raise L2IError(f"the dictionary has {W.shape[0]} frequency bins; this front-end "
                           f"gives {p.frontend.n_freqs}")
    elif resume and dict_file.is_file():
        W, dinfo = load_dictionary(dict_file)
    else:
        W, dinfo = pipeline.dictionary_stage(p, nmf.NMFConfig(**plan.nmf), dict_file, ctx,
                                             task=task)

    out = work / "bundle"
    if resume and (out / MANIFEST).is_file():  # interpreter done, evaluation was not
        bundle = load_bundle(out, trust_code=True)  # this run's own (already trusted) code
    else:
        bundle = pipeline.interpreter_stage(
            p, clf, W, dinfo, InterpreterTrainConfig(**plan.interpreter), out, plan.layers,
            ctx, resume, work / "interpreter.pt", plan.name, task)
    evaluated = work / "evaluation.json"
    if resume and evaluated.is_file() and bundle.manifest.get("metrics"):
        metrics = bundle.manifest["metrics"]
    else:
        metrics = pipeline.evaluation_stage(bundle, p, out, device=str(ctx.device), task=task)
        atomic_write_json(evaluated, metrics)
    return PlanResult(out, metrics, bundle)


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
