"""The training stages as functions: data -> classifier -> dictionary -> interpreter ->
evaluation -> bundle. The CLI and the desktop wizard both call these.

Under torchrun, every rank computes its block of the feature cache (trainer/features_cache.py)
and reads all blocks, learns the dictionary from its block of the training frames (the
sums are all-reduced), trains the networks with DDP, and rank 0 writes every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import Bundle, make_manifest, save_bundle
from engine.dsp import nmf
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from engine.dsp.shards import clip_stat
from engine.models.classifier import default_taps
from engine.models.taps import layer_of
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState
from trainer import distributed as D
from trainer import unlabelled
from trainer.artifacts import (
    ClassifierArtifact,
    load_classifier,
    load_dictionary,
    save_classifier,
    save_dictionary,
)
from trainer.datasets import Dataset, DatasetError, load_dataset
from trainer.evaluate import DEFAULT_TAUS, evaluate_bundle
from trainer.features_cache import Features, compute_features, fix_length
from trainer.row_concat import RowSubset
from trainer.train_classifier import ClassifierTrainConfig, train_classifier
from trainer.train_dictionary import learn_dictionary
from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter
from trainer.work_folder import CLASSIFIER_CHECKPOINT

# what the bundle's manifest keeps of how its dictionary was learnt
DICTIONARY_KEYS = ("k", "sparsity", "beta", "iterations", "inner", "seed", "final_objective",
                   "frames", "online_batch", "world_size")


class ClipWaves:
    """The clips' waveforms, decoded when a slice is asked for: the input of a classifier
    that reads audio (the feature cache keeps only spectra)."""

    def __init__(self, paths: list[Path], rate: int, n_samples: int) -> None:
        self.paths, self.rate, self.n_samples = list(paths), rate, n_samples

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self, lo: int, hi: int) -> str:
        """Clips lo..hi-1 named by their files (trainer/frozen_cache.py), not decoded."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.rate}|{self.n_samples}".encode())
        for p in self.paths[lo:hi]:
            st = clip_stat(p)  # a clip inside a tar shard: the shard's
            h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.stack([fix_length(load_audio(p, self.rate), self.n_samples)
                         for p in self.paths[rows]])


@dataclass
class Prepared:
    dataset: Dataset  # readable clips only, row i = features row i
    features: Features
    train_rows: np.ndarray
    test_rows: np.ndarray
    test_fold: int | None
    frontend: FrontEndConfig
    clip_seconds: float
    seed: int = 0  # the folds' seed, where they are a seeded split
    cache_dir: Path | None = None  # None: the default (features_cache.default_cache_dir)


def prepare(data: str | Path, layout: str | None = None, test_fold: int | None = None,
            frontend: FrontEndConfig | None = None, clip_seconds: float = 5.0,
            cache_dir: Path | None = None, seed: int = 0, ctx: D.Context | None = None,
            task: TaskState | None = None, device: str = "cpu",
            inner_folds_of: int | None = None) -> Prepared:
    ctx = ctx or D.Context()
    fe = frontend or FrontEndConfig()
    ds = load_dataset(data, layout, seed, inner_folds_of)
    if test_fold is not None:
        ds.split(test_fold)  # validates the fold number before any work
    # under torchrun each rank computes its block of the clips, then all read all blocks
    feats = compute_features(ds, fe, clip_seconds, cache_dir and Path(cache_dir), task, device,
                             ctx)
    readable = ds.subset(feats.keep)
    train_rows, test_rows = readable.split(test_fold)
    if len(train_rows) == 0:
        raise DatasetError(f"{ds.root}: no readable clips left for training "
                           f"outside fold {test_fold}")
    return Prepared(readable, feats, train_rows, test_rows, test_fold, fe, clip_seconds, seed,
                    cache_dir and Path(cache_dir))


def provenance(p: Prepared, **extra) -> dict:
    return {
        "data": str(p.dataset.root), "layout": p.dataset.layout,
        "clips": len(p.dataset), "skipped_files": len(p.features.skipped),
        "test_fold": p.test_fold, "train_clips": int(len(p.train_rows)),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "python": platform.python_version(),
        **unlabelled.provenance(p.dataset, p.seed), **extra,
    }


def classifier_stage(p: Prepared, cfg: ClassifierTrainConfig, out: Path,
                     ctx: D.Context | None = None, resume: bool = False,
                     task: TaskState | None = None) -> ClassifierArtifact:
    ctx = ctx or D.Context()
    ds = p.dataset
    unlabelled.refuse(ds.layout, trains_classifier=True)
    if cfg.val_by_recording and ds.groups is None:
        raise DatasetError(f"{ds.root}: no recording ids (esc50.csv src_file or ESC file "
                           "names), so the validation split cannot be made by recording")
    groups = None if ds.groups is None else ds.groups[p.train_rows]
    model, info = train_classifier(
        p.features.log_mel[p.train_rows], ds.labels[p.train_rows], len(ds.classes),
        ds.multilabel, cfg, ctx, out / CLASSIFIER_CHECKPOINT, resume, task, groups)
    art = ClassifierArtifact(model.cpu(), "vgg", cfg.model.to_dict(), ds.classes,
                             ds.multilabel, p.frontend, p.clip_seconds,
                             {**provenance(p), "training": cfg.to_dict(), **info})
    if ctx.is_main:
        save_classifier(out, art)
    D.barrier(ctx)
    return art


