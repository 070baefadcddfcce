"""What each process of a multi-process test runs (torch.multiprocessing.spawn imports
this module in the children). Results go back as .npy/.json files in ``out``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from engine.dsp import nmf
from trainer import distributed as D


def join(rank: int, world: int, store: Path) -> D.Context:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    return D.Context(rank=rank, world_size=world)


def fit_frames(rank: int, world: int, store: str, X: np.ndarray, cfg: dict, chunk: int,
               out: str) -> None:
    """nmf.fit on this rank's contiguous block of the columns of X, cut in chunks."""
    ctx = join(rank, world, Path(store))
    lo, hi = D.block(ctx, X.shape[1])
    mine = [X[:, a:min(a + chunk, hi)] for a in range(lo, hi, chunk)]

    def reduce(t: torch.Tensor) -> None:
        dist.all_reduce(t)
    res = nmf.fit(mine, nmf.NMFConfig(**cfg), shard=nmf.Shard(lo, X.shape[1], reduce, world, rank))
    if rank == 0:
        np.save(Path(out) / "W.npy", res.W)
        Path(out, "objective.json").write_text(json.dumps(res.objective))
    else:  # every process holds the same W
        np.save(Path(out) / f"W{rank}.npy", res.W)
    dist.destroy_process_group()


def learn_from_cache(rank: int, world: int, store: str, log_mag: str, rows: list[int],
                     cfg: dict, max_frames: int | None, out: str) -> None:
    """trainer.train_dictionary.learn_dictionary as the pipeline calls it under torchrun."""
    from trainer.train_dictionary import learn_dictionary

    ctx = join(rank, world, Path(store))
    res, per_rank = learn_dictionary(np.load(log_mag, mmap_mode="r"), np.array(rows),
                                     nmf.NMFConfig(**cfg), max_frames=max_frames, ctx=ctx)
    if rank == 0:
        np.save(Path(out) / "W.npy", res.W)
        Path(out, "run.json").write_text(json.dumps({"objective": res.objective,
                                                     "per_rank": per_rank,
                                                     "pid": os.getpid()}))
    dist.destroy_process_group()


def fit_online_frames(rank: int, world: int, store: str, X: np.ndarray, cfg: dict,
                      out: str) -> None:
    """engine.dsp.nmf_online on this rank's block of the columns of X, in two chunks."""
    from engine.dsp import nmf_online

    ctx = join(rank, world, Path(store))
    lo, hi = D.block(ctx, X.shape[1])
    mid = (lo + hi) // 2
    mine = [c for c in (X[:, lo:mid], X[:, mid:hi]) if c.shape[1]]

    def reduce(t: torch.Tensor) -> None:
        dist.all_reduce(t)
    res = nmf_online.fit_online(mine, nmf.NMFConfig(**cfg),
                                shard=nmf.Shard(lo, X.shape[1], reduce, world, rank))
    np.save(Path(out) / f"W{rank}.npy", res.W)
    dist.destroy_process_group()
