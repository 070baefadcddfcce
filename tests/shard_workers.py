"""Worker processes for tests/test_sharded_features.py: each joins a gloo process group
as torchrun would set it up (environment variables), runs one job and writes its result
to an .npz or .pt file for the test to compare with a single process's."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(job, world: int, *args) -> None:
    """Run ``job(ctx, *args)`` on ``world`` processes (the ``spawn`` start method)."""
    mp.spawn(_enter, args=(world, free_port(), job, args), nprocs=world, join=True)


def _enter(rank: int, world: int, port: int, job, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from trainer import distributed as D

    ctx = D.setup("cpu")
    try:
        job(ctx, *args)
    finally:
        D.cleanup(ctx)


def features_job(ctx, datasets: list[str], cache: str, out: str, seconds: float,
                 touch: str | None = None) -> None:
    """Every rank opens each dataset's features and writes what it reads; with ``touch``,
    rank 0 then changes that file's mtime and all compute once more."""
    from engine.dsp.features import FrontEndConfig
    from trainer import distributed as D
    from trainer.datasets import load_dataset
    from trainer.features_cache import compute_features

    for name in datasets:
        ds = load_dataset(name)
        rounds = 2 if touch else 1
        for r in range(rounds):
            f = compute_features(ds, FrontEndConfig(), seconds, Path(cache), ctx=ctx)
            n = len(f.log_mel)
            order = np.random.default_rng(ctx.rank).permutation(n)
            np.savez(Path(out) / f"{Path(name).name}-{r}-{ctx.rank}.npz",
                     log_mel=np.asarray(f.log_mel), log_mag=np.asarray(f.log_mag),
                     keep=f.keep, skipped=np.array([s[0] for s in f.skipped] + [""]),
                     folders=np.array([str(p) for p in f.folders]), order=order,
                     mel_gathered=f.log_mel[order], mag_span=f.log_mag[1:n - 1],
                     mag_row=f.log_mag[n - 1], mag_cut=f.log_mag[:, 3, 2:9],
                     mel_step=f.log_mel[::2])
            if touch and r == 0:
                D.barrier(ctx)
                if ctx.is_main:
                    st = os.stat(touch)
                    os.utime(touch, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
                D.barrier(ctx)


def interpreter_job(ctx, a: dict, out: str) -> None:
    """Train the interpreter that ``a`` (train_interpreter's arguments) describes and write
    this rank's weights and record."""
    from trainer.train_interpreter import train_interpreter

    interp, info = train_interpreter(a["classifier"], a["layers"], a["W"], a["log_mag"],
                                     a["log_mel"], a["labels"], a["n_classes"], False,
                                     a["cfg"], ctx, frontend=a.get("frontend"),
                                     waves=a.get("waves"))
    torch.save({"state": interp.state_dict(), "info": info},
               Path(out) / f"interpreter-{ctx.rank}.pt")


def classifier_job(ctx, mel: np.ndarray, labels: np.ndarray, cfg, out: str) -> None:
    from trainer.train_classifier import train_classifier

    model, info = train_classifier(mel, labels, 2, False, cfg, ctx)
    torch.save({"state": model.state_dict(), "info": info},
               Path(out) / f"classifier-{ctx.rank}.pt")