def dictionary_stage(p: Prepared, cfg: nmf.NMFConfig, out: Path, ctx: D.Context | None = None,
                     max_frames: int | None = None, task: TaskState | None = None
                     ) -> tuple[torch.Tensor, dict]:
    ctx = ctx or D.Context()
    # every process learns from its own block of the clips; the W steps are summed
    res, per_rank = learn_dictionary(p.features.log_mag, p.train_rows, cfg, str(ctx.device),
                                     max_frames, task, ctx)
    if ctx.is_main:
        info = {**cfg.to_dict(), "final_objective": res.objective[-1] if res.objective
                else None, "frames": sum(per_rank), "world_size": ctx.world_size,
                "frames_per_rank": per_rank, **provenance(p)}
        save_dictionary(out, res.W, info)
    D.barrier(ctx)
    return load_dictionary(out)


def interpreter_stage(p: Prepared, clf: ClassifierArtifact, W: torch.Tensor, dict_info: dict,
                      cfg: InterpreterTrainConfig, out: Path, layers: list[str] | None = None,
                      ctx: D.Context | None = None, resume: bool = False,
                      checkpoint: Path | None = None, name: str | None = None,
                      task: TaskState | None = None, init: Bundle | None = None) -> Bundle:
    """``init``: a bundle with the same dictionary whose interpreter is the start."""
    ctx = ctx or D.Context()
    ds = p.dataset
    unlabelled.refuse(ds.layout, focus=cfg.focus)
    if list(clf.classes) != list(ds.classes):
        raise L2IError("the classifier's classes differ from the data's: "
                       f"{clf.classes[:3]}... vs {ds.classes[:3]}...")
    if W.shape[0] != p.frontend.n_freqs:
        raise L2IError(f"the dictionary has {W.shape[0]} frequency bins, the front-end "
                       f"gives {p.frontend.n_freqs}")
    layers = _tapped(clf.model, layers)
    if init is not None and (init.W.shape != W.shape
                             or not torch.allclose(init.W.float(), W.float(), atol=1e-3)):
        raise L2IError("--init: the bundle's dictionary is not the one given by --dictionary")
    # the training rows as views of the cache, read a batch at a time (docs/scale.md)
    inputs = RowSubset(p.features.log_mel, p.train_rows) if clf.input == "log_mel" else \
        ClipWaves([ds.paths[i] for i in p.train_rows], p.frontend.sample_rate,
                  int(round(p.clip_seconds * p.frontend.sample_rate)))
    waves = ClipWaves([ds.paths[i] for i in p.train_rows], p.frontend.sample_rate,
                      int(round(p.clip_seconds * p.frontend.sample_rate)))[:] \
        if cfg.focus > 0 else None  # focus training mixes the clips themselves
    interp, info = train_interpreter(
        clf.model, layers, W, RowSubset(p.features.log_mag, p.train_rows), inputs,
        ds.labels[p.train_rows], len(ds.classes), ds.multilabel, cfg, ctx, checkpoint,
        resume, task, frontend=p.frontend if clf.input == "log_mel" else None,
        init=init.interpreter if init is not None else None, waves=waves,
        cache_dir=p.cache_dir)
    manifest = make_manifest(
        name=name or out.stem, frontend=p.frontend, classes=ds.classes,
        multilabel=ds.multilabel, classifier_arch=clf.architecture,
        classifier_config=clf.config, layers=layers,
        dictionary={k: v for k, v in dict_info.items()
                    if k in DICTIONARY_KEYS} | {"k": int(W.shape[1])},
        interpreter=interp.config, clip_seconds=p.clip_seconds, classifier_input=clf.input,
        classifier_code=clf.code.to_manifest() if clf.code else None,
        classifier_requires=clf.code.requirements() if clf.code else None,
        provenance=provenance(p, classifier=_short(clf.info), interpreter={
            "training": cfg.to_dict(), "best_epoch": info["best_epoch"],
            "history": info["history"]} | _started_from(init)))
    bundle = Bundle(manifest, clf.model.cpu().eval(), interp.eval(), W.cpu(),
                    classifier_source=clf.code.source if clf.code else None)
    if ctx.is_main:
        save_bundle(bundle, out)
    D.barrier(ctx)
    return bundle


def evaluation_stage(bundle: Bundle, p: Prepared, out: Path | None,
                     taus=DEFAULT_TAUS, device: str = "cpu",
                     task: TaskState | None = None) -> dict:
    rows = p.test_rows if len(p.test_rows) else p.train_rows
    result = evaluate_bundle(bundle, p.dataset, rows, taus, device, task=task)
    result["evaluated_on"] = "test fold" if len(p.test_rows) else "training clips"
    result |= unlabelled.provenance(p.dataset, p.seed)
    bundle.manifest["metrics"] = result
    if out is not None:
        save_bundle(bundle, out)
    return result


def _tapped(model: torch.nn.Module, layers: list[str] | None) -> list[str]:
    """The layers to tap, checked here: the user names them (--layers, the wizard)."""
    if not layers:
        try:
            return default_taps(model)
        except ValueError as exc:  # a model of the user's own: no default
            raise L2IError(str(exc)) from None
    known = dict(model.named_modules())
    missing = [name for name in layers if layer_of(name)[0] not in known]
    if missing:
        raise L2IError(f"the classifier has no layer named {', '.join(missing)}")
    return list(layers)


def _started_from(init: Bundle | None) -> dict:
    """A fine-tuned interpreter records how its starting point was trained, and so on
    back (its own "started_from"), so a manifest tells the whole recipe."""
    if init is None:
        return {}
    before = init.manifest.get("provenance", {}).get("interpreter", {})
    return {"started_from": {"name": init.name} | {
        k: v for k, v in before.items() if k in ("training", "best_epoch", "started_from")}}


def _short(info: dict) -> dict:
    """Classifier provenance without its per-epoch history (kept in its own folder)."""
    return {k: v for k, v in info.items() if k != "history"}


__all__ = ["Prepared", "prepare", "classifier_stage", "dictionary_stage", "interpreter_stage",
           "evaluation_stage", "load_classifier"]
