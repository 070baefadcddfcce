"""Hugging Face audio classifiers (``--model hf:FOLDER``): a local folder written by
``save_pretrained`` (config.json, safetensors weights, preprocessor_config.json) is read
with ``AutoModelForAudioClassification`` and its ``AutoFeatureExtractor``.

No Python code comes with such a model: transformers builds it from its JSON config
(``trust_remote_code`` is never set, a config that asks for code of its own is refused)
and its weights are safetensors (a ``pytorch_model.bin`` pickle is refused). A bundle
keeps both configs in its manifest and the weights in its weights.safetensors, so it
opens without trusting any code, and without the hub: nothing is ever downloaded.

transformers is an optional dependency (the ``hf`` extra) and is imported only here,
only when such a model is built: it takes seconds to import.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.models.classifier import register
from engine.models.taps import PatchGrid
from engine.runtime.errors import L2IError, shown

log = logging.getLogger(__name__)

HF_ARCHITECTURE = "hf"
PREFIX = "hf:"
INSTALL = "the hf: models need the transformers package: pip install 'l2i-desktop[hf]'"
CONFIG, PREPROCESSOR = "config.json", "preprocessor_config.json"
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
EXTRACTOR_NAME = re.compile(r"^[A-Za-z]\w*FeatureExtractor$")
AST = "audio-spectrogram-transformer"
AST_SPECIAL_TOKENS = 2  # the class and distillation tokens before the patches


def _transformers():
    # no hub access from here, whatever a config asks for (a backbone to fetch, say):
    # read by huggingface_hub when it is first imported
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers
    except ImportError:
        raise L2IError(INSTALL) from None
    return transformers


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise L2IError(f"{shown(path, full=True)}: not a JSON file ({exc})") from None
    if not isinstance(value, dict):
        raise L2IError(f"{shown(path, full=True)}: expected a JSON object")
    return value


@dataclass(frozen=True)
class FolderInfo:
    """What a save_pretrained folder's JSON says of its model (the wizard shows it)."""

    classes: list[str]  # id2label, in output order
    rate: int  # the feature extractor's sampling rate
    model_type: str  # "wav2vec2", "audio-spectrogram-transformer", ...
    extractor: str  # the feature extractor's class name


def read_folder(folder: str | Path) -> tuple[list[str], int]:
    """A save_pretrained folder's class names (``id2label`` in output order) and sample
    rate, read from its JSON alone (no transformers import), once its files are checked."""
    info = folder_info(folder)
    return info.classes, info.rate


def folder_info(folder: str | Path) -> FolderInfo:
    """``read_folder``'s checks, and the model's type and feature extractor's name."""
    folder = Path(folder)
    where = f"hf:{shown(folder, full=True)}"
    if not folder.is_dir():
        raise L2IError(f"{where}: no such folder (download a hub model first, e.g. "
                       "huggingface-cli download NAME --local-dir FOLDER)")
    for name in (CONFIG, PREPROCESSOR):
        if not (folder / name).is_file():
            raise L2IError(f"{where} has no {name}: save the model and its feature extractor "
                           "with save_pretrained(FOLDER)")
    if not any((folder / n).is_file() for n in SAFE_WEIGHTS):
        pickled = (folder / "pytorch_model.bin").is_file()
        raise L2IError(f"{where} has no model.safetensors"
                       + (" (only pytorch_model.bin, a pickle, which L2I never loads)"
                          if pickled else "")
                       + ": save it with model.save_pretrained(FOLDER, safe_serialization=True)")
    config, extractor = _read_json(folder / CONFIG), _read_json(folder / PREPROCESSOR)
    problem = config_problem({"model": config, "feature_extractor": extractor})
    if problem:
        raise L2IError(f"{where}: {problem}")
    rate = extractor.get("sampling_rate")
    if not isinstance(rate, int) or not 1000 <= rate <= 384_000:
        raise L2IError(f"{where}: {PREPROCESSOR} gives no usable sampling_rate ({rate!r})")
    return FolderInfo(class_names(config, where), rate, config["model_type"],
                      extractor["feature_extractor_type"])


def class_names(config: dict, where: str) -> list[str]:
    labels = config.get("id2label")
    try:
        names = [str(labels[k]) for k in sorted(labels, key=int)]
    except (TypeError, ValueError, KeyError):
        raise L2IError(f"{where}: {CONFIG} has no id2label naming the classes 0..N-1") \
            from None
    if sorted(int(k) for k in labels) != list(range(len(names))) or len(set(names)) < len(names):
        raise L2IError(f"{where}: {CONFIG}'s id2label must name each class 0..N-1 once")
    return names


