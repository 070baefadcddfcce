"""Front-end features of a whole dataset, computed once and kept on disk.

Every clip is decoded, made mono at the bundle's rate, cut or zero-padded to a fixed
length, and analysed once. The cache key covers the files (path, size, mtime) and the
front-end settings, so a changed file or setting recomputes, and nothing else does.
Unreadable files are skipped and listed, not fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import torch

from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, analyse
from engine.dsp.shards import clip_stat
from engine.runtime import atomic
from engine.runtime.errors import AudioError
from engine.runtime.progress import TaskState, check, report
from trainer.datasets import Dataset, DatasetError

CACHE_VERSION = 2  # 2: frames padded to whole hops (T = 432 for 5 s)


@dataclass
class Features:
    log_mel: np.ndarray  # (N, M, T) float32, memory-mapped
    log_mag: np.ndarray  # (N, F, T) float16, memory-mapped
    keep: np.ndarray  # indices into the dataset of the clips that were readable
    skipped: list[tuple[str, str]]  # (file, reason)
    folder: Path


def default_cache_dir() -> Path:
    return Path(os.environ.get("L2I_CACHE", platformdirs.user_cache_dir("l2i-desktop")))


def fix_length(wave: np.ndarray, n: int) -> np.ndarray:
    if len(wave) >= n:
        return wave[:n]
    return np.pad(wave, (0, n - len(wave)))


def _key(ds: Dataset, cfg: FrontEndConfig, clip_seconds: float) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, cfg.to_dict(), clip_seconds]).encode())
    for p in ds.paths:
        st = clip_stat(p)  # a clip inside a tar shard: the shard's
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def compute_features(ds: Dataset, cfg: FrontEndConfig, clip_seconds: float = 5.0,
                     cache_dir: Path | None = None, task: TaskState | None = None,
                     device: str = "cpu") -> Features:
    folder = (cache_dir or default_cache_dir()) / "features" / _key(ds, cfg, clip_seconds)
    done = folder / "done.json"
    if done.is_file():
        meta = json.loads(done.read_text())
        return Features(np.load(folder / "log_mel.npy", mmap_mode="r"),
                        np.load(folder / "log_mag.npy", mmap_mode="r"),
                        np.array(meta["keep"], dtype=int),
                        [tuple(s) for s in meta["skipped"]], folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_samples = int(round(clip_seconds * cfg.sample_rate))
    n_frames = cfg.n_frames(n_samples)
    mel = np.lib.format.open_memmap(folder / "log_mel.tmp.npy", "w+", np.float32,
                                    (len(ds), cfg.n_mels, n_frames))
    mag = np.lib.format.open_memmap(folder / "log_mag.tmp.npy", "w+", np.float16,
                                    (len(ds), cfg.n_freqs, n_frames))
    keep, skipped = [], []
    for i, path in enumerate(ds.paths):
        check(task)
        try:
            wave = fix_length(load_audio(path, cfg.sample_rate), n_samples)
        except AudioError as exc:
            skipped.append((str(path), str(exc)))
            continue
        with torch.no_grad():
            spec = analyse(wave, cfg, device)
        row = len(keep)
        mel[row] = spec.log_mel.cpu().numpy()
        mag[row] = spec.log_mag.cpu().numpy().astype(np.float16)
        keep.append(i)
        report(task, "features", i + 1, len(ds), path.name)
    if not keep:
        raise DatasetError(f"{ds.root}: none of the {len(ds)} files could be read")
    del mel, mag
    # shrink to the readable rows, then publish: done.json, written last, says it is whole
    for name in ("log_mel", "log_mag"):
        rows = np.load(folder / f"{name}.tmp.npy", mmap_mode="r")[: len(keep)]
        atomic.write_atomically(folder / f"{name}.npy",
                                lambda tmp, rows=rows: np.save(tmp, np.ascontiguousarray(rows)))
        del rows
        (folder / f"{name}.tmp.npy").unlink()
    atomic.write_json(done, {"keep": keep, "skipped": skipped}, indent=None)
    return compute_features(ds, cfg, clip_seconds, cache_dir, task, device)
