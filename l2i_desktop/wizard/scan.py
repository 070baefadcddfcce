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
from engine.dsp.shards import open_clip
from engine.models.classifier import VGGClassifier, VGGConfig
from engine.models.hf_classifier import load_hf_folder
from engine.models.user_classifier import load_user_classifier, logits_of
from engine.runtime.progress import TaskState, check, report
from trainer.artifacts import load_classifier
from trainer.datasets import load_dataset
from trainer.model_check import survey_layers
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
            info = sf.info(open_clip(path))  # a file, or a clip in a tar shard
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
    layers: list[tuple[str, tuple | None]]  # every named layer, its output shape (no batch)
    suggested: list[str]  # tapped names
    output_shape: tuple
    top_class: str  # what the model says about the clip (weights untrained: noise)
    clip: Path
    # how each usable layer is tapped: its name, or with ":tokens" / ":patches" added
    taps: dict[str, str] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)  # layer -> why not, in words
    seconds: tuple[float, float | None] = (0.0, None)  # the two clip lengths it ran on


def build_for_inspection(choice: ClassifierChoice, n_classes: int) -> tuple[nn.Module, str]:
    """The model of a choice and what it reads ("log_mel" or "waveform")."""
    if choice.kind == "builtin":
        return VGGClassifier(n_classes, VGGConfig(widths=list(choice.widths))), "log_mel"
    if choice.kind == "bundle":
        art = load_classifier(choice.bundle, trust_code=choice.trust_code)
        return art.model, art.input
    if choice.kind == "hf":
        return load_hf_folder(choice.hf_folder), "waveform"
    return load_user_classifier(choice.code(), choice.weights, n_classes), choice.input


def inspect_classifier(choice: ClassifierChoice, classes: list[str], clip: Path,
                       frontend: FrontEndConfig, clip_seconds: float,
                       task: TaskState | None = None) -> Inspection:
    """Run the classifier on a real clip, and on it at another length, as the command
    line's check does: its layers, their shapes, how each is tapped, a suggestion."""
    report(task, "inspect", 0, 1)
    model, kind = build_for_inspection(choice, len(classes))
    check(task)
    wave = load_audio(clip, frontend.sample_rate)
    # a superseded look (the user changed a setting) stops at the next layer
    survey = survey_layers(model, kind, frontend, wave, clip.name, clip_seconds,
                           lambda: check(task))
    out = logits_of(survey.output)
    matches = torch.is_tensor(out) and out.ndim == 2 and out.shape[1] == len(classes)
    top = int(out[0].argmax()) if matches else -1
    report(task, "inspect", 1, 1)
    return Inspection(list(survey.shapes.items()), survey.suggested,
                      tuple(out.shape[1:]) if torch.is_tensor(out) else (),
                      classes[top] if top >= 0 else "(output does not match the classes)",
                      clip, survey.taps, survey.unusable, survey.seconds)
