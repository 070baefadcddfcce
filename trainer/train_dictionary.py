"""Learn the NMF dictionary W from the frames of the training clips.

Under torchrun every process learns from its own contiguous block of the training clips
(``distributed.block``) and the W update's sums are added up over the processes
(engine.dsp.nmf's ``Shard``): the dictionary is the one a single process learns.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.dsp import nmf, nmf_online
from engine.runtime.progress import TaskState
from trainer import distributed as D


class FrameChunks:
    """X_train as a lazy sequence of F x n float32 chunks over a (N, F, T) feature array.

    A chunk is read from the (memory-mapped) cache only when it is asked for, so the
    whole training matrix never has to be in memory at once. ``max_frames`` keeps a
    seeded uniform random subset of the frames, for very large datasets.

    ``part`` (lo, hi): only the clips rows[lo:hi] (one process's block), with the frames
    ``max_frames`` keeps among all the rows; ``offset`` is then the position of the part's
    first frame among all kept frames.
    """

    def __init__(self, log_mag: np.ndarray, rows: np.ndarray, chunk_frames: int = 16384,
                 max_frames: int | None = None, seed: int = 0,
                 part: tuple[int, int] | None = None) -> None:
        self.log_mag = log_mag
        all_rows = np.asarray(rows, dtype=int)
        lo, hi = part or (0, len(all_rows))
        n_frames = log_mag.shape[-1]
        total = len(all_rows) * n_frames
        keep_flat = None
        if max_frames is not None and total > max_frames:
            keep_flat = np.sort(np.random.default_rng(seed).choice(total, max_frames,
                                                                   replace=False))
            self.offset = int(np.searchsorted(keep_flat, lo * n_frames))
            keep_flat = keep_flat[self.offset:np.searchsorted(keep_flat, hi * n_frames)] \
                - lo * n_frames
        else:
            self.offset = lo * n_frames
        rows = all_rows[lo:hi]
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
                     task: TaskState | None = None, ctx: D.Context | None = None
                     ) -> tuple[nmf.NMFResult, list[int]]:
    """The dictionary, and how many frames each process learnt from (summing to the
    frames one process uses)."""
    ctx = ctx or D.Context()
    part = D.block(ctx, len(rows))
    chunks = FrameChunks(log_mag, rows, max_frames=max_frames, seed=cfg.seed, part=part)
    counts = torch.zeros(ctx.world_size, dtype=torch.float64)
    counts[ctx.rank] = sum(chunks.widths)
    reduce = _all_reduce(ctx)
    reduce(counts)
    per_rank = [int(c) for c in counts]
    shard = nmf.Shard(chunks.offset, sum(per_rank), reduce, ctx.world_size, ctx.rank)
    if cfg.online_batch:
        return nmf_online.fit_online(chunks, cfg, device, task, shard), per_rank
    return nmf.fit(chunks, cfg, device=device, task=task, shard=shard), per_rank


def _all_reduce(ctx: D.Context):
    """A summing all-reduce for CPU tensors (NCCL sums on the GPU and copies back)."""
    if not ctx.distributed:
        return lambda t: None
    import torch.distributed as dist

    def reduce(t: torch.Tensor) -> None:
        if ctx.device.type == "cuda":
            on_gpu = t.to(ctx.device)
            dist.all_reduce(on_gpu)
            t.copy_(on_gpu.cpu())
        else:
            dist.all_reduce(t)
    return reduce
