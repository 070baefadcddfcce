"""Learn the NMF dictionary W from the frames of the training clips."""

from __future__ import annotations

import numpy as np

from engine import nmf
from engine.progress import TaskState, check


def training_frames(log_mag: np.ndarray, rows: np.ndarray, chunk_frames: int = 16384,
                    max_frames: int | None = None, seed: int = 0,
                    task: TaskState | None = None) -> list[np.ndarray]:
    """The training matrix X_train as F x n float32 chunks of about ``chunk_frames``.

    ``max_frames`` subsamples whole clips' frames uniformly at random (seeded) so that
    a very large dataset still gives a dictionary in bounded time.
    """
    rows = np.asarray(rows)
    n_frames = log_mag.shape[-1]
    keep = None
    total = len(rows) * n_frames
    if max_frames is not None and total > max_frames:
        keep = np.sort(np.random.default_rng(seed).choice(total, max_frames, replace=False))
    chunks, pending, pending_n = [], [], 0
    for i, r in enumerate(rows):
        check(task)
        X = np.asarray(log_mag[r], dtype=np.float32)
        if keep is not None:
            lo, hi = np.searchsorted(keep, [i * n_frames, (i + 1) * n_frames])
            X = X[:, keep[lo:hi] - i * n_frames]
        pending.append(X)
        pending_n += X.shape[1]
        if pending_n >= chunk_frames:
            chunks.append(np.concatenate(pending, axis=1))
            pending, pending_n = [], 0
    if pending:
        chunks.append(np.concatenate(pending, axis=1))
    return [c for c in chunks if c.shape[1]]


def learn_dictionary(log_mag: np.ndarray, rows: np.ndarray, cfg: nmf.NMFConfig,
                     device: str = "cpu", max_frames: int | None = None,
                     task: TaskState | None = None) -> nmf.NMFResult:
    chunks = training_frames(log_mag, rows, max_frames=max_frames, seed=cfg.seed, task=task)
    return nmf.fit(chunks, cfg, device=device, task=task)
