"""Learn the NMF dictionary W from the frames of the training clips."""

from __future__ import annotations

import numpy as np

from engine.dsp import nmf
from engine.runtime.progress import TaskState


class FrameChunks:
    """X_train as a lazy sequence of F x n float32 chunks over a (N, F, T) feature array.

    A chunk is read from the (memory-mapped) cache only when it is asked for, so the
    whole training matrix never has to be in memory at once. ``max_frames`` keeps a
    seeded uniform random subset of the frames, for very large datasets.
    """

    def __init__(self, log_mag: np.ndarray, rows: np.ndarray, chunk_frames: int = 16384,
                 max_frames: int | None = None, seed: int = 0) -> None:
        self.log_mag = log_mag
        rows = np.asarray(rows, dtype=int)
        n_frames = log_mag.shape[-1]
        total = len(rows) * n_frames
        keep_flat = None
        if max_frames is not None and total > max_frames:
            keep_flat = np.sort(np.random.default_rng(seed).choice(total, max_frames,
                                                                   replace=False))
        # per clip: the frame indices kept
        self.frames: list[np.ndarray] = []
        for i in range(len(rows)):
            if keep_flat is None:
                self.frames.append(np.arange(n_frames))
            else:
                lo, hi = np.searchsorted(keep_flat, [i * n_frames, (i + 1) * n_frames])
                self.frames.append(keep_flat[lo:hi] - i * n_frames)
        self.groups: list[list[int]] = []
        current, count = [], 0
        for i, f in enumerate(self.frames):
            current.append(i)
            count += len(f)
            if count >= chunk_frames:
                self.groups.append(current)
                current, count = [], 0
        if current:
            self.groups.append(current)
        self.rows = rows
        self.widths = [sum(len(self.frames[i]) for i in g) for g in self.groups]
        keep = [j for j, w in enumerate(self.widths) if w > 0]
        self.groups = [self.groups[j] for j in keep]
        self.widths = [self.widths[j] for j in keep]

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, j: int) -> np.ndarray:
        parts = [np.asarray(self.log_mag[self.rows[i]], dtype=np.float32)[:, self.frames[i]]
                 for i in self.groups[j]]
        return np.concatenate(parts, axis=1)


def learn_dictionary(log_mag: np.ndarray, rows: np.ndarray, cfg: nmf.NMFConfig,
                     device: str = "cpu", max_frames: int | None = None,
                     task: TaskState | None = None) -> nmf.NMFResult:
    chunks = FrameChunks(log_mag, rows, max_frames=max_frames, seed=cfg.seed)
    return nmf.fit(chunks, cfg, device=device, task=task)
