"""Intermediate products on disk: a trained classifier folder and a dictionary file.

Both are safetensors plus JSON, like bundles, so nothing here unpickles either.
A bundle is accepted wherever a classifier is asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from engine.bundles.bundle import load_bundle
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import build_classifier
from engine.models.user_classifier import ClassifierCode
from engine.runtime import atomic
from engine.runtime.errors import BundleError

CLASSIFIER_JSON = "classifier.json"
CLASSIFIER_WEIGHTS = "classifier.safetensors"


@dataclass
class ClassifierArtifact:
    model: nn.Module
    architecture: str
    config: dict
    classes: list[str]
    multilabel: bool
    frontend: FrontEndConfig
    clip_seconds: float
    info: dict  # training provenance and metrics
    input: str = "log_mel"  # what the model reads: "log_mel" or "waveform"
    code: ClassifierCode | None = None  # user code that builds the model, if any


def save_classifier(folder: Path, art: ClassifierArtifact) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in art.model.state_dict().items()}
    atomic.write_atomically(folder / CLASSIFIER_WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    atomic.write_json(folder / CLASSIFIER_JSON, {
        "architecture": art.architecture, "config": art.config, "classes": art.classes,
        "multilabel": art.multilabel, "frontend": art.frontend.to_dict(),
        "clip_seconds": art.clip_seconds, "info": art.info,
    })


def load_classifier(path: str | Path, trust_code: bool = False) -> ClassifierArtifact:
    """A classifier folder written by ``save_classifier``, or any bundle (one with user
    code only when ``trust_code``: see ``engine.bundles.bundle.load_bundle``)."""
    path = Path(path)
    meta_path = path / CLASSIFIER_JSON
    if not meta_path.is_file():
        if (path / "manifest.json").is_file() or path.suffix == ".l2i":
            b = load_bundle(path, trust_code=trust_code)
            m = b.manifest
            return ClassifierArtifact(b.classifier, m["classifier"]["architecture"],
                                      m["classifier"]["config"], b.classes, b.multilabel,
                                      b.frontend, float(m.get("clip_seconds", 5.0)),
                                      {"from_bundle": str(path)}, b.classifier_input,
                                      b.classifier_code)
        if path.suffix == ".py":  # the likeliest mistake: code where a folder belongs
            raise BundleError(f"{path} is Python code, not a classifier folder or bundle: "
                              f"give it as --model {path} with --weights, --input and "
                              "--trust-code")
        raise BundleError(f"{path}: neither a classifier folder ({CLASSIFIER_JSON}) "
                          "nor a bundle")
    try:
        meta = json.loads(meta_path.read_text())
        model = build_classifier(meta["architecture"], len(meta["classes"]), meta["config"])
        with safe_open(str(path / CLASSIFIER_WEIGHTS), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
        model.load_state_dict(state)
    except (OSError, KeyError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: the classifier could not be loaded "
                          f"({str(exc).splitlines()[0]})") from None
    model.eval()
    return ClassifierArtifact(model, meta["architecture"], meta["config"], meta["classes"],
                              bool(meta["multilabel"]),
                              FrontEndConfig.from_dict(meta["frontend"]),
                              float(meta["clip_seconds"]), meta.get("info", {}))


def save_dictionary(path: Path, W: np.ndarray, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"W": torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32))}
    # how it was learnt is also readable on its own, without parsing "info"
    meta = {"info": json.dumps(info)} | {k: json.dumps(info[k]) for k in
                                         ("world_size", "frames_per_rank") if k in info}
    atomic.write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_dictionary(path: str | Path) -> tuple[torch.Tensor, dict]:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            W = f.get_tensor("W").float()
            info = json.loads((f.metadata() or {}).get("info", "{}"))
    except Exception as exc:  # safetensors' own error types
        raise BundleError(f"{path}: not a dictionary file ({str(exc).splitlines()[0]})") \
            from None
    if W.ndim != 2 or (W < 0).any() or not torch.isfinite(W).all():
        raise BundleError(f"{path}: the dictionary must be a finite non-negative F x K matrix")
    return W, info
