"""Front-end features of a whole dataset, computed once and kept on disk.

Every clip is decoded, made mono at the bundle's rate, cut or zero-padded to a fixed
length, and analysed once. The cache key covers the files (path, size, mtime) and the
front-end settings, so a changed file or setting recomputes, and nothing else does.
Unreadable files are skipped and listed, not fatal.

Shards: a cache folder holds the features of a list of files, keyed by that list. One
process makes one folder for the whole dataset (``features/<key>``). Under torchrun each
rank computes its contiguous block of the clips (``distributed.block``) into the folder
of that block's files, all ranks meet at one barrier, and then every rank opens all the
blocks' folders as one ``Features`` whose arrays are lazy row-concatenating views
(trainer/row_concat.py). A changed file recomputes only its block; a run of another
world size makes other blocks (and reuses a whole-dataset cache when one is there).
This assumes that every rank sees the same cache folder: a shared file system.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
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
from trainer import distributed as D
from trainer.datasets import Dataset, DatasetError
from trainer.row_concat import RowConcat

CACHE_VERSION = 2  # 2: frames padded to whole hops (T = 432 for 5 s)


@dataclass
class Features:
    log_mel: np.ndarray | RowConcat  # (N, M, T) float32, memory-mapped
    log_mag: np.ndarray | RowConcat  # (N, F, T) float16, memory-mapped
    keep: np.ndarray  # indices into the dataset of the clips that were readable
    skipped: list[tuple[str, str]]  # (file, reason)
    folders: list[Path] = field(default_factory=list)  # one per shard, in row order

    @property
    def folder(self) -> Path:
        """The cache's folder (its first shard's, when sharded)."""
        return self.folders[0]


def default_cache_dir() -> Path:
    return Path(os.environ.get("L2I_CACHE", platformdirs.user_cache_dir("l2i-desktop")))


def fix_length(wave: np.ndarray, n: int) -> np.ndarray:
    if len(wave) >= n:
        return wave[:n]
    return np.pad(wave, (0, n - len(wave)))


def _key(paths: list[Path], cfg: FrontEndConfig, clip_seconds: float) -> str:
    """The key of a folder of these files' features (the whole dataset's when unsharded:
    the same key as before shards existed)."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, cfg.to_dict(), clip_seconds]).encode())
    for p in paths:
        st = clip_stat(p)  # a clip inside a tar shard: the shard's
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def compute_features(ds: Dataset, cfg: FrontEndConfig, clip_seconds: float = 5.0,
                     cache_dir: Path | None = None, task: TaskState | None = None,
                     device: str = "cpu", ctx: D.Context | None = None) -> Features:
    """The dataset's features. With a distributed ``ctx`` this is a collective call:
    every rank computes its block, then all wait for all and open every block."""
    ctx = ctx or D.Context()
    root = (cache_dir or default_cache_dir()) / "features"
    paths = list(ds.paths)
    whole = root / _key(paths, cfg, clip_seconds)
    if not ctx.distributed or _everyone_sees(ctx, (whole / "done.json").is_file()):
        shards = [_shard(whole, paths, 0, cfg, clip_seconds, task, device)]
    else:
        blocks = [D.block(ctx, len(paths), r) for r in range(ctx.world_size)]
        mine = blocks[ctx.rank]
        if mine[1] > mine[0]:  # a rank with no clips (more ranks than clips) only waits
            _shard(_folder(root, paths, mine, cfg, clip_seconds), paths[mine[0]:mine[1]],
                   mine[0], cfg, clip_seconds, task, device)
        D.barrier(ctx)
        shards = [_shard(_folder(root, paths, b, cfg, clip_seconds), paths[b[0]:b[1]], b[0],
                         cfg, clip_seconds, None, device) for b in blocks if b[1] > b[0]]
    if not any(len(s.keep) for s in shards):
        raise DatasetError(f"{ds.root}: none of the {len(ds)} files could be read")
    if len(shards) == 1:
        return shards[0]
    return Features(RowConcat([s.log_mel for s in shards]),
                    RowConcat([s.log_mag for s in shards]),
                    np.concatenate([s.keep for s in shards]),
                    [x for s in shards for x in s.skipped], [s.folder for s in shards])


def _everyone_sees(ctx: D.Context, seen: bool) -> bool:
    """True on every rank when every rank saw it: all ranks take the same branch (one
    could see a whole-dataset cache that another process finished a moment later)."""
    flag = torch.tensor([int(seen)], device=ctx.device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
    return bool(flag.item())


def _folder(root: Path, paths: list[Path], block: tuple[int, int], cfg: FrontEndConfig,
            clip_seconds: float) -> Path:
    return root / _key(paths[block[0]:block[1]], cfg, clip_seconds)


def _shard(folder: Path, paths: list[Path], first: int, cfg: FrontEndConfig,
           clip_seconds: float, task: TaskState | None, device: str) -> Features:
    """The features of ``paths`` (dataset rows ``first``...) in ``folder``, computed
    there unless they already are; ``keep`` counts from ``first``."""
    done = folder / "done.json"
    if done.is_file():
        meta = json.loads(done.read_text())
        return Features(np.load(folder / "log_mel.npy", mmap_mode="r"),
                        np.load(folder / "log_mag.npy", mmap_mode="r"),
                        first + np.array(meta["keep"], dtype=int),
                        [tuple(s) for s in meta["skipped"]], [folder])
    folder.mkdir(parents=True, exist_ok=True)
    n_samples = int(round(clip_seconds * cfg.sample_rate))
    n_frames = cfg.n_frames(n_samples)
    mel = np.lib.format.open_memmap(folder / "log_mel.tmp.npy", "w+", np.float32,
                                    (len(paths), cfg.n_mels, n_frames))
    mag = np.lib.format.open_memmap(folder / "log_mag.tmp.npy", "w+", np.float16,
                                    (len(paths), cfg.n_freqs, n_frames))
    keep, skipped = [], []
    for i, path in enumerate(paths):
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
        report(task, "features", i + 1, len(paths), path.name)
    del mel, mag
    # shrink to the readable rows, then publish: done.json, written last, says it is whole
    for name in ("log_mel", "log_mag"):
        rows = np.load(folder / f"{name}.tmp.npy", mmap_mode="r")[: len(keep)]
        atomic.write_atomically(folder / f"{name}.npy",
                                lambda tmp, rows=rows: np.save(tmp, np.ascontiguousarray(rows)))
        del rows
        (folder / f"{name}.tmp.npy").unlink()
    atomic.write_json(done, {"keep": keep, "skipped": skipped}, indent=None)
    return _shard(folder, paths, first, cfg, clip_seconds, None, device)
