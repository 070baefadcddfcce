"""What the wizard's data and classifier pages compute (off the UI thread, no Qt here):
a data folder's summary, and a classifier's named layers measured on a real clip."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import VGGClassifier, VGGConfig
from engine.models.taps import run_with_layer_shapes, suggest_taps
from engine.models.user_classifier import classifier_input, load_user_classifier
from engine.runtime.progress import TaskState, check, report
from trainer.artifacts import load_classifier
from trainer.datasets import load_dataset
from trainer.features_cache import fix_length
from trainer.plan import ClassifierChoice


@dataclass
class DataSummary:
    root: Path
    layout: str
    classes: list[str]
    counts: dict[str, int]
    clips: int
    seconds: float  # total duration of the readable clips
    folds: list[int]
    multilabel: bool
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    notes: list[str] = field(default_factory=list)
    examples: list[Path] = field(default_factory=list)  # one readable clip per class


def scan_data(folder: str | Path, layout: str | None = None,
              task: TaskState | None = None) -> DataSummary:
    """Detect the layout (or take ``layout``: "unlabelled") and read every file's header
    (durations, unreadable files)."""
    ds = load_dataset(folder, layout)
    seconds, unreadable, readable = 0.0, [], []
    for i, path in enumerate(ds.paths):
        check(task)
        try:
            info = sf.info(str(path))
            if info.frames <= 0 or info.samplerate <= 0:
                raise ValueError("no audio samples")
            seconds += info.frames / info.samplerate
            readable.append(i)
        except Exception as exc:  # libsndfile's errors vary by format
            unreadable.append((path.name, str(exc).splitlines()[0][:120] if str(exc)
                               else type(exc).__name__))
        report(task, "scan", i + 1, len(ds.paths), path.name)
    examples: dict[int, Path] = {}
    for i in readable:
        key = int(np.argmax(ds.labels[i])) if ds.multilabel else int(ds.labels[i])
        examples.setdefault(key, ds.paths[i])
    return DataSummary(Path(folder), ds.layout, ds.classes, ds.class_counts(), len(ds),
                       seconds, ds.fold_ids, ds.multilabel, unreadable, list(ds.notes),
                       [examples[k] for k in sorted(examples)])


@dataclass
class Inspection:
    layers: list[tuple[str, tuple]]  # every named layer and its output shape (no batch)
    suggested: list[str]
    output_shape: tuple
    top_class: str  # what the model says about the clip (weights untrained: noise)
    clip: Path


def build_for_inspection(choice: ClassifierChoice, n_classes: int) -> nn.Module:
    if choice.kind == "builtin":
        return VGGClassifier(n_classes, VGGConfig(widths=list(choice.widths)))
    if choice.kind == "bundle":
        return load_classifier(choice.bundle, trust_code=choice.trust_code).model
    return load_user_classifier(choice.code(), choice.weights, n_classes)


def inspect_classifier(choice: ClassifierChoice, classes: list[str], clip: Path,
                       frontend: FrontEndConfig, clip_seconds: float,
                       task: TaskState | None = None) -> Inspection:
    """Run the classifier once on a real clip: its layers, their shapes, a suggestion."""
    report(task, "inspect", 0, 1)
    model = build_for_inspection(choice, len(classes)).eval()
    check(task)
    n = int(round(clip_seconds * frontend.sample_rate))
    wave = torch.from_numpy(fix_length(load_audio(clip, frontend.sample_rate), n))[None]
    kind = "log_mel" if choice.kind != "custom" else choice.input
    x = classifier_input(kind, wave, frontend)
    # a superseded look (the user changed a setting) stops at the next layer
    layers, out = run_with_layer_shapes(model, x, lambda: check(task))
    suggested = suggest_taps(model, layers)
    top = int(out[0].argmax()) if out.ndim == 2 and out.shape[1] == len(classes) else -1
    report(task, "inspect", 1, 1)
    return Inspection(layers, suggested, tuple(out.shape[1:]),
                      classes[top] if top >= 0 else "(output does not match the classes)",
                      clip)