def config_problem(config: object) -> str | None:
    """Why a manifest's hf classifier config is not valid, or None (no import needed)."""
    if not isinstance(config, dict) or set(config) != {"model", "feature_extractor"}:
        return "an hf classifier's config needs exactly 'model' and 'feature_extractor'"
    model, extractor = config["model"], config["feature_extractor"]
    if not (isinstance(model, dict) and isinstance(model.get("model_type"), str)):
        return "the hf model config has no model_type"
    if "auto_map" in model or "auto_map" in extractor:
        # code of its own, which transformers would run only with trust_remote_code
        return "the model asks for code of its own (auto_map), which L2I never runs"
    if not (isinstance(extractor, dict)
            and EXTRACTOR_NAME.match(str(extractor.get("feature_extractor_type", "")))):
        return "the feature extractor config has no feature_extractor_type"
    return None


def patch_grid(config: dict) -> PatchGrid | None:
    """AST's grid of frequency x time patches, from its config; None for the models
    whose tokens are already a sequence in time (wav2vec2, HuBERT, ...)."""
    if config.get("model_type") != AST:
        return None
    size = config.get("patch_size", 16)
    freq = (config.get("num_mel_bins", 128) - size) // config.get("frequency_stride", 10) + 1
    time = (config.get("max_length", 1024) - size) // config.get("time_stride", 10) + 1
    return PatchGrid(AST_SPECIAL_TOKENS, freq, time)


class HFAudioClassifier(nn.Module):
    """A transformers audio classifier with its feature extractor in front: it reads the
    mono waveform (batch, samples) at the extractor's rate and returns the logits."""

    def __init__(self, model: nn.Module, extractor) -> None:
        super().__init__()
        self.model = model
        self.extractor = extractor  # not a module: its settings live in the manifest
        self.sample_rate = int(extractor.sampling_rate)
        self.patch_grid = patch_grid(model.config.to_dict())
        self.valid_time_patches: int | None = None  # of the last input (LayerTaps cuts)
        self._warned = False

    def config_dict(self) -> dict:
        return {"model": self.model.config.to_dict(),
                "feature_extractor": self.extractor.to_dict()}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # the extractors are numpy code: the features are computed on the CPU (no
        # gradient reaches the waveform; nothing here needs one)
        clips = list(wave.detach().float().cpu().numpy())
        inputs = self.extractor(clips, sampling_rate=self.sample_rate, return_tensors="pt")
        device = next(self.model.parameters()).device
        if self.patch_grid is not None:
            self.valid_time_patches = self._valid_time(wave.shape[-1])
        out = self.model(**{k: v.to(device) for k, v in inputs.items()})
        return out.logits

    def _valid_time(self, samples: int) -> int:
        """The time patches that the clip covers (AST pads its fbank to max_length)."""
        cfg = self.model.config
        shift, window = self.sample_rate // 100, self.sample_rate * 25 // 1000
        frames = 1 + max(samples - window, 0) // shift  # the extractor's kaldi fbank
        if frames > cfg.max_length and not self._warned:
            self._warned = True
            log.warning("AST reads the first %.2f s of a clip (max_length %d frames): the "
                        "explanation of the rest follows that part", cfg.max_length / 100,
                        cfg.max_length)
        steps = -(-max(frames - cfg.patch_size, 0) // cfg.time_stride) + 1
        return max(1, min(self.patch_grid.time, steps))


def load_hf_folder(folder: str | Path) -> HFAudioClassifier:
    """The model of a save_pretrained folder, from local files only, safetensors only."""
    read_folder(folder)  # every refusal in one line before transformers is imported
    tf = _transformers()
    where = f"hf:{shown(folder, full=True)}"
    local = {"local_files_only": True, "trust_remote_code": False}
    try:
        model = tf.AutoModelForAudioClassification.from_pretrained(
            str(folder), use_safetensors=True, **local)
        extractor = tf.AutoFeatureExtractor.from_pretrained(str(folder), **local)
    except Exception as exc:  # transformers raises many types for a folder it cannot read
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise L2IError(f"{where}: transformers cannot load it ({type(exc).__name__}: "
                       f"{first})") from None
    return HFAudioClassifier(model, extractor).eval()


@register(HF_ARCHITECTURE)
def build_hf(n_classes: int, config: dict) -> nn.Module:
    """The model a bundle's manifest describes, untrained (its weights come from the
    bundle's weights.safetensors)."""
    problem = config_problem(config)
    if problem:
        raise ValueError(problem)
    tf = _transformers()
    settings = dict(config["model"])
    if len(settings.get("id2label") or {}) != n_classes:
        raise ValueError(f"the hf model config does not name {n_classes} classes")
    extractor_settings = dict(config["feature_extractor"])
    extractor_class = getattr(tf, extractor_settings["feature_extractor_type"], None)
    if extractor_class is None or not issubclass(extractor_class,
                                                 tf.FeatureExtractionMixin):
        raise ValueError(f"transformers has no feature extractor "
                         f"{extractor_settings['feature_extractor_type']}")
    model_config = tf.AutoConfig.for_model(settings.pop("model_type"), **settings)
    model = tf.AutoModelForAudioClassification.from_config(model_config)
    return HFAudioClassifier(model, extractor_class.from_dict(extractor_settings))
